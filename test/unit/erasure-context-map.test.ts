import { describe, expect, it } from 'vitest';
import {
  applyContextMap, composeAll, composeContextMaps, denseMap, denseMatrix, identityMap, lowRankMap, type ContextMap,
} from '../../src/lib/erasure/context-map.ts';
import { base64ToBytes, bytesToBase64, deserializeContextMap, serializeContextMap } from '../../src/lib/erasure/context-map-json.ts';
import { eye, fromFlat, mul, randMat, randVec, relErr, rng, toFlat, tr } from './erasure-helpers.ts';

const d = 10;
function randomLowRank(k: number, seed: number, name = 'lr'): ContextMap {
  const r = rng(seed);
  return lowRankMap(d, randVec(k * d, r, 0.3), randVec(k * d, r, 0.3), { method: name });
}
function randomDense(seed: number): ContextMap {
  const r = rng(seed);
  const m = randMat(d, d, r).map((row, i) => row.map((v, j) => 0.2 * v + (i === j ? 1 : 0)));
  return denseMap(d, toFlat(m), { method: 'dense' });
}
/** Naive x·Mᵀ over token rows. */
function naiveApply(M: number[][], x: Float32Array, rows: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) for (let i = 0; i < d; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[r * d + j] * M[i][j];
    y[r * d + i] = s;
  }
  return y;
}

describe('context maps', () => {
  const x = Float32Array.from(randVec(2 * 3 * d, rng(1)));
  it('low-rank I + U·Vᵀ materialises to the naive sum of outer products', () => {
    const m = randomLowRank(3, 2) as Extract<ContextMap, { kind: 'lowrank' }>;
    const U = tr(fromFlat(m.ut, 3, d)), V = tr(fromFlat(m.vt, 3, d));
    const ref = mul(U, tr(V)).map((row, i) => row.map((v, j) => v + (i === j ? 1 : 0)));
    expect(relErr(denseMatrix(m), toFlat(ref))).toBeLessThan(1e-14);
  });
  it('applyContextMap is x·Mᵀ on every token, for all three kinds', () => {
    // 6 rows: one four-row block and two single rows in both the low-rank and dense kernels.
    for (const m of [identityMap(d), randomLowRank(1, 3), randomLowRank(2, 3), randomLowRank(10, 14), randomDense(4)]) {
      const y = applyContextMap(m, x, [2, 3, d]);
      expect(y).toBeInstanceOf(Float32Array);
      expect(relErr(y, naiveApply(fromFlat(denseMatrix(m), d, d), x, 6))).toBeLessThan(1e-6);
    }
  });
  it('applyContextMap rejects wrong widths and sizes', () => {
    expect(() => applyContextMap(identityMap(d), x, [2, 3, 8])).toThrow(/context width is 8 but the map is 10×10/);
    expect(() => applyContextMap(identityMap(d), x, [1, 3, d])).toThrow(/x has 60 values, dims \[1, 3, 10\] need 30/);
  });
  it('compose(first, second) = first·second, for every pair of kinds', () => {
    const maps = [identityMap(d), randomLowRank(2, 5), randomLowRank(1, 6), randomDense(7)];
    for (const a of maps) for (const b of maps) {
      const c = composeContextMaps(a, b);
      const ref = mul(fromFlat(denseMatrix(a), d, d), fromFlat(denseMatrix(b), d, d));
      expect(relErr(denseMatrix(c), toFlat(ref))).toBeLessThan(1e-13);
      expect(c.provenance.method).toBe('compose');
    }
    expect(composeContextMaps(randomLowRank(2, 5), randomLowRank(1, 6)).kind).toBe('lowrank');
    expect(composeContextMaps(randomLowRank(3, 5), randomLowRank(3, 6)).kind).toBe('dense'); // rank 6 > d/2
  });
  it('order: editing W·M1 then ·M2 feeds the context x·(M1·M2)ᵀ = apply(M1, apply(M2, x))', () => {
    const m1 = randomLowRank(2, 8), m2 = randomDense(9);
    const both = applyContextMap(composeContextMaps(m1, m2), x, [2, 3, d]);
    const nested = applyContextMap(m1, applyContextMap(m2, x, [2, 3, d]), [2, 3, d]);
    expect(relErr(both, nested)).toBeLessThan(1e-5);
    const wrong = applyContextMap(m2, applyContextMap(m1, x, [2, 3, d]), [2, 3, d]);
    expect(relErr(both, wrong)).toBeGreaterThan(1e-3);
    const w = randMat(4, d, rng(10));
    const wm1m2 = mul(mul(w, fromFlat(denseMatrix(m1), d, d)), fromFlat(denseMatrix(m2), d, d));
    expect(relErr(toFlat(mul(w, fromFlat(denseMatrix(composeAll([m1, m2])), d, d))), toFlat(wm1m2))).toBeLessThan(1e-13);
  });
  it('rejects mismatched widths and malformed factors', () => {
    expect(() => composeContextMaps(identityMap(4), identityMap(5))).toThrow(/widths differ \(4 vs 5\)/);
    expect(() => lowRankMap(d, new Float64Array(10), new Float64Array(20), { method: 'x' })).toThrow(/U and V must both be k×10/);
    expect(() => denseMap(d, new Float64Array(5), { method: 'x' })).toThrow(/expected d×d = 100/);
    expect(() => denseMap(2, Float64Array.of(1, NaN, 0, 1), { method: 'x' })).toThrow(/non-finite value \(NaN\) at index 1/);
    expect(() => identityMap(0)).toThrow(/positive integer/);
    expect(toFlat(eye(2))).toEqual(denseMatrix(identityMap(2)));
  });
});

describe('context map JSON', () => {
  it('base64 codec matches the platform encoder', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 300]) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 255);
      const s = bytesToBase64(b);
      expect(s).toBe(btoa(String.fromCharCode(...b)));
      expect(Array.from(base64ToBytes(s))).toEqual(Array.from(b));
    }
  });
  it('round trips every kind exactly in float64 and to float32 precision in float32', () => {
    for (const m of [identityMap(d, { method: 'identity', params: { a: 1 } }), randomLowRank(2, 11), randomDense(12)]) {
      const back = deserializeContextMap(serializeContextMap(m));
      expect(back.kind).toBe(m.kind);
      expect(back.provenance).toEqual(m.provenance);
      expect(denseMatrix(back)).toEqual(denseMatrix(m));
      const back32 = deserializeContextMap(serializeContextMap(m, 'float32'));
      expect(relErr(denseMatrix(back32), denseMatrix(m))).toBeLessThan(1e-6);
    }
  });
  it('malformed JSON gives errors naming the problem', () => {
    const good = JSON.parse(serializeContextMap(randomLowRank(1, 13)));
    const bad = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch });
    expect(() => deserializeContextMap('{nope')).toThrow(/not valid JSON/);
    expect(() => deserializeContextMap('[]')).toThrow(/top level must be an object/);
    expect(() => deserializeContextMap(bad({ format: 'other' }))).toThrow(/"format" must be "erasure-lab\/context-map"/);
    expect(() => deserializeContextMap(bad({ version: 2 }))).toThrow(/unsupported version 2/);
    expect(() => deserializeContextMap(bad({ d: -3 }))).toThrow(/"d" must be a positive integer/);
    expect(() => deserializeContextMap(bad({ dtype: 'int8' }))).toThrow(/"dtype" must be "float32" or "float64"/);
    expect(() => deserializeContextMap(bad({ kind: 'sparse' }))).toThrow(/"kind" must be "identity", "dense" or "lowrank"/);
    expect(() => deserializeContextMap(bad({ rank: 2 }))).toThrow(/"ut" holds 80 bytes, expected 20 float64 values/);
    expect(() => deserializeContextMap(bad({ ut: 'abc' }))).toThrow(/base64 length 3 is not a multiple of 4/);
    expect(() => deserializeContextMap(bad({ vt: '!!!!' }))).toThrow(/invalid base64 character "!"/);
    expect(() => deserializeContextMap(bad({ provenance: null }))).toThrow(/"provenance" must be an object/);
    const nanBytes = new Uint8Array(8 * d);
    new DataView(nanBytes.buffer).setFloat64(0, NaN, true);
    expect(() => deserializeContextMap(bad({ ut: bytesToBase64(nanBytes) }))).toThrow(/"ut" contains a non-finite value at index 0/);
  });
});
