import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import {
  ClipPromptTokenizer,
  PromptTooLongError,
  fetchTokenizerFiles,
  SD1_PAD_ID,
  SD2_PAD_ID,
  CLIP_EOS_ID,
  CLIP_BOS_ID,
} from '../../src/lib/models/tokenizer.ts';
import { buildClipTokenizerFiles } from '../../tools/build-tokenizer.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const PUBLIC_DIR = join(ROOT, 'public', 'tokenizers', 'clip');
const MERGES_GZ = resolve(ROOT, '..', 'shared', 'data', 'clip', 'bpe_simple_vocab_16e6.txt.gz');

/** The committed files, exactly as the app fetches them. */
function loadPublicFiles() {
  return {
    tokenizerJson: JSON.parse(readFileSync(join(PUBLIC_DIR, 'tokenizer.json'), 'utf8')),
    tokenizerConfig: JSON.parse(readFileSync(join(PUBLIC_DIR, 'tokenizer_config.json'), 'utf8')),
  };
}

/**
 * Independent reference: a naive port of the algorithm of OpenAI's simple_tokenizer.py
 * (whole-pair search, merge every occurrence of the best pair), reading the merges file directly.
 */
function naiveClipReference() {
  const lines = gunzipSync(readFileSync(MERGES_GZ)).toString('utf8').split('\n');
  const merges = lines.slice(1, 48895).map((l) => l.split(' '));
  // bytes_to_unicode written as a lookup over all 256 bytes.
  const byteChar: string[] = new Array(256);
  const order: number[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    byteChar[b] = printable ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  for (let b = 0; b < 256; b++) if (byteChar[b].charCodeAt(0) === b) order.push(b);
  for (let b = 0; b < 256; b++) if (byteChar[b].charCodeAt(0) !== b) order.push(b);
  const vocabList = order.map((b) => byteChar[b]);
  const vocabAll = [...vocabList, ...vocabList.map((v) => `${v}</w>`), ...merges.map((m) => m.join('')), '<|startoftext|>', '<|endoftext|>'];
  const encoder = new Map(vocabAll.map((t, i) => [t, i]));
  const ranks = new Map(merges.map((m, i) => [`${m[0]}\u0000${m[1]}`, i]));

  function bpe(token: string): string[] {
    let word = [...token];
    word[word.length - 1] += '</w>';
    while (word.length > 1) {
      let best = Infinity;
      let bestPair: [string, string] | null = null;
      for (let i = 0; i < word.length - 1; i++) {
        const r = ranks.get(`${word[i]}\u0000${word[i + 1]}`);
        if (r !== undefined && r < best) { best = r; bestPair = [word[i], word[i + 1]]; }
      }
      if (!bestPair) break;
      const next: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i < word.length - 1 && word[i] === bestPair[0] && word[i + 1] === bestPair[1]) { next.push(word[i] + word[i + 1]); i++; }
        else next.push(word[i]);
      }
      word = next;
    }
    return word;
  }
  const pat = /'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/gu;
  function encode(text: string): number[] {
    const clean = text.normalize('NFC').replace(/\s+/g, ' ').trim().toLowerCase();
    const ids = [49406];
    for (const piece of clean.match(pat) ?? []) {
      const chars = [...new TextEncoder().encode(piece)].map((b) => byteChar[b]).join('');
      for (const t of bpe(chars)) ids.push(encoder.get(t)!);
    }
    ids.push(49407);
    return ids;
  }
  return { encode, vocabSize: vocabAll.length };
}

describe('CLIP tokenizer (public/tokenizers/clip)', () => {
  let sd1: ClipPromptTokenizer;
  let sd2: ClipPromptTokenizer;
  let reference: ReturnType<typeof naiveClipReference>;
  beforeAll(() => {
    const files = loadPublicFiles();
    sd1 = new ClipPromptTokenizer(files);
    sd2 = new ClipPromptTokenizer(files, { padId: SD2_PAD_ID });
    reference = naiveClipReference();
  });

  it('gives the known CLIP ids', () => {
    expect(Array.from(sd1.encodePrompt('a photo of a cat').ids.slice(0, 7))).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
    const car = sd1.encodePrompt('a picture of a small red wooden car');
    expect(Array.from(car.ids.slice(0, car.tokenCount))).toEqual([49406, 320, 1674, 539, 320, 2442, 736, 9057, 1615, 49407]);
    expect(car.tokenCount).toBe(10);
  });

  it('has 49408 vocabulary entries, like the naive reference', () => {
    expect(sd1.vocabSize).toBe(49408);
    expect(reference.vocabSize).toBe(49408);
  });

  it('matches a naive simple_tokenizer port on varied prompts', () => {
    const prompts = [
      'A PHOTOREALISTIC portrait of Van Gogh, oil on canvas!!',
      "it's a dog's   life\tin 2024 — café crème, naïve résumé",
      'unbelievably hyperdetailed steampunk zeppelins over Reykjavík',
      'emoji 🚗🔥 and ÆØÅ ßtraße ½ ② x²',
      '',
    ];
    for (const p of prompts) {
      const enc = sd1.encodePrompt(p);
      expect(Array.from(enc.ids.slice(0, enc.tokenCount)), p).toEqual(reference.encode(p));
    }
  });

  it('pads to 77 with the model pad id', () => {
    const a = sd1.encodePrompt('a photo of a cat');
    const b = sd2.encodePrompt('a photo of a cat');
    expect(a.ids).toBeInstanceOf(Int32Array);
    expect(a.ids.length).toBe(77);
    expect(a.tokenCount).toBe(7);
    expect(Array.from(a.ids.slice(7)).every((id) => id === SD1_PAD_ID)).toBe(true);
    expect(Array.from(b.ids.slice(7)).every((id) => id === 0)).toBe(true);
    expect(Array.from(b.ids.slice(0, 7))).toEqual(Array.from(a.ids.slice(0, 7)));
    const empty = sd1.encodePrompt('');
    expect(empty.tokenCount).toBe(2);
    expect(Array.from(empty.ids.slice(0, 3))).toEqual([CLIP_BOS_ID, CLIP_EOS_ID, CLIP_EOS_ID]);
    expect(empty.words).toEqual([]);
  });

  it('accepts exactly 75 word-pieces and refuses 76 with a clear error', () => {
    const fits = sd1.encodePrompt(Array(75).fill('cat').join(' '));
    expect(fits.tokenCount).toBe(77);
    expect(fits.ids[76]).toBe(CLIP_EOS_ID);
    const long = Array(77).fill('cat').join(' ');
    let error: unknown;
    try { sd1.encodePrompt(long); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(PromptTooLongError);
    const err = error as PromptTooLongError;
    expect(err.tokenCount).toBe(79);
    expect(err.message).toMatch(/is 79 tokens; Stable Diffusion reads at most 75 word-pieces plus start\/end — shorten it by 2 word-pieces/);
  });

  it('maps each word to its sub-word token positions', () => {
    const enc = sd1.encodePrompt('A photorealistic  Cat, hyperdetailed');
    const ref = reference.encode('A photorealistic  Cat, hyperdetailed');
    expect(enc.words.map((w) => w.text)).toEqual(['A', 'photorealistic', 'Cat,', 'hyperdetailed']);
    // every non-special position belongs to exactly one word, in order
    expect(enc.words.flatMap((w) => w.tokenIndices)).toEqual(Array.from({ length: enc.tokenCount - 2 }, (_, i) => i + 1));
    // 'photorealistic' and 'hyperdetailed' are several pieces; each word's pieces equal the reference's pieces of that word alone
    expect(enc.words[1].tokenIndices.length).toBeGreaterThan(1);
    expect(enc.words[3].tokenIndices.length).toBeGreaterThan(1);
    for (const w of enc.words) {
      expect(w.tokenIndices.map((i) => enc.ids[i])).toEqual(reference.encode(w.text).slice(1, -1));
      expect(w.tokenIndices.map((i) => ref[i])).toEqual(w.tokenIndices.map((i) => enc.ids[i]));
    }
  });

  it('rejects a pad id outside the vocabulary and non-CLIP files', () => {
    expect(() => new ClipPromptTokenizer(loadPublicFiles(), { padId: 49408 })).toThrow(/padId 49408 is not a token id/);
    const files = loadPublicFiles();
    (files.tokenizerConfig as Record<string, unknown>).bos_token = '!';
    expect(() => new ClipPromptTokenizer(files)).toThrow(/not the CLIP tokenizer/);
  });

  it('the committed files are exactly what the build tool writes, and building is deterministic', () => {
    const first = buildClipTokenizerFiles();
    const second = buildClipTokenizerFiles();
    expect(second.tokenizerJson).toBe(first.tokenizerJson);
    expect(second.tokenizerConfig).toBe(first.tokenizerConfig);
    expect(readFileSync(join(PUBLIC_DIR, 'tokenizer.json'), 'utf8')).toBe(first.tokenizerJson);
    expect(readFileSync(join(PUBLIC_DIR, 'tokenizer_config.json'), 'utf8')).toBe(first.tokenizerConfig);
    expect(readFileSync(join(PUBLIC_DIR, 'LICENSE'), 'utf8')).toBe(readFileSync(resolve(MERGES_GZ, '..', 'LICENSE'), 'utf8'));
  });

  it('fetches both files from a folder URL and explains a missing or broken file', async () => {
    const served = (url: string) => {
      const name = url.slice(url.lastIndexOf('/') + 1);
      if (url.startsWith('https://app.test/missing/')) return new Response('not found', { status: 404 });
      if (url.startsWith('https://app.test/broken/')) return new Response('{"model": ', { status: 200 });
      return new Response(readFileSync(join(PUBLIC_DIR, name)), { status: 200 });
    };
    const fakeFetch = (async (input: RequestInfo | URL) => served(String(input))) as typeof fetch;
    const files = await fetchTokenizerFiles('https://app.test/tokenizers/clip', fakeFetch);
    const ids = new ClipPromptTokenizer(files).encodePrompt('a photo of a cat').ids;
    expect(Array.from(ids.slice(0, 7))).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
    await expect(fetchTokenizerFiles('https://app.test/missing/', fakeFetch)).rejects.toThrow(/tokenizer.json answered HTTP 404/);
    await expect(fetchTokenizerFiles('https://app.test/broken/', fakeFetch)).rejects.toThrow(/is not valid JSON/);
  });
});
