/**
 * TIME — Text-to-Image Model Editing (Orgad, Kawar, Belinkov; arXiv 2303.08084) as a context map.
 *
 * train_closed_form: W_new = (λW + Σ v kᵀ)(λI + Σ k kᵀ)⁻¹ with k every one of the 77 source
 * tokens and v = W·c' where c' is the aligned destination token (tokens.ts timeAlignment), so
 * M = (λI + Σ c'_k c_kᵀ)(λI + Σ c_k c_kᵀ)⁻¹. Tokens that align to an identical vector (BOS,
 * shared words before the edit under a causal encoder) act as an implicit preserve term.
 */
import { closedFormContextMap, type EditResult, type VectorLabel } from './closed-form.ts';
import { checkLambda, encodeUnique } from './inputs.ts';
import { A_TOKEN_ID, AN_TOKEN_ID, timeAlignment, timeAugmentedPrompts, tokenVector, type EncodePrompts } from './tokens.ts';

export interface TimeOptions {
  /** Under-specified prompt, e.g. "a pack of roses". */
  source: string;
  /** The desired specification, e.g. "a pack of blue roses" (must contain the source's words in order). */
  destination: string;
  /** Ridge weight λ (default 0.1, the paper's). */
  lambda?: number;
  /** Also edit "A photo of / An image of / A picture of" + prompt (TIME --with_augs). */
  augment?: boolean;
  /** Token ids treated as equal when aligning (default CLIP's "an" → "a"). */
  anTokenId?: number;
  aTokenId?: number;
  diagnostics?: boolean;
}

/** Edit the model so `source` behaves like `destination`; returns M and diagnostics. */
export async function editTime(options: TimeOptions, encode: EncodePrompts): Promise<EditResult> {
  const { source, destination } = options;
  if (typeof source !== 'string' || source.trim() === '') throw new Error('TIME: source prompt is empty');
  if (typeof destination !== 'string' || destination.trim() === '') throw new Error('TIME: destination prompt is empty');
  if (source.trim().toLowerCase() === destination.trim().toLowerCase()) {
    throw new Error(`TIME: source and destination are the same prompt (${JSON.stringify(source)}); the edit would do nothing`);
  }
  const lambda = options.lambda ?? 0.1;
  checkLambda(lambda);
  const srcPrompts = options.augment ? timeAugmentedPrompts(source) : [source];
  const dstPrompts = options.augment ? timeAugmentedPrompts(destination) : [destination];
  const enc = await encodeUnique(encode, [...srcPrompts, ...dstPrompts]);

  const sources: Float64Array[] = [], targets: Float64Array[] = [], sourceLabels: VectorLabel[] = [];
  srcPrompts.forEach((sp, i) => {
    const s = enc.get(sp)!, t = enc.get(dstPrompts[i])!;
    const idx = timeAlignment(s.ids, t.ids, options.anTokenId ?? AN_TOKEN_ID, options.aTokenId ?? A_TOKEN_ID);
    idx.forEach((ti, si) => {
      sources.push(tokenVector(s, si));
      targets.push(tokenVector(t, ti));
      sourceLabels.push({ prompt: sp, token: si });
    });
  });
  const d = sources[0].length;
  return closedFormContextMap(
    { d, lambda, eraseScale: 1, preserveScale: 0, sources, targets, preserve: [], sourceLabels },
    { method: 'time', params: { source, destination, lambda, augment: !!options.augment } },
    options.diagnostics ?? true,
  );
}
