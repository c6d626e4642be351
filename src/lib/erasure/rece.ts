/**
 * RECE (Gong et al., ECCV 2024, arXiv 2407.12383) as composed context maps.
 *
 * Each round, with A the current cumulative map (edited projections W' = W·A) and
 * G = Σ_l W_lᵀW_l over the original projections (weights.ts gramOfProjections):
 *   1. adversarial embedding (close_regzero), per token c of the concept prompt (all 77):
 *        c_adv = argmin Σ_l ‖W'_l c_adv − W_l c‖² + λ_reg‖c_adv‖² = (AᵀGA + λ_reg I)⁻¹ AᵀG c
 *   2. a UCE edit of the already-edited model mapping every c_adv token to the same token of the
 *      target prompt (' '), preserving the retain prompts' 77 tokens: W' → W'·M_r.
 * The result is A·M_1⋯M_k (edit order; see context-map.ts).
 */
import { cholesky, choleskySolve, matmul, matmulABt, zeros, type Matrix } from './linalg.ts';
import { closedFormContextMap, type EditResult, type VectorLabel } from './closed-form.ts';
import { composeContextMaps, type ContextMap } from './context-map.ts';
import { checkConceptList, checkLambda, checkNotTarget, checkPreserveDisjoint, encodeUnique } from './inputs.ts';
import { allTokenVectors, CONTEXT_LENGTH, type EncodePrompts } from './tokens.ts';

/** RECE README settings: regularisation λ_reg and number of rounds per task. */
export const RECE_PRESETS = {
  nudity: { regularization: 0.1, rounds: 3 },
  unsafe: { regularization: 0.1, rounds: 2 },
  artists: { regularization: 1e-3, rounds: 1 },
  hardObjects: { regularization: 1e-3, rounds: 1 },
  easyObjects: { regularization: 0.1, rounds: 1 },
} as const;

export interface ReceOptions {
  /** The map RECE starts from (normally the UCE result). */
  base: ContextMap;
  /** G = Σ_l W_lᵀW_l over the original to_k/to_v projections, d×d row-major. */
  gram: Float64Array;
  /** Concept prompts whose adversarial embeddings are erased, e.g. ['nudity']. */
  concepts: string[];
  /** Harmless target prompt (default ' ', RECE's "uncond"). */
  target?: string;
  /** Retain prompts, all 77 tokens each (default ['']; for artists add the other artists). */
  preserve?: string[];
  rounds?: number;
  /** λ_reg of the adversarial embedding (see RECE_PRESETS). */
  regularization: number;
  /** UCE ridge λ of each round (default 0.1). */
  lambda?: number;
  eraseScale?: number;
  /** Default 0.1. */
  preserveScale?: number;
  diagnostics?: boolean;
}

export interface ReceRound extends EditResult {
  /** Adversarial embeddings of this round, one per concept token (concepts × 77, each length d). */
  adversarial: Float64Array[];
}

/** `diagnostics` and `edit` are the last round's (in that round's input space). */
export interface ReceResult extends EditResult {
  rounds: ReceRound[];
}

/** X·M for a d×d X. Low-rank M = I + U Vᵀ: X + (X U) Vᵀ. */
function timesMap(x: Matrix, map: ContextMap): Matrix {
  if (map.kind === 'identity') return x;
  const d = map.d;
  if (map.kind === 'dense') return matmul(x, { rows: d, cols: d, data: map.matrix });
  const xu = matmulABt(x, { rows: map.rank, cols: d, data: map.ut }); // d×k = X·U
  const out = { rows: x.rows, cols: d, data: Float64Array.from(x.data) };
  for (let i = 0; i < x.rows; i++) {
    for (let q = 0; q < map.rank; q++) {
      const s = xu.data[i * map.rank + q];
      if (s === 0) continue;
      for (let j = 0; j < d; j++) out.data[i * d + j] += s * map.vt[q * d + j];
    }
  }
  return out;
}

/** Mᵀ·X = (Xᵀ·M)ᵀ for a d×d X. */
function mapTransposeTimes(map: ContextMap, x: Matrix): Matrix {
  const xt = transposeSquare(x);
  return transposeSquare(timesMap(xt, map));
}

function transposeSquare(x: Matrix): Matrix {
  const n = x.rows, t = zeros(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t.data[j * n + i] = x.data[i * n + j];
  return t;
}

/**
 * Closed-form adversarial embeddings c_adv = (AᵀGA + λ_reg I)⁻¹ AᵀG c for each vector c.
 * `gram` d×d, `vectors` each length d.
 */
export function adversarialEmbeddings(current: ContextMap, gram: Float64Array, regularization: number, vectors: Float64Array[]): Float64Array[] {
  const d = current.d;
  if (gram.length !== d * d) throw new Error(`RECE: gram has ${gram.length} values, expected d×d = ${d * d} for context width ${d}`);
  for (let i = 0; i < gram.length; i++) {
    if (!Number.isFinite(gram[i])) throw new Error(`RECE: gram contains a non-finite value at index ${i}`);
  }
  checkLambda(regularization, 'RECE regularization');
  const G: Matrix = { rows: d, cols: d, data: gram };
  const R = mapTransposeTimes(current, G); // AᵀG
  const K = timesMap(R, current); // AᵀGA
  for (let i = 0; i < d; i++) K.data[i * d + i] += regularization;
  const L = cholesky(K);
  const n = vectors.length;
  const C = zeros(n, d);
  vectors.forEach((v, i) => {
    if (v.length !== d) throw new Error(`RECE: concept vector ${i} has width ${v.length}, expected ${d}`);
    C.data.set(v, i * d);
  });
  const rhs = matmulABt(R, C); // d×n = AᵀG·Cᵀ
  const X = choleskySolve(L, rhs);
  return Array.from({ length: n }, (_, i) => {
    const v = new Float64Array(d);
    for (let j = 0; j < d; j++) v[j] = X.data[j * n + i];
    return v;
  });
}

/** Run RECE rounds on top of `base`; returns the cumulative map and each round's edit. */
export async function eraseRece(options: ReceOptions, encode: EncodePrompts): Promise<ReceResult> {
  const concepts = checkConceptList(options.concepts, 'RECE concept list');
  const target = options.target ?? ' ';
  const preserve = checkConceptList(options.preserve ?? [''], 'RECE preserve list', true, true);
  checkNotTarget(concepts, target);
  checkPreserveDisjoint(concepts, preserve);
  const rounds = options.rounds ?? 1;
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) throw new Error(`RECE rounds must be an integer 1–10, got ${rounds}`);
  const lambda = options.lambda ?? 0.1;
  checkLambda(lambda);
  const eraseScale = options.eraseScale ?? 1, preserveScale = options.preserveScale ?? 0.1;
  const d = options.base.d;
  const enc = await encodeUnique(encode, [...concepts, target, ...preserve], d);

  const conceptVectors = concepts.flatMap((c) => allTokenVectors(enc.get(c)!));
  const targetVectors = allTokenVectors(enc.get(target)!);
  const preserveVectors = preserve.flatMap((p) => allTokenVectors(enc.get(p)!));
  const sourceLabels: VectorLabel[] = concepts.flatMap((c) => Array.from({ length: CONTEXT_LENGTH }, (_, t) => ({ prompt: `adversarial(${c})`, token: t })));
  const preserveLabels: VectorLabel[] = preserve.flatMap((p) => Array.from({ length: CONTEXT_LENGTH }, (_, t) => ({ prompt: p, token: t })));

  let current = options.base;
  const done: ReceRound[] = [];
  for (let r = 0; r < rounds; r++) {
    const adversarial = adversarialEmbeddings(current, options.gram, options.regularization, conceptVectors);
    const edit = closedFormContextMap(
      {
        d, lambda, eraseScale, preserveScale, sources: adversarial,
        targets: concepts.flatMap(() => targetVectors), preserve: preserveVectors, sourceLabels, preserveLabels,
      },
      { method: 'rece-round', params: { round: r + 1, concepts, target, preserve, regularization: options.regularization, lambda, eraseScale, preserveScale } },
      options.diagnostics ?? true,
    );
    done.push({ ...edit, adversarial });
    current = composeContextMaps(current, edit.map);
  }
  const map = { ...current, provenance: { method: 'rece', params: { concepts, target, rounds, regularization: options.regularization }, parts: [options.base.provenance, ...done.map((x) => x.map.provenance)] } };
  const last = done[done.length - 1];
  return { map, diagnostics: last.diagnostics, edit: last.edit, rounds: done };
}
