/**
 * What an indexed model needs from the inference engine, so the app can say so plainly before
 * trying to create a session.
 */
import { MS_DOMAIN, DataType } from './schema.ts';
import type { ModelIndex } from './types.ts';

export interface ExecutionRequirements {
  /** True when only onnxruntime-web's WebGPU engine can run this file (CPU/WASM kernels refuse it). */
  needsWebGpu: boolean;
  /** Why, in words for the user; null when any engine will do. */
  reason: string | null;
  /** The weights are float16: on WebGPU the adapter needs the `shader-f16` feature. */
  float16: boolean;
  /** com.microsoft contrib ops used (e.g. MultiHeadAttention), sorted. */
  contribOps: string[];
}

/**
 * Engine requirements of a model: packed-KV (or packed-QKV) MultiHeadAttention runs only on
 * WebGPU, since ORT's CPU kernels (onnxruntime-node and the WASM engine) do not implement it.
 */
export function describeExecutionRequirements(index: ModelIndex): ExecutionRequirements {
  const g = index.graph;
  const contrib = [...new Set(g.nodes.filter((n) => n.domain === MS_DOMAIN).map((n) => n.opType))].sort();
  const mha = g.nodes.filter((n) => n.domain === MS_DOMAIN && n.opType === 'MultiHeadAttention');
  // MultiHeadAttention inputs: query, key, value. A missing value means K/V (or Q/K/V) are packed.
  const packed = mha.filter((n) => !n.inputs[2]);
  const packedNames = packed.flatMap((n) => n.inputs.slice(1, 2)).map((k) => g.nodes.find((p) => p.outputs.includes(k))?.inputs[0] ?? k);
  const float16 = g.initializers.some((t) => t.dataType === DataType.FLOAT16);
  if (!packed.length) return { needsWebGpu: false, reason: null, float16, contribOps: contrib };
  const kind = packed.some((n) => !n.inputs[1]) ? 'packed QKV' : 'packed KV';
  const example = packedNames.find((n) => /MatMul_KV/.test(n)) ?? packedNames[0] ?? packed[0].name;
  return {
    needsWebGpu: true,
    reason: `${packed.length} attention nodes use MultiHeadAttention with ${kind} (e.g. '${example}'), which ORT's CPU/WASM kernels do not implement; this file runs only on WebGPU`,
    float16,
    contribOps: contrib,
  };
}
