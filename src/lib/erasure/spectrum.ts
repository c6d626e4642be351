/**
 * Spectral estimates: condition numbers of SPD systems and numerical rank.
 * Shapes: all matrices row-major float64 (see linalg.ts).
 */
import { choleskySolve, zeros, type Matrix } from './linalg.ts';

/** Deterministic pseudo-random start vector (power iteration must not depend on Math.random). */
function startVector(n: number): Float64Array {
  const v = new Float64Array(n);
  let s = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6a09e667) | 0;
    v[i] = ((s >>> 0) / 4294967296) - 0.5 + 1e-3;
  }
  return v;
}

/**
 * Largest eigenvalue of a symmetric positive semi-definite operator by power iteration.
 * `apply(x)` returns A·x. Stops when the Rayleigh quotient changes by < `tol` (relative).
 */
export function largestEigenvalue(n: number, apply: (x: Float64Array) => Float64Array, maxIter = 300, tol = 1e-10): number {
  let v = startVector(n);
  let nv = 0;
  for (let i = 0; i < n; i++) nv += v[i] * v[i];
  nv = Math.sqrt(nv);
  for (let i = 0; i < n; i++) v[i] /= nv;
  let lambda = 0;
  for (let it = 0; it < maxIter; it++) {
    const w = apply(v);
    let rq = 0, nw = 0;
    for (let i = 0; i < n; i++) { rq += v[i] * w[i]; nw += w[i] * w[i]; }
    nw = Math.sqrt(nw);
    if (nw === 0) return 0;
    for (let i = 0; i < n; i++) w[i] /= nw;
    v = w;
    if (Math.abs(rq - lambda) <= tol * Math.abs(rq)) return rq;
    lambda = rq;
  }
  return lambda;
}

/** y = A·x for a dense square row-major A. */
export function matVec(a: Matrix, x: Float64Array): Float64Array {
  const n = a.rows, m = a.cols, A = a.data;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const ai = i * m;
    for (let j = 0; j < m; j++) s += A[ai + j] * x[j];
    y[i] = s;
  }
  return y;
}

/**
 * 2-norm condition number estimate λ_max/λ_min of an SPD matrix A given A and its Cholesky
 * factor L: power iteration on A and on A⁻¹ (each A⁻¹·x is a Cholesky solve, 2n² flops).
 * An estimate: the Rayleigh quotients converge to ~`tol` unless the extreme eigenvalues are
 * nearly degenerate, where they still bound the true value from below.
 */
export function conditionNumberSpd(a: Matrix, l: Matrix, maxIter = 100, tol = 1e-8): number {
  const n = a.rows;
  const lmax = largestEigenvalue(n, (x) => matVec(a, x), maxIter, tol);
  const invMax = largestEigenvalue(n, (x) => choleskySolve(l, { rows: n, cols: 1, data: x }).data, maxIter, tol);
  return lmax * invMax;
}

/**
 * Numerical rank of the columns of A (rows×cols) by modified Gram–Schmidt with column pivoting
 * (a rank-revealing QR): at each step the remaining column of largest norm is orthogonalised out;
 * stop when that norm falls below `relTol` × the largest initial column norm.
 */
export function numericalRank(a: Matrix, relTol = 1e-9): number {
  const { rows, cols } = a;
  // Work on columns stored as rows of Aᵀ so each column is contiguous.
  const q = zeros(cols, rows);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) q.data[j * rows + i] = a.data[i * cols + j];
  const Q = q.data;
  const norms = new Float64Array(cols);
  let maxNorm = 0;
  for (let j = 0; j < cols; j++) {
    let s = 0;
    for (let i = 0; i < rows; i++) s += Q[j * rows + i] ** 2;
    norms[j] = Math.sqrt(s);
    maxNorm = Math.max(maxNorm, norms[j]);
  }
  if (maxNorm === 0) return 0;
  const used = new Uint8Array(cols);
  let rank = 0;
  for (let step = 0; step < Math.min(rows, cols); step++) {
    let p = -1, best = 0;
    for (let j = 0; j < cols; j++) {
      if (used[j]) continue;
      let s = 0;
      for (let i = 0; i < rows; i++) s += Q[j * rows + i] ** 2;
      norms[j] = Math.sqrt(s);
      if (norms[j] > best) { best = norms[j]; p = j; }
    }
    if (p < 0 || best <= relTol * maxNorm) break;
    used[p] = 1;
    rank++;
    const pr = p * rows;
    for (let i = 0; i < rows; i++) Q[pr + i] /= best;
    for (let j = 0; j < cols; j++) {
      if (used[j]) continue;
      const jr = j * rows;
      // Project out the new direction twice: one pass loses orthogonality for clustered columns.
      for (let pass = 0; pass < 2; pass++) {
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += Q[pr + i] * Q[jr + i];
        for (let i = 0; i < rows; i++) Q[jr + i] -= dot * Q[pr + i];
      }
    }
  }
  return rank;
}

/**
 * Numerical rank of U·Vᵀ without forming the d×d product. U and V are d×k, passed as k×d
 * matrices Ut, Vt whose rows are the vectors. Gram–Schmidt on the rows gives Ut = R·Q (R k×k
 * lower-triangular, Q with orthonormal or zero rows), so U·Vᵀ = Qᵀ·(Rᵀ·Vt) and its rank is the
 * rank of the rows of Rᵀ·Vt whose Q row is non-zero.
 */
export function lowRankProductRank(ut: Matrix, vt: Matrix, relTol = 1e-9): number {
  const k = ut.rows, d = ut.cols;
  if (k === 0) return 0;
  // Orthonormalise the rows of Ut by MGS, keeping coefficients R (Ut = R·Q, Q orthonormal rows).
  const Q = Float64Array.from(ut.data);
  const R = new Float64Array(k * k);
  const alive = new Uint8Array(k);
  let maxNorm = 0;
  for (let i = 0; i < k; i++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += Q[i * d + c] ** 2;
    maxNorm = Math.max(maxNorm, Math.sqrt(s));
  }
  if (maxNorm === 0) return 0;
  for (let i = 0; i < k; i++) {
    // Two orthogonalisation passes ("twice is enough") keep Q orthonormal for clustered vectors.
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        if (!alive[j]) continue;
        let dot = 0;
        for (let c = 0; c < d; c++) dot += Q[j * d + c] * Q[i * d + c];
        R[i * k + j] += dot;
        for (let c = 0; c < d; c++) Q[i * d + c] -= dot * Q[j * d + c];
      }
    }
    let s = 0;
    for (let c = 0; c < d; c++) s += Q[i * d + c] ** 2;
    const nrm = Math.sqrt(s);
    R[i * k + i] = nrm;
    alive[i] = nrm > relTol * maxNorm ? 1 : 0;
    if (alive[i]) for (let c = 0; c < d; c++) Q[i * d + c] /= nrm;
    else for (let c = 0; c < d; c++) Q[i * d + c] = 0;
  }
  // U·Vᵀ = Qᵀ·(Rᵀ·Vt) with Q having orthonormal (or zero) rows, so rank(U Vᵀ) = rank(Rᵀ·Vt).
  const core = zeros(k, d);
  for (let i = 0; i < k; i++) {
    if (!alive[i]) continue; // multiplied by a zero row of Q: contributes nothing
    for (let j = 0; j < k; j++) {
      const r = R[j * k + i]; // (Rᵀ)[i][j]
      if (r === 0) continue;
      for (let c = 0; c < d; c++) core.data[i * d + c] += r * vt.data[j * d + c];
    }
  }
  return numericalRank(core, relTol);
}
