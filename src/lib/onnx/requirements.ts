/**
 * What an indexed model needs from the inference engine, so the app can say so plainly before
 * trying to create a session.
 */
import { OnnxFormatError } from './errors.ts';
import { findPackedKvAttention, isPackedAttention } from './packed-kv.ts';
import { MS_DOMAIN, DataType } from './schema.ts';
import type { ModelIndex } from './types.ts';

export interface ExecutionRequirements {
  /**
   * False when no onnxruntime-web 1.30 engine runs the file as it is: MultiHeadAttention with
   * packed KV or packed QKV is refused by the WASM/CPU kernels ("Packed KV not implemented for
   * CPU") and by the WebGPU EP ("Packed KV not implemented for webgpu") alike.
   */
  runnable: boolean;
  /** True when every obstacle is packed KV: after `unpackPackedKv` the file runs on every engine. */
  unpackable: boolean;
  /** Why the file cannot run as is, in words for the user; null when any engine will do. */
  reason: string | null;
  /** The weights are float16: on WebGPU the adapter needs the `shader-f16` feature. */
  float16: boolean;
  /** com.microsoft contrib ops used (e.g. MultiHeadAttention), sorted. */
  contribOps: string[];
}

/**
 * Engine requirements of a model. Packed-KV attention (ORT's UNet fusion with packed KV) is
 * reported as not runnable but unpackable; packed QKV (self-attention) as not runnable, with
 * what to do instead.
 */
export function describeExecutionRequirements(index: ModelIndex): ExecutionRequirements {
  const g = index.graph;
  const contribOps = [...new Set(g.nodes.filter((n) => n.domain === MS_DOMAIN).map((n) => n.opType))].sort();
  const float16 = g.initializers.some((t) => t.dataType === DataType.FLOAT16);
  const base = { float16, contribOps };
  // MultiHeadAttention inputs: query, key, value. No value: K/V packed in `key`; no key either: Q/K/V packed in `query`.
  const packed = g.nodes.filter(isPackedAttention);
  if (!packed.length) return { ...base, runnable: true, unpackable: false, reason: null };
  const qkv = packed.filter((n) => !n.inputs[1]);
  const kv = packed.filter((n) => n.inputs[1]);
  const engines = 'which no onnxruntime-web engine (WASM or WebGPU) implements';
  if (qkv.length) {
    return {
      ...base,
      runnable: false,
      unpackable: false,
      reason:
        `${qkv.length} attention nodes use MultiHeadAttention with packed QKV (e.g. '${qkv[0].name || qkv[0].outputs[0]}'), ${engines}, and this app cannot unpack it: ` +
        `use an export optimised without packed QKV (onnxruntime's optimizer: --disable_packed_qkv) or the unoptimised export`,
    };
  }
  const example = kv.map((n) => g.nodes.find((p) => p.outputs.includes(n.inputs[1]))?.inputs[0] ?? n.inputs[1]);
  const named = example.find((n) => /MatMul_KV/.test(n)) ?? example[0];
  const what = `${kv.length} attention nodes use MultiHeadAttention with packed KV (e.g. '${named}'), ${engines}`;
  try {
    findPackedKvAttention(index);
  } catch (e) {
    if (!(e instanceof OnnxFormatError)) throw e;
    return { ...base, runnable: false, unpackable: false, reason: `${what}; they cannot be unpacked: ${e.message}` };
  }
  return { ...base, runnable: false, unpackable: true, reason: `${what}; unpackPackedKv rewrites them into separate K and V projections, which every engine runs` };
}
