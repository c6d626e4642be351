/**
 * UCE 'replace' erasure (Gandikota et al., arXiv 2308.14761) as a context map.
 *
 * Per projection the code computes W_new = (λW + Σ_E s_e W c*_i c_iᵀ + Σ_P s_p W c_j c_jᵀ)
 * (λI + Σ_E s_e c_i c_iᵀ + Σ_P s_p c_j c_jᵀ)⁻¹ = W·M, with one M for all 32 to_k / to_v.
 *
 * Token conventions:
 *   '2025' (trainscripts/uce_sd_erase.py): one vector per prompt, the last word token; the target
 *          '' gives the BOS output. preserveScale default 1.
 *   '2023' (train-scripts/train_erase.py): the last word token + EOS + padding of each erased
 *          prompt, aligned to the target's slice (tokens.ts uce2023Pairs); the target '' is
 *          encoded as ' ' like the original; '' is always preserved and every preserved prompt
 *          contributes all 77 tokens; preserveScale default max(0.1, 1/|retain|).
 */
import { closedFormContextMap, type EditResult, type VectorLabel } from './closed-form.ts';
import { checkConceptList, checkLambda, checkNotTarget, checkPreserveDisjoint, encodeUnique } from './inputs.ts';
import {
  allTokenVectors, expandConceptPrompts, lastWordTokenIndex, tokenVector, uce2023Pairs,
  type EncodePrompts, type EncodedPrompt,
} from './tokens.ts';

export interface UceOptions {
  /** Concepts to erase, e.g. ['Van Gogh'] or ['car', 'truck']. */
  erase: string[];
  /** What erased concepts become: default '' for objects, 'art' for artists. */
  target?: string;
  /** Concepts whose context vectors must stay where they are. */
  preserve?: string[];
  /** Ridge weight λ (default 0.5). */
  lambda?: number;
  eraseScale?: number;
  /** Default 1 ('2025') or max(0.1, 1/|['', ...preserve]|) ('2023'). */
  preserveScale?: number;
  tokens?: '2025' | '2023';
  /** Add the five UCE template prompts per concept ("photo of {c}", …). */
  expandPrompts?: boolean;
  conceptType?: 'object' | 'art';
  /** Compute per-vector diagnostics and rank (default true). */
  diagnostics?: boolean;
}

interface Vectors {
  sources: Float64Array[]; targets: Float64Array[]; preserve: Float64Array[];
  sourceLabels: VectorLabel[]; preserveLabels: VectorLabel[];
}

function vectors2025(enc: Map<string, EncodedPrompt>, erasePrompts: string[], target: string, preserve: string[]): Vectors {
  const last = (t: string) => tokenVector(enc.get(t)!, lastWordTokenIndex(enc.get(t)!.ids));
  const tgt = last(target);
  return {
    sources: erasePrompts.map(last),
    targets: erasePrompts.map(() => tgt),
    preserve: preserve.map(last),
    sourceLabels: erasePrompts.map((p) => ({ prompt: p, token: lastWordTokenIndex(enc.get(p)!.ids) })),
    preserveLabels: preserve.map((p) => ({ prompt: p, token: lastWordTokenIndex(enc.get(p)!.ids) })),
  };
}

function vectors2023(enc: Map<string, EncodedPrompt>, erasePrompts: string[], target: string, retain: string[]): Vectors {
  const v: Vectors = { sources: [], targets: [], preserve: [], sourceLabels: [], preserveLabels: [] };
  const tgt = enc.get(target)!;
  for (const p of erasePrompts) {
    const src = enc.get(p)!;
    const pairs = uce2023Pairs(src, tgt);
    pairs.sourceIndices.forEach((si, i) => {
      v.sources.push(tokenVector(src, si));
      v.targets.push(tokenVector(tgt, pairs.targetIndices[i]));
      v.sourceLabels.push({ prompt: p, token: si });
    });
  }
  for (const r of retain) {
    allTokenVectors(enc.get(r)!).forEach((c, t) => { v.preserve.push(c); v.preserveLabels.push({ prompt: r, token: t }); });
  }
  return v;
}

/** Erase concepts with UCE; returns the context map M and its diagnostics. */
export async function eraseUce(options: UceOptions, encode: EncodePrompts): Promise<EditResult> {
  const conceptType = options.conceptType ?? 'object';
  if (conceptType !== 'object' && conceptType !== 'art') throw new Error(`conceptType must be 'object' or 'art', got ${JSON.stringify(conceptType)}`);
  const tokens = options.tokens ?? '2025';
  if (tokens !== '2025' && tokens !== '2023') throw new Error(`tokens must be '2025' or '2023', got ${JSON.stringify(tokens)}`);
  const erase = checkConceptList(options.erase, 'erase list');
  const preserve = checkConceptList(options.preserve ?? [], 'preserve list', true);
  const target = options.target ?? (conceptType === 'art' ? 'art' : '');
  if (typeof target !== 'string') throw new Error(`target must be a string ('' erases toward the empty prompt)`);
  checkNotTarget(erase, target);
  checkPreserveDisjoint(erase, preserve);
  const lambda = options.lambda ?? 0.5;
  checkLambda(lambda);
  const eraseScale = options.eraseScale ?? 1;

  const erasePrompts = options.expandPrompts ? erase.flatMap((c) => expandConceptPrompts(c, conceptType)) : [...erase];
  let v: Vectors, preserveScale: number, targetText: string, retain: string[];
  if (tokens === '2025') {
    targetText = target;
    retain = preserve;
    preserveScale = options.preserveScale ?? 1;
    const enc = await encodeUnique(encode, [...erasePrompts, targetText, ...retain]);
    v = vectors2025(enc, erasePrompts, targetText, retain);
  } else {
    targetText = target === '' ? ' ' : target;
    retain = [...new Set(['', ...preserve])];
    preserveScale = options.preserveScale ?? Math.max(0.1, 1 / retain.length);
    const enc = await encodeUnique(encode, [...erasePrompts, targetText, ...retain]);
    v = vectors2023(enc, erasePrompts, targetText, retain);
  }
  const d = v.sources[0].length;
  return closedFormContextMap(
    { d, lambda, eraseScale, preserveScale, ...v },
    { method: 'uce', params: { erase, target, preserve, lambda, eraseScale, preserveScale, tokens, expandPrompts: !!options.expandPrompts, conceptType } },
    options.diagnostics ?? true,
  );
}
