/**
 * Harness for test/browser/mha-engines.test.ts: one small ONNX model run on onnxruntime-web's
 * WASM or WebGPU engine (the build the app's worker uses on WebGPU, which carries both), float32
 * inputs and outputs as plain arrays; and the worker's MultiHeadAttention probe.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { checkMultiHeadAttention } from '../../../workers/mha-probe.ts';
import type { AttentionProbeShape } from '../../../src/lib/onnx/mha-model.ts';
import type { Ort } from '../../../workers/ort-runtime.ts';

ort.env.wasm.numThreads = 1;

/** Runs `model` once on `provider`; returns every output as a plain array. */
async function runModel(model: number[], provider: 'wasm' | 'webgpu', feeds: Record<string, { data: number[]; dims: number[] }>): Promise<Record<string, number[]>> {
  const session = await ort.InferenceSession.create(Uint8Array.from(model), { executionProviders: [provider] });
  try {
    const inputs = Object.fromEntries(Object.entries(feeds).map(([n, f]) => [n, new ort.Tensor('float32', Float32Array.from(f.data), f.dims)]));
    const out = await session.run(inputs);
    const result: Record<string, number[]> = {};
    for (const [n, t] of Object.entries(out)) result[n] = Array.from((await t.getData()) as Float32Array);
    return result;
  } finally {
    await session.release();
  }
}

/** The worker's load-time check of MultiHeadAttention on one engine. */
function probe(provider: 'wasm' | 'webgpu', shapes: AttentionProbeShape[]) {
  return checkMultiHeadAttention(ort as unknown as Ort, provider, shapes);
}

(window as unknown as { harness: object }).harness = { runModel, probe };
(window as unknown as { harnessReady: boolean }).harnessReady = true;
