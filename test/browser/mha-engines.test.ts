/**
 * onnxruntime-web's com.microsoft MultiHeadAttention (the op fused SD exports use for every
 * attention) on its WASM and WebGPU engines, against a float64 reference: one node
 * (the app's probe model), Q [1, N, h·d], K and V [1, M, h·d], for SD 1.x's head sizes and the
 * tiny model's; and the worker's load-time probe, which must catch what this finds.
 */
import { describe, expect, it } from 'vitest';
import { useHarness } from './page-helpers.ts';
import { multiHeadAttentionModel } from '../../src/lib/onnx/mha-model.ts';
// The reference is checked against an independent head-split computation in
// test/unit/models-attention-check.test.ts.
import { multiHeadAttentionReference } from '../../src/lib/models/attention-check.ts';
import { randomValues } from '../unit/onnx-helpers.ts';

const harness = useHarness('ort');

/** [heads, head size, query length N, key length M]: SD 1.x's head sizes and the tiny model's. */
type Case = [heads: number, headSize: number, n: number, m: number];
const CASES: Case[] = [
  [2, 4, 64, 77], [2, 8, 64, 77], [2, 8, 16, 16], [2, 8, 31, 77], [2, 8, 32, 77], [2, 8, 32, 4],
  [8, 40, 64, 77], [8, 80, 16, 77], [8, 160, 16, 77], [8, 40, 33, 77], [2, 6, 32, 77], [2, 5, 40, 77],
];

/** Largest |engine − float64| for each case on one engine. */
async function errors(provider: 'wasm' | 'webgpu'): Promise<Map<Case, number>> {
  const out = new Map<Case, number>();
  for (const [heads, d, n, m] of CASES) {
    const c = heads * d;
    const q = randomValues(n * c, 1, 2), k = randomValues(m * c, 2, 2), v = randomValues(m * c, 3, 1);
    const ref = multiHeadAttentionReference(q, k, v, { heads, headSize: d, queries: n, keys: m });
    const feeds = { q: { data: Array.from(q), dims: [1, n, c] }, k: { data: Array.from(k), dims: [1, m, c] }, v: { data: Array.from(v), dims: [1, m, c] } };
    const got = await harness.page.evaluate(([b, p, f]) => (window as any).harness.runModel(b, p, f), [Array.from(multiHeadAttentionModel({ heads, headSize: d, queries: n, keys: m })), provider, feeds] as const)
      .catch((e: Error) => { throw new Error(`${e.message}\n${harness.log.join('\n')}`); }) as Record<string, number[]>;
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got['out']![i]! - ref[i]!));
    out.set([heads, d, n, m], worst);
  }
  return out;
}

const label = ([h, d, n, m]: Case) => `heads ${h} × ${d}, N ${n}, M ${m}`;

describe('MultiHeadAttention on both engines vs float64', () => {
  it('WASM equals the reference for every shape', async () => {
    for (const [c, err] of await errors('wasm')) expect(err, label(c)).toBeLessThan(1e-5);
  });

  it('WebGPU: wrong for head sizes divisible by 4 with N ≥ 32 (and M > 4) on a subgroup size of 4, exact elsewhere', async () => {
    const subgroup = await harness.page.evaluate(async () => ((await navigator.gpu.requestAdapter())!.info as any).subgroupMaxSize as number | undefined);
    for (const [c, err] of await errors('webgpu')) {
      const [, d, n, m] = c;
      const affected = d % 4 === 0 && n >= 32 && m > 4;
      // Written down as found on SwiftShader (subgroup size 4); if onnxruntime-web fixes it, this
      // fails and README's known issue and the load-time probe's message need updating.
      if (affected && subgroup !== undefined && subgroup < 16) expect(err, `${label(c)} (subgroup size ${subgroup})`).toBeGreaterThan(1e-2);
      else expect(err, label(c)).toBeLessThan(1e-5);
    }
  });

  it("the worker's load-time probe fails WebGPU here for SD's head shapes and passes WASM", async () => {
    const shapes = [40, 80, 160].map((headSize) => ({ heads: 8, headSize, queries: 64, keys: 77 }));
    const probe = (provider: string) => harness.page.evaluate(([p, s]) => (window as any).harness.probe(p, s), [provider, shapes] as const) as Promise<{ ok: boolean; maxError: number }[]>;
    const wasm = await probe('wasm');
    expect(wasm.map((c) => c.ok)).toEqual([true, true, true]);
    const gpu = await probe('webgpu');
    expect(gpu[0]).toMatchObject({ ok: false }); // stops at the first failing shape
    expect(gpu[0]!.maxError).toBeGreaterThan(1e-2);
  });
});
