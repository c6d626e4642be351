/**
 * The message API between the page and `judge.worker.ts` (comlink). The worker owns Florence-2
 * (transformers.js, four onnxruntime sessions); the page sends images and gets typed results.
 */
import type { Capabilities } from '../src/lib/models/capabilities.ts';
import type { DownloadProgress } from '../src/lib/models/download.ts';
import type { FlorenceResult, FlorenceTask } from '../src/lib/eval/florence-parse.ts';
import type { DtypeMix, JudgeDevice, JudgeSource } from '../src/lib/models/florence-manifest.ts';
import type { ClipSource } from '../src/lib/models/clip-manifest.ts';

/** The part of the Web Cache API transformers.js' `env.customCache` uses. */
export interface CacheInterfaceLike {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
}

export interface JudgeLoadRequest {
  /** Which model (default: onnx-community/Florence-2-base-ft from the Hub). */
  source?: JudgeSource;
  /** Fetch files from this folder URL instead of the Hub (mirrors, tests). */
  baseUrl?: string;
  preference?: JudgeDevice | 'auto';
  /** Storage chunk size (tests use less than the default 64 MiB). */
  chunkBytes?: number;
  /** Skip the warm-up generation (default false). */
  skipWarmup?: boolean;
}

/** Load progress: the download layer's reports, then session creation, then warm-up. */
export type JudgeProgress =
  | { phase: 'download'; download: DownloadProgress }
  | { phase: 'loading'; file: string; loaded: number; total: number }
  | { phase: 'warming-up' }
  | { phase: 'ready' };

export interface JudgeLoadResult {
  device: JudgeDevice;
  dtype: DtypeMix;
  /** Why this device and mix, in a sentence for the user. */
  reason: string;
  /** Image side the processor resizes to (768 for Florence-2). */
  imageSize: [number, number];
  downloadMs: number;
  loadMs: number;
  warmupMs: number;
}

/** An image to judge: RGBA bytes, row-major, width·height·4. */
export interface JudgeImage {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

/** One task; `text` is the phrase input of `<CAPTION_TO_PHRASE_GROUNDING>`. */
export interface JudgeTaskRequest {
  task: FlorenceTask;
  text?: string;
  /** Default 128 (as the Florence-2 WebGPU demo). */
  maxNewTokens?: number;
}

export interface JudgeTaskResult {
  result: FlorenceResult;
  /** The decoded text with special tokens, as generated. */
  raw: string;
  /** Tokens generated (including the decoder start token). */
  tokens: number;
  ms: number;
}

export interface JudgeResult {
  results: JudgeTaskResult[];
  timings: { preprocessMs: number; totalMs: number };
}

/** Loading the optional CLIP text model (word similarity for presence decisions). */
export interface ClipLoadRequest {
  /** Which model (default: Xenova/clip-vit-base-patch32's q8 text tower from the Hub). */
  source?: ClipSource;
  /** Fetch files from this folder URL instead of the Hub (mirrors, tests). */
  baseUrl?: string;
  chunkBytes?: number;
}

export interface ClipLoadResult {
  /** Always WASM: a few short prompts per image, and q8 MatMulInteger has no WebGPU kernel. */
  device: 'wasm';
  dtype: ClipSource['dtype'];
  /** The prompt each word is embedded in, e.g. 'a photo of a {}'. */
  prompt: string;
  downloadMs: number;
  loadMs: number;
}

export interface JudgeWorkerApi {
  probe(): Promise<Capabilities>;
  load(request: JudgeLoadRequest, onProgress?: (p: JudgeProgress) => void): Promise<JudgeLoadResult>;
  /** Run tasks on one image; boxes are in pixels of that image, [x1, y1, x2, y2]. */
  judge(image: JudgeImage, tasks: JudgeTaskRequest[]): Promise<JudgeResult>;
  unload(): Promise<void>;
  /** Download (or reuse) and load the CLIP text model; independent of `load()`. */
  loadClip(request: ClipLoadRequest, onProgress?: (p: JudgeProgress) => void): Promise<ClipLoadResult>;
  /**
   * CLIP text cosine similarity in [-1, 1] of `concept` with each of `words` (same order), each
   * embedded as 'a photo of a {word}'; embeddings are cached per word. The argument order is
   * presence.ts's `SimilarityFn`, so the page can pass this method as the callback.
   */
  similarity(concept: string, words: string[]): Promise<number[]>;
}
