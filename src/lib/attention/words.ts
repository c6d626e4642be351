/**
 * Per-word maps and "where did the mass go": a word's map is the mean of its sub-word tokens'
 * maps (DAAM `compute_word_heat_map`); a token's mass is the sum of its map over the image.
 */
import { tokenMap, type TokenMaps } from './aggregate.ts';

/** A prompt word and its token positions (ClipPromptTokenizer.encodePrompt(text).words). */
export interface WordTokens {
  text: string;
  tokenIndices: number[];
}

/** One word's heat map [height, width]. */
export interface WordMap {
  text: string;
  tokenIndices: number[];
  map: Float32Array;
}

/** Every word's map: the mean of its tokens' maps (all of them must have been aggregated). */
export function wordMaps(maps: TokenMaps, words: readonly WordTokens[]): WordMap[] {
  return words.map((w) => {
    if (w.tokenIndices.length === 0) throw new Error(`the word "${w.text}" has no token positions`);
    const map = new Float32Array(maps.height * maps.width);
    for (const t of w.tokenIndices) {
      const m = tokenMap(maps, t);
      for (let p = 0; p < map.length; p++) map[p] += m[p];
    }
    for (let p = 0; p < map.length; p++) map[p] /= w.tokenIndices.length;
    return { text: w.text, tokenIndices: [...w.tokenIndices], map };
  });
}

/** Token positions DAAM-style code calls "real": 1 … tokenCount − 2 (the words; no BOS, EOS or padding). */
export function wordTokenPositions(words: readonly WordTokens[]): number[] {
  return [...new Set(words.flatMap((w) => w.tokenIndices))].sort((a, b) => a - b);
}

/**
 * Share of attention mass per word: Σ over the word's tokens of Σ_pixels map, divided by the
 * same over all words' tokens (BOS, EOS and padding excluded; BOS alone takes most raw mass).
 * @returns one share in [0, 1] per word, summing to 1 (0s when all mass is 0)
 */
export function wordMassShares(maps: TokenMaps, words: readonly WordTokens[]): number[] {
  const massOf = (t: number) => tokenMap(maps, t).reduce((a, v) => a + v, 0);
  const perWord = words.map((w) => w.tokenIndices.reduce((a, t) => a + massOf(t), 0));
  const total = wordTokenPositions(words).reduce((a, t) => a + massOf(t), 0);
  return perWord.map((m) => (total > 0 ? m / total : 0));
}

/** A word's share before and after an edit. */
export interface MassShift {
  text: string;
  before: number;
  after: number;
  /** after − before (shares, so −1 … 1). */
  delta: number;
  /** 'lost' / 'gained' when |delta| ≥ threshold, else 'kept'. */
  change: 'lost' | 'gained' | 'kept';
}

/**
 * Where did the mass go: each word's share before vs after (same prompt, same words).
 * @param threshold |delta| from which a word counts as having lost or gained mass (default 0.05 = 5 points)
 */
export function massShift(before: TokenMaps, after: TokenMaps, words: readonly WordTokens[], threshold = 0.05): MassShift[] {
  const b = wordMassShares(before, words);
  const a = wordMassShares(after, words);
  return words.map((w, i) => {
    const delta = a[i] - b[i];
    return { text: w.text, before: b[i], after: a[i], delta, change: delta <= -threshold ? 'lost' : delta >= threshold ? 'gained' : 'kept' };
  });
}
