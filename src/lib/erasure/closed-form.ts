/**
 * The shared closed form of UCE / TIME / RECE, as a context map.
 *
 *   B = λI + Σ_E s_e c_i c_iᵀ + Σ_P s_p c_j c_jᵀ          (d×d, SPD for λ > 0)
 *   A = λI + Σ_E s_e c*_i c_iᵀ + Σ_P s_p c_j c_jᵀ
 *   M = A·B⁻¹ = I + Σ_E s_e (c*_i − c_i)(B⁻¹c_i)ᵀ = I + U·Vᵀ
 * with U = [s_e (c*_i − c_i)] and V = B⁻¹·[c_i] (B symmetric), both d×k. Only k solves against B
 * are needed. When the number of vectors n = k + |P| is below d, B⁻¹ is applied through the
 * Woodbury identity with C̃ (n×d, rows √s·c):
 *   B⁻¹X = (X − C̃ᵀ (λI_n + C̃C̃ᵀ)⁻¹ C̃X) / λ
 * so the only factorisation is an n×n Cholesky. Otherwise B is formed and Cholesky-factored.
 */
import { cholesky, choleskySolve, matmulABt, matmulAtB, zeros, type Matrix } from './linalg.ts';
import { conditionNumberSpd, largestEigenvalue, lowRankProductRank, matVec, numericalRank } from './spectrum.ts';
import { denseMap, denseMatrix, lowRankMap, mapVector, type ContextMap, type Provenance } from './context-map.ts';

/** Which prompt and token position a context vector came from (for diagnostics). */
export interface VectorLabel {
  prompt: string;
  token: number;
}

/** Input of the closed form. Vectors are float64 of length d. */
export interface ClosedFormEdit {
  d: number;
  /** Ridge weight λ > 0 pulling M toward I. */
  lambda: number;
  /** Erased vectors c_i and their targets c*_i (same count). */
  sources: Float64Array[];
  targets: Float64Array[];
  eraseScale: number;
  /** Preserved vectors c_j (mapped to themselves). */
  preserve: Float64Array[];
  preserveScale: number;
  sourceLabels?: VectorLabel[];
  preserveLabels?: VectorLabel[];
}

export interface ErasedVectorDiagnostic extends VectorLabel {
  /** ‖M c − c*‖ / ‖c − c*‖: 0 = reached the target, 1 = did not move toward it. */
  remainingDistance: number;
  /** cos(M c, c*). */
  cosineToTarget: number;
}
export interface PreservedVectorDiagnostic extends VectorLabel {
  /** ‖M c − c‖ / ‖c‖. */
  relativeChange: number;
}
export interface EditDiagnostics {
  d: number;
  /** Numerical rank of M − I (≤ number of erased vectors). */
  rank: number;
  /** 2-norm condition number of the system matrix B. */
  conditionNumber: number;
  /** 'woodbury' (n×n system, n < d) or 'dense' (d×d system). */
  solver: 'woodbury' | 'dense';
  erased: ErasedVectorDiagnostic[];
  preserved: PreservedVectorDiagnostic[];
  summary: { erasedMeanRemaining: number; erasedMaxRemaining: number; preservedMeanChange: number; preservedMaxChange: number };
}

export interface EditResult {
  map: ContextMap;
  diagnostics: EditDiagnostics;
  /** The vectors and settings the map was solved from (for re-describing composed maps). */
  edit: ClosedFormEdit;
}

function checkVectors(vs: Float64Array[], d: number, what: string): void {
  vs.forEach((v, i) => {
    if (v.length !== d) throw new Error(`${what} ${i} has width ${v.length}, expected d = ${d}; all embeddings must come from the same text encoder`);
    for (let j = 0; j < d; j++) {
      if (!Number.isFinite(v[j])) throw new Error(`${what} ${i} contains a non-finite value (${v[j]}) at component ${j}`);
    }
  });
}

function checkScalar(x: number, name: string, allowZero: boolean): void {
  if (!Number.isFinite(x) || x < 0 || (!allowZero && x === 0)) {
    throw new Error(`${name} must be a finite number ${allowZero ? '≥ 0' : '> 0'}, got ${x}`);
  }
}

function rowsOf(vs: Float64Array[], d: number, scale = 1): Matrix {
  const m = zeros(vs.length, d);
  vs.forEach((v, i) => { for (let j = 0; j < d; j++) m.data[i * d + j] = scale * v[j]; });
  return m;
}

/** A·Aᵀ for a rows×d A, computing the upper triangle once (symmetric). */
function gramOfRows(a: Matrix): Matrix {
  const n = a.rows, d = a.cols, A = a.data;
  const g = zeros(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let p = 0; p < d; p++) s += A[i * d + p] * A[j * d + p];
      g.data[i * n + j] = s;
      g.data[j * n + i] = s;
    }
  }
  return g;
}

/** Solve B·X = C_Eᵀ for the k erased vectors; returns Vt = Xᵀ (k×d) and cond(B). */
function solveErased(ctil: Matrix, ce: Matrix, lambda: number, d: number): { vt: Matrix; cond: number; solver: 'woodbury' | 'dense' } {
  const n = ctil.rows, k = ce.rows;
  if (n < d) {
    const K = gramOfRows(ctil); // n×n = C̃·C̃ᵀ
    for (let i = 0; i < n; i++) K.data[i * n + i] += lambda;
    const L = cholesky(K);
    const Y = choleskySolve(L, matmulABt(ctil, ce)); // n×k
    const corr = matmulAtB(Y, ctil); // k×d = Yᵀ·C̃
    const vt = zeros(k, d);
    for (let i = 0; i < k * d; i++) vt.data[i] = (ce.data[i] - corr.data[i]) / lambda;
    // B has eigenvalue λ on the (d − n)-dim complement of C̃'s row space; its largest is μ_max(K).
    const cond = largestEigenvalue(n, (x) => matVec(K, x)) / lambda;
    return { vt, cond, solver: 'woodbury' };
  }
  const B = matmulAtB(ctil, ctil); // d×d
  for (let i = 0; i < d; i++) B.data[i * d + i] += lambda;
  const L = cholesky(B);
  const ceT = zeros(d, k);
  for (let i = 0; i < k; i++) for (let j = 0; j < d; j++) ceT.data[j * k + i] = ce.data[i * d + j];
  const X = choleskySolve(L, ceT);
  const vt = zeros(k, d);
  for (let i = 0; i < d; i++) for (let j = 0; j < k; j++) vt.data[j * d + i] = X.data[i * k + j];
  return { vt, cond: conditionNumberSpd(B, L), solver: 'dense' };
}

/** Compute M for a closed-form edit, as a low-rank map (dense once k > d/2), with diagnostics. */
export function closedFormContextMap(edit: ClosedFormEdit, provenance: Provenance, withDiagnostics = true): EditResult {
  const { d, lambda, sources, targets, preserve, eraseScale, preserveScale } = edit;
  if (!Number.isInteger(d) || d <= 0) throw new Error(`context width d must be a positive integer, got ${d}`);
  if (!Number.isFinite(lambda) || lambda <= 0) throw new Error(`lambda must be > 0 (it keeps the system invertible), got ${lambda}`);
  checkScalar(eraseScale, 'eraseScale', false);
  checkScalar(preserveScale, 'preserveScale', true);
  if (sources.length === 0) throw new Error('closed form: no erased vectors given');
  if (sources.length !== targets.length) throw new Error(`closed form: ${sources.length} erased vectors but ${targets.length} targets`);
  checkVectors(sources, d, 'erased vector');
  checkVectors(targets, d, 'target vector');
  checkVectors(preserve, d, 'preserved vector');

  const kept = preserveScale > 0 ? preserve : [];
  const ce = rowsOf(sources, d);
  const se = Math.sqrt(eraseScale), sp = Math.sqrt(preserveScale);
  const ctil = zeros(sources.length + kept.length, d);
  for (let i = 0; i < sources.length * d; i++) ctil.data[i] = se * ce.data[i];
  kept.forEach((v, i) => { for (let j = 0; j < d; j++) ctil.data[(sources.length + i) * d + j] = sp * v[j]; });

  const { vt: vtAll, cond, solver } = solveErased(ctil, ce, lambda, d);
  // U rows s_e (c* − c); rows that are exactly zero (c* = c, e.g. TIME's unchanged tokens)
  // still shape B but add nothing to M − I, so they are dropped from the factors.
  const keep: number[] = [];
  for (let i = 0; i < sources.length; i++) {
    let nz = false;
    for (let j = 0; j < d && !nz; j++) nz = targets[i][j] !== sources[i][j];
    if (nz) keep.push(i);
  }
  const ut = new Float64Array(keep.length * d), vt = new Float64Array(keep.length * d);
  keep.forEach((i, r) => {
    for (let j = 0; j < d; j++) ut[r * d + j] = eraseScale * (targets[i][j] - sources[i][j]);
    vt.set(vtAll.data.subarray(i * d, (i + 1) * d), r * d);
  });
  const k = keep.length;
  const rank = withDiagnostics ? lowRankProductRank({ rows: k, cols: d, data: ut }, { rows: k, cols: d, data: vt }) : -1;
  let map: ContextMap = lowRankMap(d, ut, vt, provenance);
  if (k > d / 2) map = denseMap(d, denseMatrix(map), provenance);
  const diagnostics = withDiagnostics
    ? describeEdit(map, edit, rank, cond, solver)
    : emptyDiagnostics(d, cond, solver);
  return { map, diagnostics, edit };
}

function emptyDiagnostics(d: number, cond: number, solver: 'woodbury' | 'dense'): EditDiagnostics {
  return { d, rank: -1, conditionNumber: cond, solver, erased: [], preserved: [], summary: { erasedMeanRemaining: NaN, erasedMaxRemaining: NaN, preservedMeanChange: NaN, preservedMaxChange: NaN } };
}

/** Per-vector movement of erased vectors toward their targets and of preserved vectors. */
export function describeEdit(map: ContextMap, edit: ClosedFormEdit, rank: number, cond: number, solver: 'woodbury' | 'dense'): EditDiagnostics {
  const d = edit.d;
  const erased = edit.sources.map((c, i): ErasedVectorDiagnostic => {
    const mc = mapVector(map, c), t = edit.targets[i];
    let num = 0, den = 0, dot = 0, nm = 0, nt = 0;
    for (let j = 0; j < d; j++) {
      num += (mc[j] - t[j]) ** 2; den += (c[j] - t[j]) ** 2;
      dot += mc[j] * t[j]; nm += mc[j] ** 2; nt += t[j] ** 2;
    }
    const label = edit.sourceLabels?.[i] ?? { prompt: `erased ${i}`, token: -1 };
    return { ...label, remainingDistance: den === 0 ? 0 : Math.sqrt(num / den), cosineToTarget: nm * nt === 0 ? 0 : dot / Math.sqrt(nm * nt) };
  });
  const preserved = edit.preserve.map((c, i): PreservedVectorDiagnostic => {
    const mc = mapVector(map, c);
    let num = 0, den = 0;
    for (let j = 0; j < d; j++) { num += (mc[j] - c[j]) ** 2; den += c[j] ** 2; }
    const label = edit.preserveLabels?.[i] ?? { prompt: `preserved ${i}`, token: -1 };
    return { ...label, relativeChange: den === 0 ? 0 : Math.sqrt(num / den) };
  });
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const max = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), 0);
  const er = erased.map((e) => e.remainingDistance), pr = preserved.map((p) => p.relativeChange);
  return {
    d, rank, conditionNumber: cond, solver, erased, preserved,
    summary: { erasedMeanRemaining: mean(er), erasedMaxRemaining: max(er), preservedMeanChange: mean(pr), preservedMaxChange: max(pr) },
  };
}

/** Numerical rank of M − I for any map (dense maps use a rank-revealing QR on M − I). */
export function rankOfEdit(map: ContextMap, relTol = 1e-9): number {
  if (map.kind === 'identity') return 0;
  if (map.kind === 'lowrank') return lowRankProductRank({ rows: map.rank, cols: map.d, data: map.ut }, { rows: map.rank, cols: map.d, data: map.vt }, relTol);
  const m = Float64Array.from(map.matrix);
  for (let i = 0; i < map.d; i++) m[i * map.d + i] -= 1;
  return numericalRank({ rows: map.d, cols: map.d, data: m }, relTol);
}
