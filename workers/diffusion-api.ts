/**
 * The message API between the page and `diffusion.worker.ts` (comlink). The worker owns every
 * inference session and all heavy state; the page sends plain requests and gets plain results.
 */
import type { Capabilities } from '../src/lib/models/capabilities.ts';
import type { Provider } from '../src/lib/models/provider.ts';

export interface LoadRequest {
  /** URL of the pipeline folder (holding pipeline.json, text_encoder/, unet/, vae_decoder/). */
  pipelineUrl: string;
  /** URL of the tokenizer folder (tokenizer.json, tokenizer_config.json). */
  tokenizerUrl: string;
  preference: Provider | 'auto';
}

export interface LoadResult {
  provider: Provider;
  threads: number;
  /** Why this engine, in a sentence for the user. */
  reason: string;
  /** Context width d of the text encoder output. */
  contextWidth: number;
  /** Default latent size (H = W), in latent pixels. */
  latentSize: number;
  /** Milliseconds to create all sessions. */
  loadMs: number;
}

export interface GenerateRequest {
  prompt: string;
  /** '' by default: the unconditional prompt for classifier-free guidance. */
  negativePrompt?: string;
  /** An integer a user can type and share. */
  seed: number;
  steps: number;
  /** Classifier-free guidance scale; ≤ 1 runs the conditional branch only. */
  guidance: number;
}

export interface GenerateProgress {
  step: number;
  steps: number;
}

export interface GenerateResult {
  width: number;
  height: number;
  /** RGBA, row-major, width·height·4 bytes. */
  rgba: Uint8ClampedArray;
  provider: Provider;
  timings: { encodeMs: number; denoiseMs: number; decodeMs: number; totalMs: number };
}

export interface DiffusionWorkerApi {
  /** What the worker's environment offers (WebGPU adapter, isolation, cores). */
  probe(): Promise<Capabilities>;
  load(request: LoadRequest): Promise<LoadResult>;
  generate(request: GenerateRequest, onProgress?: (p: GenerateProgress) => void): Promise<GenerateResult>;
  /** Release all sessions. */
  unload(): Promise<void>;
}
