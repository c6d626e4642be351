/**
 * The WGSL context map (shaders/context-map.ts) in Chromium on SwiftShader's WebGPU adapter,
 * against applyContextMap (src/lib/erasure) computed here in Node: every map kind, float32 and
 * float16 (packed halves, no shader-f16) in and out, written at a row offset of a shared buffer
 * as the batched guidance context is. Tolerance: 1e-5 relative for float32 (summation order),
 * one half-precision rounding (2⁻¹⁰ relative) when the output is float16.
 */
import { describe, expect, it } from 'vitest';
import { useHarness } from './page-helpers.ts';
import { applyContextMap, denseMap, identityMap, lowRankMap, type ContextMap } from '../../src/lib/erasure/index.ts';
import { floatToHalf, halfToFloat } from '../../src/lib/onnx/index.ts';
import { randomValues } from '../unit/onnx-helpers.ts';

const harness = useHarness('context-map');

const runOnGpu = (arg: unknown) =>
  harness.page.evaluate((a) => (window as any).harness.runContextMap(a), arg).catch((e: Error) => {
    throw new Error(`${e.message}\nconsole:\n${harness.log.join('\n')}`);
  }) as Promise<number[]>;

/** Plain-array factors of a map for the page. */
function factors(map: ContextMap): unknown {
  if (map.kind === 'identity') return { kind: 'identity', d: map.d };
  if (map.kind === 'dense') return { kind: 'dense', d: map.d, matrix: Array.from(map.matrix) };
  return { kind: 'lowrank', d: map.d, rank: map.rank, ut: Array.from(map.ut), vt: Array.from(map.vt) };
}

function maps(d: number): ContextMap[] {
  const lowRank = (k: number, seed: number) => lowRankMap(d, Float64Array.from(randomValues(k * d, seed, 0.2)), Float64Array.from(randomValues(k * d, seed + 1, 0.2)), { method: `rank ${k}` });
  const dense = Float64Array.from(randomValues(d * d, 9, 0.1));
  for (let i = 0; i < d; i++) dense[i * d + i] += 1;
  return [identityMap(d), lowRank(1, 3), lowRank(10, 5), denseMap(d, dense, { method: 'dense' })];
}

/** Largest |a − b| / max(1, |b|). */
function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return e;
}

describe('context map kernel vs applyContextMap', () => {
  const formats = [['f32', 'f32'], ['f16', 'f16'], ['f16', 'f32'], ['f32', 'f16']] as const;
  for (const [xFormat, outFormat] of formats) {
    it(`${xFormat} in → ${outFormat} out, identity / rank 1 / rank 10 / dense, written as the second branch`, async () => {
      const [d, rows] = [16, 5];
      const raw = randomValues(rows * d, 1, 2);
      // The values the kernel reads: float16 inputs are rounded first, as the text encoder gives them.
      const xBits = xFormat === 'f16' ? Array.from(raw, (v) => floatToHalf(v)) : null;
      const x = xBits ? Float32Array.from(xBits, halfToFloat) : raw;
      for (const map of maps(d)) {
        const expected = applyContextMap(map, x, [1, rows, d]);
        const out = await runOnGpu({ map: factors(map), x: xBits ?? Array.from(x), xFormat, rows, outFormat, outRows: 2 * rows, outOffset: rows * d });
        const values = outFormat === 'f16' ? out.map(halfToFloat) : out;
        expect(values.slice(0, rows * d).every((v) => v === 0), `${map.provenance.method}: rows before the offset untouched`).toBe(true);
        const err = maxRelErr(values.slice(rows * d), expected);
        expect(err, map.provenance.method).toBeLessThan(outFormat === 'f16' ? 2 ** -10 : 1e-5);
        if (map.kind !== 'identity') expect(maxRelErr(values.slice(rows * d), x), `${map.provenance.method} changes the context`).toBeGreaterThan(1e-2);
      }
    });
  }

  it('at SD 1.x size: [77, 768], rank 10, f32', async () => {
    const [d, rows] = [768, 77];
    const x = randomValues(rows * d, 2, 1);
    const map = maps(d)[2]!;
    const out = await runOnGpu({ map: factors(map), x: Array.from(x), xFormat: 'f32', rows, outFormat: 'f32', outRows: rows, outOffset: 0 });
    expect(maxRelErr(out, applyContextMap(map, x, [1, rows, d]))).toBeLessThan(1e-5);
  });

  it('refuses an odd width and an odd offset with the reason', async () => {
    await expect(runOnGpu({ map: { kind: 'identity', d: 3 }, x: [1, 2, 3], xFormat: 'f32', rows: 1, outFormat: 'f32', outRows: 1, outOffset: 0 })).rejects.toThrow(/context width 3 is odd/);
    await expect(runOnGpu({ map: { kind: 'identity', d: 4 }, x: [1, 2, 3, 4], xFormat: 'f32', rows: 1, outFormat: 'f32', outRows: 2, outOffset: 1 })).rejects.toThrow(/must be even/);
  });
});
