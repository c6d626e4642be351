import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { multiHeadAttentionModel } from '../../src/lib/onnx/mha-model.ts';
import { indexModel } from '../../src/lib/onnx/index.ts';
import {
  ATTENTION_TOLERANCE, attentionProbeInputs, attentionProbesFor, judgeAttention, multiHeadAttentionReference,
} from '../../src/lib/models/attention-check.ts';

/** The same attention written differently: explicit head split into [h][N][d] arrays, then merge. */
function splitHeadsAttention(q: Float32Array, k: Float32Array, v: Float32Array, h: number, d: number, n: number, m: number): number[] {
  const head = (x: Float32Array, rows: number, i: number) => Array.from({ length: rows }, (_, r) => Array.from(x.subarray(r * h * d + i * d, r * h * d + (i + 1) * d)));
  const out = new Array<number>(n * h * d).fill(0);
  for (let i = 0; i < h; i++) {
    const [Q, K, V] = [head(q, n, i), head(k, m, i), head(v, m, i)];
    Q.forEach((qr, r) => {
      const logits = K.map((kr) => kr.reduce((s, kv, f) => s + kv * qr[f]!, 0) / Math.sqrt(d));
      const e = logits.map((l) => Math.exp(l - Math.max(...logits)));
      const z = e.reduce((a, b) => a + b, 0);
      for (let f = 0; f < d; f++) out[r * h * d + i * d + f] = V.reduce((s, vr, j) => s + (e[j]! / z) * vr[f]!, 0);
    });
  }
  return out;
}

describe('the MultiHeadAttention probe', () => {
  const shape = { heads: 2, headSize: 8, queries: 64, keys: 77 };

  it('is a valid one-node com.microsoft model with the stated shapes', async () => {
    const index = await indexModel(multiHeadAttentionModel(shape));
    expect(index.graph.nodes.map((n) => [n.opType, n.domain])).toEqual([['MultiHeadAttention', 'com.microsoft']]);
    expect(index.graph.inputs.map((i) => [i.name, i.dims])).toEqual([['q', [1, 64, 16]], ['k', [1, 77, 16]], ['v', [1, 77, 16]]]);
    expect(() => multiHeadAttentionModel({ ...shape, heads: 0 })).toThrow(/heads must be a positive integer/);
  });

  it('the reference equals an independent head-split computation, and ORT-node CPU equals the reference', async () => {
    const { q, k, v } = attentionProbeInputs(shape);
    const ref = multiHeadAttentionReference(q, k, v, shape);
    const independent = splitHeadsAttention(q, k, v, 2, 8, 64, 77);
    expect(Math.max(...independent.map((x, i) => Math.abs(x - ref[i]!)))).toBeLessThan(1e-12);
    const session = await ort.InferenceSession.create(multiHeadAttentionModel(shape));
    const out = await session.run({ q: new ort.Tensor('float32', q, [1, 64, 16]), k: new ort.Tensor('float32', k, [1, 77, 16]), v: new ort.Tensor('float32', v, [1, 77, 16]) });
    const check = judgeAttention(shape, out['out']!.data as Float32Array, ref);
    expect(check.ok).toBe(true);
    expect(check.maxError).toBeLessThan(1e-5);
    // The probe is peaked enough to notice a wrong kernel: uniform weights would be far off.
    const uniform = new Float32Array(ref.length).fill(0);
    expect(judgeAttention(shape, uniform, ref).ok).toBe(false);
  });

  it('judges NaN as a failure and refuses a wrong length', () => {
    const ref = new Float64Array([0.5, 0.5]);
    expect(judgeAttention(shape, [0.5, NaN], ref)).toMatchObject({ ok: false, maxError: Infinity });
    expect(judgeAttention(shape, [0.5, 0.5 + ATTENTION_TOLERANCE / 2], ref).ok).toBe(true);
    expect(() => judgeAttention(shape, [1], ref)).toThrow(/returned 1 values; the probe expects 2/);
  });

  it('needs one probe per distinct fused head shape, none for plain exports', () => {
    const sites = [
      { heads: 8, headSize: 40, style: 'fused' }, { heads: 8, headSize: 40, style: 'fused' },
      { heads: 8, headSize: 80, style: 'fused-packed-kv' }, { heads: 8, headSize: 160, style: 'plain' },
    ];
    expect(attentionProbesFor(sites)).toEqual([
      { heads: 8, headSize: 40, queries: 64, keys: 77 }, { heads: 8, headSize: 80, queries: 64, keys: 77 },
    ]);
    expect(attentionProbesFor([{ heads: 8, headSize: 40, style: 'plain' }])).toEqual([]);
  });
});
