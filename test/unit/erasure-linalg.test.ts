import { describe, expect, it } from 'vitest';
import {
  cholesky, choleskySolve, identity, inverse, luFactor, luSolve, matmul, matmulABt, matmulAtB, matrix, solve, transpose,
} from '../../src/lib/erasure/linalg.ts';
import { conditionNumberSpd, lowRankProductRank, numericalRank } from '../../src/lib/erasure/spectrum.ts';
import { add, eye, fromFlat, gaussJordanInverse, mul, randMat, randomOrthogonal, relErr, rng, toFlat, tr } from './erasure-helpers.ts';

const M = (a: number[][]) => matrix(a.length, a[0].length, toFlat(a));

function randomSpd(n: number, seed: number): number[][] {
  const r = randMat(n, n, rng(seed));
  return add(mul(tr(r), r), eye(n, 0.5));
}

describe('products', () => {
  const rand = rng(1);
  const a = randMat(7, 5, rand), b = randMat(5, 6, rand), c = randMat(9, 5, rand), e = randMat(7, 4, rand);
  it('matmul equals the textbook triple loop', () => {
    expect(relErr(matmul(M(a), M(b)).data, toFlat(mul(a, b)))).toBeLessThan(1e-13);
  });
  it('matmulABt equals A·Bᵀ', () => {
    expect(relErr(matmulABt(M(a), M(c)).data, toFlat(mul(a, tr(c))))).toBeLessThan(1e-13);
  });
  it('matmulAtB equals Aᵀ·B', () => {
    expect(relErr(matmulAtB(M(a), M(e)).data, toFlat(mul(tr(a), e)))).toBeLessThan(1e-13);
  });
  it('transpose', () => {
    expect(Array.from(transpose(M(a)).data)).toEqual(tr(a).flat());
  });
  it('rejects shapes that do not chain', () => {
    expect(() => matmul(M(a), M(c))).toThrow(/do not chain/);
    expect(() => matrix(2, 2, new Float64Array(3))).toThrow(/3 values, expected 2×2/);
  });
});

describe('Cholesky', () => {
  it('factor reproduces A and solves many right-hand sides like Gauss–Jordan', () => {
    const n = 43; // not a multiple of the 4-row block
    const a = randomSpd(n, 2);
    const L = cholesky(M(a));
    const lm = fromFlat(L.data, n, n);
    expect(relErr(toFlat(mul(lm, tr(lm))), toFlat(a))).toBeLessThan(1e-12);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(lm[i][j]).toBe(0);
    const b = randMat(n, 13, rng(3));
    const x = choleskySolve(L, M(b));
    expect(relErr(x.data, toFlat(mul(gaussJordanInverse(a), b)))).toBeLessThan(1e-10);
  });
  it('rejects non-SPD, non-square and non-finite matrices with clear errors', () => {
    expect(() => cholesky(M([[1, 2], [2, 1]]))).toThrow(/not positive definite.*pivot 1/);
    expect(() => cholesky(M([[1, 2, 3], [4, 5, 6]]))).toThrow(/must be square/);
    expect(() => cholesky(M([[1, NaN], [NaN, 1]]))).toThrow(/non-finite value \(NaN\)/);
  });
});

describe('LU with partial pivoting', () => {
  it('solves a general system and inverts like Gauss–Jordan', () => {
    const n = 30;
    const a = randMat(n, n, rng(4));
    a[0][0] = 0; // forces a pivot swap
    const b = randMat(n, 5, rng(5));
    const ref = gaussJordanInverse(a);
    expect(relErr(solve(M(a), M(b)).data, toFlat(mul(ref, b)))).toBeLessThan(1e-9);
    expect(relErr(inverse(M(a)).data, toFlat(ref))).toBeLessThan(1e-9);
    const f = luFactor(M(a));
    expect(relErr(luSolve(f, M(b)).data, toFlat(mul(ref, b)))).toBeLessThan(1e-9);
  });
  it('rejects a singular matrix', () => {
    expect(() => solve(M([[1, 2], [2, 4]]), M([[1], [1]]))).toThrow(/singular/);
    expect(() => inverse(M([[0, 0], [0, 0]]))).toThrow(/singular/);
  });
});

describe('spectral estimates', () => {
  it('condition number of an SPD matrix with a known spectrum', () => {
    const n = 24;
    const q = randomOrthogonal(n, rng(6));
    const eig = Array.from({ length: n }, (_, i) => 0.01 * Math.pow(3, i / 4)); // well separated ends
    const a = mul(mul(q, eig.map((e, i) => eye(n)[i].map((v) => v * e))), tr(q));
    const am = M(a);
    const cond = conditionNumberSpd(am, cholesky(am));
    const exact = eig[n - 1] / eig[0];
    expect(Math.abs(cond - exact) / exact).toBeLessThan(1e-4);
  });
  it('numerical rank of a product of known rank', () => {
    const rand = rng(7);
    const a = mul(randMat(30, 4, rand), randMat(4, 20, rand));
    expect(numericalRank(M(a))).toBe(4);
    expect(numericalRank(identity(5))).toBe(5);
    expect(numericalRank(M([[0, 0], [0, 0]]))).toBe(0);
  });
  it('rank of U·Vᵀ without forming it, including dependent columns', () => {
    const rand = rng(8);
    const d = 25;
    const base = randMat(3, d, rand);
    const ut = [base[0], base[1], base[0].map((v, j) => v + 2 * base[1][j]), base[2]]; // rank 3
    const vt = randMat(4, d, rand);
    const r = lowRankProductRank(M(ut), M(vt));
    expect(r).toBe(numericalRank(M(mul(tr(ut), vt))));
    expect(r).toBe(3);
  });
});
