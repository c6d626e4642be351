/**
 * workers/attention-capture.ts on the CPU (WASM-path) code, with onnxruntime-node: ONE session
 * from model + appended Q outputs, Q fetched only on captured steps, and the running sums equal
 * to the sum of the model's own softmax outputs (a generated UNet that exposes them) for the
 * conditional branch of a batched [uncond, cond] run, with an edited context (ctx·Mᵀ) as fed.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { indexModel } from '../../src/lib/onnx/index.ts';
import { AttentionCapture, readKeyWeights, unetWithQOutputs, type QTensor } from '../../workers/attention-capture.ts';
import { generateUnet } from '../../tools/sdgen/index.ts';

const LATENT = 16;
const D = 32;
const TOKENS = 77;

function lcg(n: number, seed: number, scale = 1): Float32Array {
  let x = (seed * 2654435761 + 12345) >>> 0;
  return Float32Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x / 2 ** 31 - 1) * scale;
  });
}

describe('AttentionCapture (CPU path)', () => {
  // float16: the model computes K, logits and softmax in half precision, we in float32 from its
  // half Q and half W_k: observed max |Δ| of the two-step sums 8e-7 (float32), 2.3e-3 (float16).
  it.each([['float32', 1e-5], ['float16', 5e-3]] as const)('%s: captures chosen steps from one session and matches the model softmax; levels default to DAAM', async (dtype, tolerance) => {
    const { model } = generateUnet({ size: 'tiny', seed: 4, dtype, exposeCrossAttentionProbs: true });
    const index = await indexModel(model);
    const { appended, names, sites } = unetWithQOutputs(index);
    expect(names).toHaveLength(16);
    const joined = new Uint8Array(model.length + appended.length); // the worker uses new Blob([model, appended])
    joined.set(model);
    joined.set(appended, model.length);
    const session = await ort.InferenceSession.create(joined);

    // An "edit" M (d×d) applied to the context, as the worker feeds it: ctx · Mᵀ.
    const M = lcg(D * D, 77, 0.2);
    for (let i = 0; i < D; i++) M[i * D + i] += 1;
    const raw = lcg(2 * TOKENS * D, 8);
    const fed = new Float32Array(raw.length);
    for (let r = 0; r < 2 * TOKENS; r++) for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) fed[r * D + i] += raw[r * D + j] * M[i * D + j];

    const capture = new AttentionCapture({
      sites, keyWeights: await readKeyWeights(sites, { model }), context: fed.subarray(TOKENS * D),
      latentHeight: LATENT, latentWidth: LATENT, steps: [0, 2],
    });
    const captured = sites.filter((s) => s.level! < 3);
    expect(capture.qOutputNames().sort()).toEqual(captured.map((s) => s.qTensor).sort());
    const probsName = (q: string) => `attn2_probs:${q.replace(/\/attn2\/to_q\/MatMul_output_0$/, '')}`;
    const expected = new Map(captured.map((s) => [s.name, new Float64Array(0)]));
    let disposed = 0;
    for (const step of [0, 1, 2]) {
      const feeds = {
        sample: new ort.Tensor('float32', lcg(2 * 4 * LATENT * LATENT, 50 + step), [2, 4, LATENT, LATENT]),
        timestep: new ort.Tensor('int64', BigInt64Array.from([BigInt(999 - 400 * step)]), [1]),
        encoder_hidden_states: new ort.Tensor('float32', fed, [2, TOKENS, D]),
      };
      const probs = captured.map((s) => probsName(s.qTensor));
      const fetches = capture.wants(step) ? ['out_sample', ...capture.qOutputNames(), ...probs] : ['out_sample'];
      const out = await session.run(feeds, fetches);
      expect(Object.keys(out).length).toBe(fetches.length);
      if (!capture.wants(step)) continue;
      for (const s of captured) {
        const p = out[probsName(s.qTensor)].data as Float32Array;
        const half = p.length / 2;
        const e = expected.get(s.name)!.length ? expected.get(s.name)! : new Float64Array(half);
        for (let i = 0; i < half; i++) e[i] += p[half + i];
        expected.set(s.name, e);
      }
      const tensors: Record<string, QTensor> = {};
      for (const n of capture.qOutputNames()) tensors[n] = { ...out[n], type: out[n].type, dims: out[n].dims, data: out[n].data, dispose: () => void disposed++ };
      await capture.accumulate(step, tensors, 1);
    }
    expect(disposed).toBe(2 * captured.length);
    const maps = await capture.result();
    expect(maps.steps).toEqual([0, 2]);
    expect(maps.layers.map((l) => l.name)).toEqual(captured.map((s) => s.name));
    for (const l of maps.layers) {
      const e = expected.get(l.name)!;
      let m = 0;
      for (let i = 0; i < e.length; i++) m = Math.max(m, Math.abs(l.sums[i] - e[i]));
      expect(m, l.name).toBeLessThan(tolerance);
    }
    expect(capture.byteLength()).toBe(maps.layers.reduce((a, l) => a + l.sums.byteLength, 0));
    const tm = await capture.tokenMaps({ tokens: [1, 2] });
    expect([tm.height, tm.width, tm.averaged, tm.steps]).toEqual([LATENT, LATENT, 15 * 8, 2]);
  });

  it('explains a Q tensor that was not fetched', async () => {
    const { model } = generateUnet({ size: 'tiny', seed: 4 });
    const { sites } = unetWithQOutputs(await indexModel(model));
    const capture = new AttentionCapture({ sites, keyWeights: await readKeyWeights(sites, { model }), context: new Float32Array(TOKENS * D), latentHeight: 8, latentWidth: 8 });
    await expect(capture.accumulate(0, {}, 0)).rejects.toThrow(/was not fetched; pass qOutputNames\(\) as fetches/);
  });
});
