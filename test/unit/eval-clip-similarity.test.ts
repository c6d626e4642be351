/**
 * The judge worker's CLIP similarity (workers/judge-clip.ts) in Node: transformers.js loads a
 * tiny random CLIP-text-shaped model (tools/clip-gen) from a local folder and runs it on
 * onnxruntime-node. Checked against an independent path: the same token ids fed to the ONNX
 * file by onnxruntime-node directly, and a float64 cosine written here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { env } from '@huggingface/transformers';
import { writeTinyClipText, TINY_CLIP_TEXT } from '../../tools/clip-gen/index.ts';
import { ClipTextSimilarity, CLIP_PROMPT, loadClipText, type ClipTextEncoder } from '../../workers/judge-clip.ts';
import { decidePresence } from '../../src/lib/eval/presence.ts';

const REPO = 'erasure-lab/clip-tiny';
let dir: string;
let encoder: ClipTextEncoder;
let session: ort.InferenceSession;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clip-tiny-'));
  writeTinyClipText(join(dir, REPO));
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = dir + '/';
  encoder = await loadClipText(REPO, { device: 'cpu', dtype: 'fp32' });
  session = await ort.InferenceSession.create(join(dir, REPO, 'onnx/text_model.onnx'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** text_embeds of one prompt, straight from the ONNX file (no transformers.js model code). */
async function embedDirect(prompt: string): Promise<number[]> {
  const ids = (encoder.tokenizer(prompt).input_ids.data as BigInt64Array);
  const n = ids.length;
  const out = await session.run({
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids), [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
  });
  return Array.from(out.text_embeds!.data as Float32Array);
}

/** float64 cosine: normalise each vector, then sum the products. */
function cosine64(a: number[], b: number[]): number {
  const unit = (v: number[]) => { const n = Math.hypot(...v); return v.map((x) => x / n); };
  const ua = unit(a), ub = unit(b);
  return ua.reduce((s, x, i) => s + x * ub[i]!, 0);
}

describe('CLIP text similarity (tiny random model, onnxruntime-node)', () => {
  it('matches the cosine of embeddings computed directly from the ONNX file', async () => {
    const clip = new ClipTextSimilarity(encoder);
    const words = ['truck', 'bicycle', 'red umbrella', 'cat'];
    const sims = await clip.similarity('car', words);
    const ref = await embedDirect(CLIP_PROMPT.replace('{}', 'car'));
    expect(ref).toHaveLength(TINY_CLIP_TEXT.projectionDim);
    for (const [i, w] of words.entries()) {
      const expected = cosine64(ref, await embedDirect(CLIP_PROMPT.replace('{}', w)));
      expect(sims[i]).toBeCloseTo(expected, 5);
      expect(sims[i]).toBeGreaterThanOrEqual(-1);
      expect(sims[i]).toBeLessThanOrEqual(1);
    }
    // Random weights still separate different prompts: not all similarities are equal.
    expect(new Set(sims.map((s) => s.toFixed(4))).size).toBeGreaterThan(1);
  });

  it('gives 1 for the same word, is symmetric, and embeds each word once', async () => {
    const clip = new ClipTextSimilarity(encoder);
    const [same, ab] = await clip.similarity('car', ['car', 'boat']);
    expect(same).toBeCloseTo(1, 6);
    const [ba] = await clip.similarity('boat', ['car']);
    expect(ba).toBeCloseTo(ab!, 6);
    expect(clip.embedded).toBe(2); // 'car' and 'boat', each once across both calls
    await clip.similarity('Car ', ['BOAT']);
    expect(clip.embedded).toBe(2);
    // Padding in a batch does not change a text's embedding: batched result = single-prompt result.
    const [alone] = await new ClipTextSimilarity(encoder).embed(['a much longer phrase of several words']);
    const [, batched] = await new ClipTextSimilarity(encoder).embed(['x', 'a much longer phrase of several words']);
    for (let i = 0; i < alone!.length; i++) expect(batched![i]).toBeCloseTo(alone![i]!, 5);
  });

  it('refuses empty words and prompts without a slot', async () => {
    const clip = new ClipTextSimilarity(encoder);
    await expect(clip.similarity('car', ['  '])).rejects.toThrow(/non-empty words/);
    expect(() => new ClipTextSimilarity(encoder, 'a photo')).toThrow(/must contain '\{\}'/);
  });

  it("lets decidePresence record 'clip-similarity' evidence for a caption word no list has", async () => {
    const clip = new ClipTextSimilarity(encoder);
    const similarity = (concept: string, words: string[]) => clip.similarity(concept, words);
    // Thresholds below -1: every unexplained word is recorded and counts (the weights are random).
    const d = await decidePresence('car', { caption: 'a contraption on a street' }, { similarity, threshold: -1, unsureFrom: -1 });
    const e = d.evidence.find((x) => x.source === 'clip-similarity' && x.text === 'contraption');
    expect(e, JSON.stringify(d.evidence)).toBeDefined();
    const expected = cosine64(await embedDirect(CLIP_PROMPT.replace('{}', 'car')), await embedDirect(CLIP_PROMPT.replace('{}', 'contraption')));
    expect(e!.similarity).toBeCloseTo(expected, 5);
    expect(e!.matched).toBe(true);
    expect(d.verdict).toBe('present');
  });
});
