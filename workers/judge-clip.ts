/**
 * CLIP text similarity for the judge's presence decisions: words the concept lists miss
 * ('sedan' for 'car') are compared with the concept by the cosine of CLIP's projected text
 * embeddings. No `node:` or DOM imports: the judge worker uses it with onnxruntime-web, the unit
 * tests in Node with onnxruntime-node (transformers.js picks the backend).
 *
 * Prompts: each word is embedded as "a photo of a {word}" (both the concept and the candidate
 * word, so the comparison stays symmetric). CLIP was trained on captions, not single words; the
 * prompt template is how the CLIP paper does zero-shot labelling and it improves label accuracy
 * there, and bare words embed as fragments whose cosine tracks spelling more than meaning.
 */
import { AutoTokenizer, CLIPTextModelWithProjection, type PreTrainedTokenizer, type Tensor } from '@huggingface/transformers';
import type { CacheInterfaceLike } from './judge-api.ts';

/** The prompt every text is embedded in ('{}' is replaced by the word). */
export const CLIP_PROMPT = 'a photo of a {}';

/** Cosine similarity of two vectors of equal length (0 when either is all zeros). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  if (na === 0 || nb === 0) return 0;
  // Clamp: rounding can put identical vectors a hair above 1.
  return Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
}

/** What embeds texts: CLIP's tokenizer and text model (transformers.js), or a test double of the same shape. */
export interface ClipTextEncoder {
  tokenizer: PreTrainedTokenizer;
  model: CLIPTextModelWithProjection;
}

/**
 * Embeddings and similarities with a per-text cache: a word is embedded once per load, however
 * many images and concepts it is compared in.
 */
export class ClipTextSimilarity {
  private readonly cache = new Map<string, Float32Array>();
  /** Texts sent to the model so far (cache misses), for tests and the status line. */
  embedded = 0;

  constructor(private readonly encoder: ClipTextEncoder, readonly prompt: string = CLIP_PROMPT) {
    if (!prompt.includes('{}')) throw new Error(`The CLIP prompt must contain '{}' where the word goes (got ${JSON.stringify(prompt)}).`);
  }

  /** Projected text embeddings [projection_dim] of `texts` (words, before the prompt), in order. */
  async embed(texts: string[]): Promise<Float32Array[]> {
    const missing = [...new Set(texts.filter((t) => !this.cache.has(t)))];
    if (missing.length) {
      const prompts = missing.map((t) => this.prompt.replace('{}', t));
      const inputs = this.encoder.tokenizer(prompts, { padding: true, truncation: true });
      const { text_embeds } = (await this.encoder.model(inputs)) as { text_embeds: Tensor };
      const [n, dim] = text_embeds.dims as [number, number];
      if (n !== missing.length) throw new Error(`The CLIP text model returned ${n} embeddings for ${missing.length} texts.`);
      const data = text_embeds.data as Float32Array;
      missing.forEach((t, i) => this.cache.set(t, data.slice(i * dim, (i + 1) * dim)));
      this.embedded += missing.length;
    }
    return texts.map((t) => this.cache.get(t)!);
  }

  /** Cosine similarity in [-1, 1] of `concept` with each of `words` (the order of `words`). */
  async similarity(concept: string, words: string[]): Promise<number[]> {
    const clean = (w: string) => {
      const t = w.trim().toLowerCase();
      if (!t) throw new Error('CLIP similarity needs non-empty words; got an empty string.');
      return t;
    };
    const c = clean(concept);
    const ws = words.map(clean);
    const [ce, ...we] = await this.embed([c, ...ws]);
    return we.map((e) => cosine(ce!, e));
  }
}

/** How to load the CLIP text model through transformers.js (its `env` is set by the caller). */
export interface ClipLoadOptions {
  /** 'wasm' in the browser; 'cpu' in Node. */
  device: 'wasm' | 'cpu' | 'webgpu';
  dtype: 'q8' | 'fp32';
}

/** Load CLIP's tokenizer and text model from `repo` (files come from wherever transformers.js' env points). */
export async function loadClipText(repo: string, options: ClipLoadOptions): Promise<ClipTextEncoder> {
  try {
    const tokenizer = await AutoTokenizer.from_pretrained(repo);
    const model = (await CLIPTextModelWithProjection.from_pretrained(repo, { device: options.device, dtype: options.dtype })) as CLIPTextModelWithProjection;
    return { tokenizer, model };
  } catch (e) {
    throw new Error(`Could not load the CLIP text model (${repo}, ${options.dtype} on ${options.device}): ${(e as Error).message}`);
  }
}

/**
 * A transformers.js custom cache that asks `first`, then `second`: the judge worker's Florence-2
 * and CLIP files live under different manifests, and `env.customCache` is one object.
 */
export function chainCaches(first: CacheInterfaceLike, second: CacheInterfaceLike | null): CacheInterfaceLike {
  return {
    async match(key) {
      return (await first.match(key)) ?? (await second?.match(key));
    },
    async put() {
      // Nothing to store: the download layer already did.
    },
  };
}
