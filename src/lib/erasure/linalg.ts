/**
 * Dense float64 linear algebra for the erasure engine (row-major matrices).
 *
 * Hand-written on purpose: the systems here are at most 1024×1024 and SPD (Cholesky). The
 * maintained npm options were considered: ml-matrix is pure JS with the same scalar loops (rows
 * stored as separate arrays, so no speed advantage), mathjs is generic and slower, tfjs is
 * float32-only; none is installed and adding one is not worth a dependency. Every routine is checked in
 * test/unit/erasure-linalg.test.ts against an independent naive computation (Gauss–Jordan,
 * triple-loop products, known spectra). Loops are ordered so the innermost one walks contiguous
 * memory (row · row dot products, row axpy updates).
 */

/** A row-major matrix: element (i, j) is data[i * cols + j]. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** Allocate a zero rows×cols matrix. */
export function zeros(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/** n×n identity scaled by `scale` (default 1). */
export function identity(n: number, scale = 1): Matrix {
  const m = zeros(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = scale;
  return m;
}

/** Wrap existing data as a rows×cols matrix (no copy); checks the length. */
export function matrix(rows: number, cols: number, data: Float64Array): Matrix {
  if (data.length !== rows * cols) {
    throw new Error(`matrix: data has ${data.length} values, expected ${rows}×${cols} = ${rows * cols}`);
  }
  return { rows, cols, data };
}

/** Throw a clear Error if any entry is NaN or ±Infinity. `what` names the matrix in the message. */
export function assertFinite(m: Matrix | Float64Array | Float32Array, what: string): void {
  const data = m instanceof Float64Array || m instanceof Float32Array ? m : m.data;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new Error(`${what} contains a non-finite value (${data[i]}) at flat index ${i}; check the inputs for NaN/Infinity`);
    }
  }
}

/** Aᵀ as a new matrix. */
export function transpose(a: Matrix): Matrix {
  const t = zeros(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) t.data[j * a.rows + i] = a.data[i * a.cols + j];
  }
  return t;
}

/** A·B (m×k · k×n). i-k-j loop order: the inner loop is a contiguous axpy on rows of B and C. */
export function matmul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new Error(`matmul: shapes ${a.rows}×${a.cols} and ${b.rows}×${b.cols} do not chain`);
  const { rows: m, cols: k } = a;
  const n = b.cols;
  const c = zeros(m, n);
  const A = a.data, B = b.data, C = c.data;
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const aip = A[i * k + p];
      if (aip === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) C[ci + j] += aip * B[bp + j];
    }
  }
  return c;
}

/** A·Bᵀ (m×k · (n×k)ᵀ): every entry is a dot product of two contiguous rows. */
export function matmulABt(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.cols) throw new Error(`matmulABt: A is ${a.rows}×${a.cols}, B is ${b.rows}×${b.cols}; need equal column counts`);
  const m = a.rows, n = b.rows, k = a.cols;
  const c = zeros(m, n);
  const A = a.data, B = b.data, C = c.data;
  for (let i = 0; i < m; i++) {
    const ai = i * k;
    for (let j = 0; j < n; j++) {
      const bj = j * k;
      let s0 = 0, s1 = 0;
      let p = 0;
      for (; p + 1 < k; p += 2) {
        s0 += A[ai + p] * B[bj + p];
        s1 += A[ai + p + 1] * B[bj + p + 1];
      }
      if (p < k) s0 += A[ai + p] * B[bj + p];
      C[i * n + j] = s0 + s1;
    }
  }
  return c;
}

/** Aᵀ·B ((k×m)ᵀ · k×n): accumulated as a sum of outer products of rows (contiguous axpy). */
export function matmulAtB(a: Matrix, b: Matrix): Matrix {
  if (a.rows !== b.rows) throw new Error(`matmulAtB: A is ${a.rows}×${a.cols}, B is ${b.rows}×${b.cols}; need equal row counts`);
  const k = a.rows, m = a.cols, n = b.cols;
  const c = zeros(m, n);
  const A = a.data, B = b.data, C = c.data;
  for (let p = 0; p < k; p++) {
    const ap = p * m, bp = p * n;
    for (let i = 0; i < m; i++) {
      const v = A[ap + i];
      if (v === 0) continue;
      const ci = i * n;
      for (let j = 0; j < n; j++) C[ci + j] += v * B[bp + j];
    }
  }
  return c;
}

/**
 * Lower-triangular Cholesky factor L with A = L·Lᵀ for a symmetric positive-definite n×n A
 * (only the lower triangle of A is read). Throws if A is not SPD or not finite.
 * Rows are computed four at a time so each already-finished row L[j] is read once per block
 * (the dot products L[i]·L[j] dominate: n³/6 multiply-adds).
 */
export function cholesky(a: Matrix): Matrix {
  if (a.rows !== a.cols) throw new Error(`cholesky: matrix is ${a.rows}×${a.cols}, must be square`);
  assertFinite(a, 'cholesky input');
  const n = a.rows;
  const l = zeros(n, n);
  const A = a.data, L = l.data;
  const finish = (i: number, j: number, dot: number) => {
    const v = A[i * n + j] - dot;
    if (i === j) {
      if (!(v > 0)) {
        throw new Error(`cholesky: matrix is not positive definite (pivot ${i} is ${v}); the system is singular — increase lambda`);
      }
      L[i * n + i] = Math.sqrt(v);
    } else {
      L[i * n + j] = v / L[j * n + j];
    }
  };
  for (let i0 = 0; i0 < n; i0 += 4) {
    if (i0 + 4 <= n) {
      const r0 = i0 * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
      // Columns j < i0: all four rows need L[j]; share its loads.
      for (let j = 0; j < i0; j++) {
        const lj = j * n;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let p = 0; p < j; p++) {
          const v = L[lj + p];
          s0 += L[r0 + p] * v; s1 += L[r1 + p] * v; s2 += L[r2 + p] * v; s3 += L[r3 + p] * v;
        }
        finish(i0, j, s0); finish(i0 + 1, j, s1); finish(i0 + 2, j, s2); finish(i0 + 3, j, s3);
      }
    }
    const jStart = i0 + 4 <= n ? i0 : 0;
    for (let i = i0; i < Math.min(n, i0 + 4); i++) {
      const li = i * n;
      for (let j = jStart; j <= i; j++) {
        const lj = j * n;
        let s = 0;
        for (let p = 0; p < j; p++) s += L[li + p] * L[lj + p];
        finish(i, j, s);
      }
    }
  }
  return l;
}

/**
 * Solve (L·Lᵀ)·X = B for X, B being n×m (each column a right-hand side). Returns a new matrix.
 * Forward and back substitution run as row axpy updates on X (contiguous inner loop), over
 * column blocks of X narrow enough that the block stays in cache while all n rows are swept.
 */
export function choleskySolve(l: Matrix, b: Matrix): Matrix {
  const n = l.rows;
  if (b.rows !== n) throw new Error(`choleskySolve: right-hand side has ${b.rows} rows, factor is ${n}×${n}`);
  const m = b.cols;
  const x = { rows: n, cols: m, data: Float64Array.from(b.data) };
  const L = l.data, X = x.data;
  const Lt = transpose(l).data; // back substitution reads columns of L: make them contiguous
  const BLOCK = 64;
  for (let c0 = 0; c0 < m; c0 += BLOCK) {
    const c1 = Math.min(m, c0 + BLOCK);
    // Forward: L·Y = B.
    for (let i = 0; i < n; i++) {
      const xi = i * m, li = i * n;
      let j = 0;
      // Four source rows per sweep: X[i] is loaded and stored once per four updates.
      for (; j + 3 < i; j += 4) {
        const l0 = L[li + j], l1 = L[li + j + 1], l2 = L[li + j + 2], l3 = L[li + j + 3];
        const x0 = j * m, x1 = x0 + m, x2 = x1 + m, x3 = x2 + m;
        for (let c = c0; c < c1; c++) {
          X[xi + c] -= l0 * X[x0 + c] + l1 * X[x1 + c] + l2 * X[x2 + c] + l3 * X[x3 + c];
        }
      }
      for (; j < i; j++) {
        const lij = L[li + j];
        const xj = j * m;
        for (let c = c0; c < c1; c++) X[xi + c] -= lij * X[xj + c];
      }
      const inv = 1 / L[li + i];
      for (let c = c0; c < c1; c++) X[xi + c] *= inv;
    }
    // Back: Lᵀ·X = Y, pulled: X[i] = (Y[i] − Σ_{j>i} L[j][i]·X[j]) / L[i][i].
    for (let i = n - 1; i >= 0; i--) {
      const xi = i * m;
      let j = i + 1;
      for (; j + 3 < n; j += 4) {
        const ti = i * n;
        const l0 = Lt[ti + j], l1 = Lt[ti + j + 1], l2 = Lt[ti + j + 2], l3 = Lt[ti + j + 3];
        const x0 = j * m, x1 = x0 + m, x2 = x1 + m, x3 = x2 + m;
        for (let c = c0; c < c1; c++) {
          X[xi + c] -= l0 * X[x0 + c] + l1 * X[x1 + c] + l2 * X[x2 + c] + l3 * X[x3 + c];
        }
      }
      for (; j < n; j++) {
        const lji = Lt[i * n + j];
        const xj = j * m;
        for (let c = c0; c < c1; c++) X[xi + c] -= lji * X[xj + c];
      }
      const inv = 1 / L[i * n + i];
      for (let c = c0; c < c1; c++) X[xi + c] *= inv;
    }
  }
  return x;
}

/** LU factorisation with partial pivoting: P·A = L·U packed in `lu`, `perm[i]` = source row of row i. */
export interface LuFactor {
  lu: Matrix;
  perm: Int32Array;
}

/** LU-factor a square matrix with partial pivoting. Throws on an exactly singular or non-finite matrix. */
export function luFactor(a: Matrix): LuFactor {
  if (a.rows !== a.cols) throw new Error(`luFactor: matrix is ${a.rows}×${a.cols}, must be square`);
  assertFinite(a, 'luFactor input');
  const n = a.rows;
  const lu = { rows: n, cols: n, data: Float64Array.from(a.data) };
  const D = lu.data;
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  let scale = 0;
  for (let i = 0; i < D.length; i++) scale = Math.max(scale, Math.abs(D[i]));
  for (let k = 0; k < n; k++) {
    let p = k, best = Math.abs(D[k * n + k]);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(D[i * n + k]);
      if (v > best) { best = v; p = i; }
    }
    if (best <= scale * n * Number.EPSILON || best === 0) {
      throw new Error(`luFactor: matrix is singular to working precision (column ${k}); the system has no unique solution`);
    }
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = D[k * n + j]; D[k * n + j] = D[p * n + j]; D[p * n + j] = t;
      }
      const t = perm[k]; perm[k] = perm[p]; perm[p] = t;
    }
    const pivot = D[k * n + k];
    for (let i = k + 1; i < n; i++) {
      const f = (D[i * n + k] /= pivot);
      if (f === 0) continue;
      for (let j = k + 1; j < n; j++) D[i * n + j] -= f * D[k * n + j];
    }
  }
  return { lu, perm };
}

/** Solve A·X = B given luFactor(A); B is n×m (columns are right-hand sides). */
export function luSolve(f: LuFactor, b: Matrix): Matrix {
  const n = f.lu.rows;
  if (b.rows !== n) throw new Error(`luSolve: right-hand side has ${b.rows} rows, factor is ${n}×${n}`);
  const m = b.cols;
  const x = zeros(n, m);
  const X = x.data, D = f.lu.data;
  for (let i = 0; i < n; i++) X.set(b.data.subarray(f.perm[i] * m, f.perm[i] * m + m), i * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const l = D[i * n + j];
      if (l === 0) continue;
      for (let c = 0; c < m; c++) X[i * m + c] -= l * X[j * m + c];
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let j = i + 1; j < n; j++) {
      const u = D[i * n + j];
      if (u === 0) continue;
      for (let c = 0; c < m; c++) X[i * m + c] -= u * X[j * m + c];
    }
    const inv = 1 / D[i * n + i];
    for (let c = 0; c < m; c++) X[i * m + c] *= inv;
  }
  assertFinite(x, 'luSolve result');
  return x;
}

/** Solve a general square system A·X = B (LU with partial pivoting). */
export function solve(a: Matrix, b: Matrix): Matrix {
  return luSolve(luFactor(a), b);
}

/** A⁻¹ for a general square matrix. Prefer solve(); use this only when the inverse itself is needed. */
export function inverse(a: Matrix): Matrix {
  return luSolve(luFactor(a), identity(a.rows));
}

/** Euclidean norm of a vector. */
export function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** Frobenius norm of a matrix. */
export function frobenius(a: Matrix): number {
  return norm(a.data);
}
