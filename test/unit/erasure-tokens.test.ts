import { describe, expect, it } from 'vitest';
import {
  encodeChecked, expandConceptPrompts, lastWordTokenIndex, timeAlignment, timeAugmentedPrompts, tokenVector,
  uce2023Pairs, validateEncodedPrompt, type EncodedPrompt,
} from '../../src/lib/erasure/tokens.ts';

/** Hand-built 77-id array: BOS, words, EOS, then padding with padId. */
function ids(words: number[], padId = 49407): Int32Array {
  const a = new Int32Array(77).fill(padId);
  a[0] = 49406;
  words.forEach((w, i) => { a[i + 1] = w; });
  a[words.length + 1] = 49407;
  return a;
}
function prompt(text: string, idArr: Int32Array, d = 4): EncodedPrompt {
  const hidden = new Float32Array(77 * d);
  for (let t = 0; t < 77; t++) for (let j = 0; j < d; j++) hidden[t * d + j] = t + j / 10;
  return { text, ids: idArr, hidden, d };
}

describe('token selection', () => {
  it('last word token = attention_mask.sum() − 2 for SD1 (pad = EOS) and SD2 (pad = 0) padding', () => {
    // "a photo of a cat" → 49406 320 1125 539 320 2368 49407: mask sum 7, index 5 (cat).
    expect(lastWordTokenIndex(ids([320, 1125, 539, 320, 2368]))).toBe(5);
    expect(lastWordTokenIndex(ids([320, 1125, 539, 320, 2368], 0))).toBe(5);
    expect(lastWordTokenIndex(ids([]))).toBe(0); // '' → BOS output
    expect(lastWordTokenIndex(ids([]))).toBe(0);
  });
  it('tokenVector reads row t of the hidden state', () => {
    const p = prompt('x', ids([5]));
    expect(Array.from(tokenVector(p, 3))).toEqual([3, 3.1, 3.2, 3.3].map((v) => Math.fround(v)));
    expect(() => tokenVector(p, 77)).toThrow(/outside 0..76/);
  });
  it('UCE 2023 pairs: last word + EOS + padding aligned to the target slice', () => {
    const src = prompt('van gogh painting', ids([11, 12, 13])); // last word at 3
    const tgt = prompt(' ', ids([])); // last "word" = BOS at 0
    const { sourceIndices, targetIndices } = uce2023Pairs(src, tgt);
    // far = 3: source[3 : 77], target[0 : 74], both length 74.
    expect(sourceIndices.length).toBe(74);
    expect(sourceIndices[0]).toBe(3);
    expect(sourceIndices[73]).toBe(76);
    expect(targetIndices[0]).toBe(0);
    expect(targetIndices[73]).toBe(73);
    // Longer target than source: far = 4 → source[1 : 74], target[4 : 77].
    const p2 = uce2023Pairs(prompt('cat', ids([2368])), prompt('a b c d', ids([1, 2, 3, 4])));
    expect([p2.sourceIndices[0], p2.sourceIndices.at(-1), p2.targetIndices[0], p2.targetIndices.at(-1), p2.sourceIndices.length]).toEqual([1, 73, 4, 76, 73]);
  });
  it('TIME alignment: forward matching, "an" = "a", then the following positions, then 76', () => {
    // "a pack of roses" → "a pack of blue roses"
    const a = timeAlignment(ids([320, 7, 539, 9]), ids([320, 7, 539, 8, 9]));
    expect(a.slice(0, 6)).toEqual([0, 1, 2, 3, 5, 6]); // BOS a pack of → same; roses → 5; EOS → 6
    expect(a[6]).toBe(7);
    expect(a.length).toBe(77);
    expect(a[75]).toBe(76);
    expect(a[76]).toBe(76); // destination is one token longer: the last slot repeats 76
    // "an apple" → "a red apple": 'an' (550) matches 'a' (320).
    expect(timeAlignment(ids([550, 40]), ids([320, 41, 40])).slice(0, 4)).toEqual([0, 1, 3, 4]);
    expect(() => timeAlignment(ids([320, 99]), ids([320, 7]))).toThrow(/source token 2 \(id 99\) has no match in the destination/);
  });
  it('UCE and TIME prompt templates', () => {
    expect(expandConceptPrompts('Van Gogh', 'art')).toEqual(['Van Gogh', 'painting by Van Gogh', 'art by Van Gogh', 'artwork by Van Gogh', 'picture by Van Gogh', 'style of Van Gogh']);
    expect(expandConceptPrompts('car', 'object')).toEqual(['car', 'image of car', 'photo of car', 'portrait of car', 'picture of car', 'painting of car']);
    expect(timeAugmentedPrompts('A pack of roses')).toEqual(['A pack of roses', 'A photo of a pack of roses', 'An image of a pack of roses', 'A picture of a pack of roses']);
  });
  it('validates encoded prompts with clear errors', () => {
    const ok = prompt('ok', ids([5]));
    expect(() => validateEncodedPrompt(ok, 4)).not.toThrow();
    expect(() => validateEncodedPrompt({ ...ok, ids: new Int32Array(10) })).toThrow(/expected 77 token ids/);
    const noBos = ids([5]); noBos[0] = 5;
    expect(() => validateEncodedPrompt({ ...ok, ids: noBos })).toThrow(/must start with BOS 49406/);
    expect(() => validateEncodedPrompt({ ...ok, ids: new Int32Array(77).fill(0).map((_, i) => (i === 0 ? 49406 : 1)) })).toThrow(/no EOS 49407/);
    expect(() => validateEncodedPrompt(ok, 8)).toThrow(/width 4 does not match 8/);
    expect(() => validateEncodedPrompt({ ...ok, hidden: new Float32Array(5) })).toThrow(/hidden has 5 values, expected 77 × 4/);
    const nan = Float32Array.from(ok.hidden); nan[4 * 9] = NaN;
    expect(() => validateEncodedPrompt({ ...ok, hidden: nan })).toThrow(/non-finite value \(NaN\) at token 9/);
  });
  it('encodeChecked rejects a callback returning the wrong number of results', async () => {
    await expect(encodeChecked(async () => [], ['a'])).rejects.toThrow(/encode returned 0 results for 1 prompts/);
  });
});
