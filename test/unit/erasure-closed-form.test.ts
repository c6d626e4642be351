import { describe, expect, it } from 'vitest';
import { closedFormContextMap, rankOfEdit, type ClosedFormEdit } from '../../src/lib/erasure/closed-form.ts';
import { denseMatrix, mapVector } from '../../src/lib/erasure/context-map.ts';
import { materializeWeight } from '../../src/lib/erasure/weights.ts';
import {
  add, eye, gaussJordanInverse, jacobiEigenvalues, mul, outer, randMat, randVec, relErr, rng, textbookM, toFlat, tr,
} from './erasure-helpers.ts';

function randomEdit(d: number, k: number, p: number, seed: number, lambda = 0.5, es = 1, ps = 1): ClosedFormEdit {
  const r = rng(seed);
  return {
    d, lambda, eraseScale: es, preserveScale: ps,
    sources: Array.from({ length: k }, () => randVec(d, r)),
    targets: Array.from({ length: k }, () => randVec(d, r)),
    preserve: Array.from({ length: p }, () => randVec(d, r)),
  };
}

const prov = { method: 'test' };

describe('closed-form M', () => {
  it('Woodbury path (n < d) equals the textbook A·B⁻¹', () => {
    const e = randomEdit(20, 3, 4, 1, 0.5, 1.5, 0.7);
    const { map, diagnostics } = closedFormContextMap(e, prov);
    expect(diagnostics.solver).toBe('woodbury');
    expect(map.kind).toBe('lowrank');
    const ref = textbookM(20, 0.5, e.sources, e.targets, 1.5, e.preserve, 0.7);
    expect(relErr(denseMatrix(map), toFlat(ref))).toBeLessThan(1e-10);
  });

  it('dense path (n ≥ d) equals the textbook A·B⁻¹ and switches to a dense map when k > d/2', () => {
    const e = randomEdit(12, 9, 6, 2, 0.3, 1, 0.2);
    const { map, diagnostics } = closedFormContextMap(e, prov);
    expect(diagnostics.solver).toBe('dense');
    expect(map.kind).toBe('dense');
    expect(relErr(denseMatrix(map), toFlat(textbookM(12, 0.3, e.sources, e.targets, 1, e.preserve, 0.2)))).toBeLessThan(1e-10);
  });

  it('KEY PROPERTY: W·M equals the per-matrix UCE closed form for random projections', () => {
    const d = 16;
    const e = randomEdit(d, 2, 3, 3, 0.5, 1, 0.4);
    const { map } = closedFormContextMap(e, prov);
    const r = rng(4);
    for (const out of [8, 24]) {
      const W = randMat(out, d, r);
      // (λW + Σ s_e (W c*) cᵀ + Σ s_p (W c) cᵀ)(λI + Σ s_e c cᵀ + Σ s_p c cᵀ)⁻¹, W inside the sums as in the code.
      const Wc = (c: Float64Array) => W.map((row) => row.reduce((s, v, j) => s + v * c[j], 0));
      let mat1 = W.map((row) => row.map((v) => 0.5 * v));
      let mat2 = eye(d, 0.5);
      e.sources.forEach((c, i) => { mat1 = add(mat1, outer(Wc(e.targets[i]), c)); mat2 = add(mat2, outer(c, c)); });
      e.preserve.forEach((c) => { mat1 = add(mat1, outer(Wc(c), c, 0.4)); mat2 = add(mat2, outer(c, c, 0.4)); });
      const ref = mul(mat1, gaussJordanInverse(mat2));
      const torch = materializeWeight({ name: 'w', layout: 'torch', rows: out, cols: d, data: Float32Array.from(W.flat()) }, map);
      expect(relErr(torch, toFlat(ref))).toBeLessThan(1e-5);
      const onnx = materializeWeight({ name: 'w', layout: 'onnx', rows: d, cols: out, data: Float32Array.from(tr(W).flat()) }, map);
      expect(relErr(onnx, toFlat(tr(ref)))).toBeLessThan(1e-5);
    }
  });

  it('with small λ erased vectors reach their targets and preserved vectors stay', () => {
    const e = randomEdit(32, 3, 5, 5, 1e-6);
    const { map, diagnostics } = closedFormContextMap(e, prov);
    e.sources.forEach((c, i) => expect(relErr(mapVector(map, c), e.targets[i])).toBeLessThan(1e-4));
    e.preserve.forEach((c) => expect(relErr(mapVector(map, c), c)).toBeLessThan(1e-4));
    expect(diagnostics.summary.erasedMaxRemaining).toBeLessThan(1e-4);
    expect(diagnostics.summary.preservedMaxChange).toBeLessThan(1e-4);
    for (const x of diagnostics.erased) expect(x.cosineToTarget).toBeGreaterThan(0.9999);
  });

  it('with large λ the map stays near the identity (diagnostics report little movement)', () => {
    const e = randomEdit(32, 2, 0, 6, 1e4);
    const { diagnostics } = closedFormContextMap(e, prov);
    for (const x of diagnostics.erased) expect(x.remainingDistance).toBeGreaterThan(0.99);
  });

  it('rank of M − I equals the dimension spanned by the erased vectors that move', () => {
    const d = 24, r = rng(7);
    const s = [randVec(d, r), randVec(d, r), randVec(d, r)];
    const dep = s[0].map((v, j) => v - 0.5 * s[1][j]);
    const e: ClosedFormEdit = {
      d, lambda: 0.5, eraseScale: 1, preserveScale: 1,
      sources: [...s, dep, s[2].map((v) => v * 2)],
      targets: [randVec(d, r), randVec(d, r), randVec(d, r), randVec(d, r), s[2].map((v) => v * 2)], // last: c* = c, no motion
      preserve: [randVec(d, r)],
    };
    const { map, diagnostics } = closedFormContextMap(e, prov);
    // Independent check: rank from the eigenvalues of (M − I)ᵀ(M − I) via Jacobi.
    const m = denseMatrix(map);
    const D = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => m[i * d + j] - (i === j ? 1 : 0)));
    const eig = jacobiEigenvalues(mul(tr(D), D));
    const refRank = eig.filter((x) => x > 1e-16 * eig[eig.length - 1] * 1e4).length;
    expect(diagnostics.rank).toBe(refRank);
    // Moving sources s0, s1, s2, s0 − s1/2 span 3 dimensions: rank(U·(B⁻¹C)ᵀ) = 3.
    expect(diagnostics.rank).toBe(3);
    expect(rankOfEdit(map)).toBe(3);
  });

  it('condition number matches the eigenvalues of B (both solver paths)', () => {
    for (const [k, p, d] of [[2, 2, 10], [8, 6, 10]]) {
      const e = randomEdit(d, k, p, 8, 0.5, 1, 0.3);
      const { diagnostics } = closedFormContextMap(e, prov);
      let B = eye(d, 0.5);
      e.sources.forEach((c) => { B = add(B, outer(c, c)); });
      e.preserve.forEach((c) => { B = add(B, outer(c, c, 0.3)); });
      const eig = jacobiEigenvalues(B);
      const exact = eig[eig.length - 1] / eig[0];
      expect(Math.abs(diagnostics.conditionNumber - exact) / exact).toBeLessThan(1e-3);
    }
  });

  it('rejects bad inputs with clear errors', () => {
    const e = randomEdit(8, 1, 1, 9);
    expect(() => closedFormContextMap({ ...e, lambda: 0 }, prov)).toThrow(/lambda must be > 0/);
    expect(() => closedFormContextMap({ ...e, lambda: -1 }, prov)).toThrow(/lambda must be > 0/);
    expect(() => closedFormContextMap({ ...e, eraseScale: NaN }, prov)).toThrow(/eraseScale must be a finite number > 0/);
    expect(() => closedFormContextMap({ ...e, preserveScale: -1 }, prov)).toThrow(/preserveScale must be a finite number ≥ 0/);
    expect(() => closedFormContextMap({ ...e, sources: [] , targets: []}, prov)).toThrow(/no erased vectors/);
    expect(() => closedFormContextMap({ ...e, targets: [] }, prov)).toThrow(/1 erased vectors but 0 targets/);
    expect(() => closedFormContextMap({ ...e, sources: [new Float64Array(7)] }, prov)).toThrow(/erased vector 0 has width 7, expected d = 8/);
    const nan = new Float64Array(8); nan[3] = NaN;
    expect(() => closedFormContextMap({ ...e, preserve: [nan] }, prov)).toThrow(/preserved vector 0 contains a non-finite value \(NaN\) at component 3/);
  });
});
