/**
 * Selecting the context vectors each method edits, from text-encoder outputs.
 *
 * The engine never tokenizes: callers encode prompts (CLIP tokenizer + text encoder, padded to
 * 77 tokens) and pass ids and hidden states as an EncodedPrompt.
 *
 * Token positions: the tokenizer's attention mask covers BOS, the word tokens and the first EOS,
 * so the upstream `attention_mask.sum() − 2` is the position of the first EOS minus one, i.e.
 * the last word token ('' → 0, the BOS output). We locate the first EOS in the ids instead of
 * counting non-pad ids because SD 1.x pads with EOS itself (pad id 49407) while SD 2.x pads with
 * '!' (id 0); the first EOS is right under both conventions.
 */

export const BOS_TOKEN_ID = 49406;
export const EOS_TOKEN_ID = 49407;
export const CONTEXT_LENGTH = 77;
/** CLIP BPE ids of "a</w>" and "an</w>" (TIME maps "an" to "a" before aligning). */
export const A_TOKEN_ID = 320;
export const AN_TOKEN_ID = 550;

/** One prompt through the text encoder: ids [77] and last_hidden_state [77·d] (row per token). */
export interface EncodedPrompt {
  text: string;
  ids: Int32Array;
  hidden: Float32Array;
  d: number;
}

/** Caller-supplied encoder: one EncodedPrompt per text, in order. */
export type EncodePrompts = (texts: string[]) => Promise<EncodedPrompt[]>;

/** Throw a clear Error unless `p` is a well-formed encoding of width `d` (if given). */
export function validateEncodedPrompt(p: EncodedPrompt, d?: number): void {
  const name = JSON.stringify(p?.text);
  if (!p || !(p.ids instanceof Int32Array) || !(p.hidden instanceof Float32Array)) {
    throw new Error(`encoded prompt ${name}: ids must be an Int32Array and hidden a Float32Array`);
  }
  if (p.ids.length !== CONTEXT_LENGTH) {
    throw new Error(`encoded prompt ${name}: expected ${CONTEXT_LENGTH} token ids (pad to max_length), got ${p.ids.length}`);
  }
  if (p.ids[0] !== BOS_TOKEN_ID) {
    throw new Error(`encoded prompt ${name}: ids must start with BOS ${BOS_TOKEN_ID}, got ${p.ids[0]}; tokenize with the CLIP tokenizer's special tokens`);
  }
  if (p.ids.indexOf(EOS_TOKEN_ID) < 0) {
    throw new Error(`encoded prompt ${name}: ids contain no EOS ${EOS_TOKEN_ID}; tokenize with the CLIP tokenizer's special tokens`);
  }
  if (d !== undefined && p.d !== d) {
    throw new Error(`encoded prompt ${name}: embedding width ${p.d} does not match ${d}; all prompts must come from the same text encoder`);
  }
  if (p.hidden.length !== CONTEXT_LENGTH * p.d) {
    throw new Error(`encoded prompt ${name}: hidden has ${p.hidden.length} values, expected 77 × ${p.d} = ${CONTEXT_LENGTH * p.d}`);
  }
  for (let i = 0; i < p.hidden.length; i++) {
    if (!Number.isFinite(p.hidden[i])) {
      throw new Error(`encoded prompt ${name}: hidden state has a non-finite value (${p.hidden[i]}) at token ${Math.floor(i / p.d)}`);
    }
  }
}

/** Position of the first EOS (= number of tokens incl. BOS and EOS, minus one). */
export function eosIndex(ids: Int32Array): number {
  const i = ids.indexOf(EOS_TOKEN_ID);
  if (i < 0) throw new Error(`token ids contain no EOS ${EOS_TOKEN_ID}`);
  return i;
}

/** UCE's `attention_mask.sum() − 2`: the last word token; 0 (BOS) for the empty prompt. */
export function lastWordTokenIndex(ids: Int32Array): number {
  return eosIndex(ids) - 1;
}

/** The hidden state of token `index` as a float64 vector of length d. */
export function tokenVector(p: EncodedPrompt, index: number): Float64Array {
  if (!Number.isInteger(index) || index < 0 || index >= CONTEXT_LENGTH) throw new Error(`token index ${index} is outside 0..76`);
  return Float64Array.from(p.hidden.subarray(index * p.d, (index + 1) * p.d));
}

/** All 77 token vectors (TIME, RECE, UCE-2023 preserve). */
export function allTokenVectors(p: EncodedPrompt): Float64Array[] {
  return Array.from({ length: CONTEXT_LENGTH }, (_, i) => tokenVector(p, i));
}

/** Aligned (source, target) token positions of one edit pair. */
export interface TokenPairs {
  sourceIndices: number[];
  targetIndices: number[];
}

/**
 * UCE 2023 alignment (train_erase.py, edit_model): with f_s, f_t the last word tokens of source
 * and target and far = max(f_s, f_t), take source[f_s : 77 − (far − f_s)] and
 * target[f_t : 77 − (far − f_t)] — both of length 77 − far — and pair them position by
 * position: last word ↔ last word, then EOS and padding in step.
 */
export function uce2023Pairs(source: EncodedPrompt, target: EncodedPrompt): TokenPairs {
  const fs = lastWordTokenIndex(source.ids), ft = lastWordTokenIndex(target.ids);
  const len = CONTEXT_LENGTH - Math.max(fs, ft);
  return {
    sourceIndices: Array.from({ length: len }, (_, i) => fs + i),
    targetIndices: Array.from({ length: len }, (_, i) => ft + i),
  };
}

/**
 * TIME alignment (apply_time.py): for each unpadded source token (BOS … EOS) find the next equal
 * token in the unpadded destination, scanning forward; after the last, continue with the
 * following destination positions, then repeat position 76. "an" counts as "a" on both sides.
 * Returns 77 destination indices, one per source position.
 */
export function timeAlignment(sourceIds: Int32Array, destinationIds: Int32Array, an = AN_TOKEN_ID, a = A_TOKEN_ID): number[] {
  const unpadded = (ids: Int32Array) => Array.from(ids.subarray(0, eosIndex(ids) + 1), (t) => (t === an ? a : t));
  const src = unpadded(sourceIds), dst = unpadded(destinationIds);
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < src.length; i++) {
    while (j < dst.length && dst[j] !== src[i]) j++;
    if (j >= dst.length) {
      throw new Error(`TIME: source token ${i} (id ${src[i]}) has no match in the destination prompt after position ${out[out.length - 1] ?? 0}; the destination must contain the source's words in order (e.g. "a pack of roses" → "a pack of blue roses")`);
    }
    out.push(j++);
  }
  while (j < CONTEXT_LENGTH && out.length < CONTEXT_LENGTH) out.push(j++);
  while (out.length < CONTEXT_LENGTH) out.push(CONTEXT_LENGTH - 1);
  return out;
}

/** UCE prompt templates (train_erase.py / uce_sd_erase.py), `{c}` is the concept. */
export const UCE_TEMPLATES = {
  object: ['image of {c}', 'photo of {c}', 'portrait of {c}', 'picture of {c}', 'painting of {c}'],
  art: ['painting by {c}', 'art by {c}', 'artwork by {c}', 'picture by {c}', 'style of {c}'],
} as const;

/** The concept itself followed by its five template prompts, as UCE's prompt expansion does. */
export function expandConceptPrompts(concept: string, conceptType: 'object' | 'art'): string[] {
  return [concept, ...UCE_TEMPLATES[conceptType].map((t) => t.replace('{c}', concept))];
}

/** TIME augmentation prefixes (apply_time.py --with_augs). */
export const TIME_AUGMENT_PREFIXES = ['A photo of ', 'An image of ', 'A picture of '] as const;

/** TIME's augmented prompts: the prompt, then each prefix + the prompt with a leading "A" lower-cased. */
export function timeAugmentedPrompts(prompt: string): string[] {
  const base = prompt.startsWith('A') ? 'a' + prompt.slice(1) : prompt;
  return [prompt, ...TIME_AUGMENT_PREFIXES.map((p) => p + base)];
}

/** Encode texts through the callback and validate every result (count, width, ids, finiteness). */
export async function encodeChecked(encode: EncodePrompts, texts: string[], d?: number): Promise<EncodedPrompt[]> {
  const out = await encode(texts);
  if (!Array.isArray(out) || out.length !== texts.length) {
    throw new Error(`encode returned ${Array.isArray(out) ? out.length : typeof out} results for ${texts.length} prompts`);
  }
  const width = d ?? out[0]?.d;
  out.forEach((p) => validateEncodedPrompt(p, width));
  return out;
}
