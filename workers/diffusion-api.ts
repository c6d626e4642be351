/**
 * The message API between the page and `diffusion.worker.ts` (comlink). The worker owns every
 * inference session and all heavy state; the page sends plain requests and gets plain results.
 */
import type { GpuBufferStats } from './gpu-buffers.ts';
import type { Capabilities } from '../src/lib/models/capabilities.ts';
import type { ModelManifest } from '../src/lib/models/manifests.ts';
import type { DownloadProgress } from '../src/lib/models/download.ts';
import type { StoredModel } from '../src/lib/models/store.ts';
import type { Provider } from '../src/lib/models/provider.ts';
import type { EraseRequest, EditDiagnostics } from '../src/lib/erasure/index.ts';
import type { ImportSummary } from './edit-state.ts';
import type { TokenMaps } from '../src/lib/attention/index.ts';

/** A context map as versioned JSON (serializeContextMap). */
export type SerializedContextMap = string;

export interface DownloadRequest {
  manifest: ModelManifest;
  /** The app's base URL (document.baseURI): built-in models and the tokenizer are served under it. */
  baseUrl: string;
  /** Hugging Face access token for gated repos (never stored by the app). */
  accessToken?: string;
  /** Delete what is stored for this model and fetch everything again. */
  restart?: boolean;
}

/** Where a download put the files. */
export interface DownloadOutcome {
  /** 'memory' when this page may not use browser storage (e.g. an embed on another site). */
  storage: 'opfs' | 'memory';
  /** What that means for the user, when it is not the usual. */
  note?: string;
}

export interface LoadRequest {
  /** A model already downloaded into browser storage (see `download`). */
  manifest: ModelManifest;
  /** The app's base URL (document.baseURI), for the tokenizer. */
  baseUrl: string;
  preference: Provider | 'auto';
  /** WASM threads to use instead of the default (capped at the cores, and 1 without isolation). */
  threads?: number;
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
  /** Apply the current edit (context map) to both guidance branches; false = the original model. */
  edited?: boolean;
  /** Also return per-word cross-attention maps (DAAM), captured during this generation. */
  attention?: boolean;
  /** Send a cheap latent preview with every progress report. */
  preview?: boolean;
}

/** Per-word cross-attention maps of one generation. */
export interface AttentionResult {
  /** The prompt's words and their token positions. */
  words: { text: string; tokenIndices: number[] }[];
  /** DAAM maps at latent resolution, one per token position in `maps.tokens`. */
  maps: TokenMaps;
}

/** What an erasure did, in plain data (the map itself stays in the worker). */
export interface EraseSummary {
  method: EraseRequest['method'];
  /** Milliseconds to compute the map, prompt encoding included. */
  ms: number;
  /** The final map's diagnostics (rank of M − I, condition number, movement of each vector). */
  diagnostics: EditDiagnostics;
  stages: { label: string; rank: number; conditionNumber: number }[];
  /** The map, serialised: for share links, saving, and the CLI's format. */
  map: SerializedContextMap;
}

export interface GenerateProgress {
  step: number;
  steps: number;
  /** With `preview`: the latents after this step, approximated to RGB at latent resolution. */
  preview?: { width: number; height: number; rgba: Uint8ClampedArray };
}

export interface GenerateResult {
  width: number;
  height: number;
  /** RGBA, row-major, width·height·4 bytes. */
  rgba: Uint8ClampedArray;
  provider: Provider;
  timings: { encodeMs: number; denoiseMs: number; decodeMs: number; totalMs: number };
  attention?: AttentionResult;
}

export interface DiffusionWorkerApi {
  /** What the worker's environment offers (WebGPU adapter, isolation, cores). */
  probe(): Promise<Capabilities>;
  /**
   * Stream a model's files into browser storage (OPFS), resuming what a previous visit left.
   * Rejects with the models layer's typed errors (QuotaError, GatedModelError, …), whose
   * `.action` says what the user can do.
   */
  download(request: DownloadRequest, onProgress?: (p: DownloadProgress) => void): Promise<DownloadOutcome>;
  /**
   * Store files the user picked (a diffusers ONNX folder, see manifestFromFiles) into browser
   * storage as if downloaded, with the same progress reports; `load` then opens them.
   * `files` maps each manifest path to its File/Blob (structured-cloned, not copied into memory).
   */
  importFiles(manifest: ModelManifest, files: Record<string, Blob>, onProgress?: (p: DownloadProgress) => void): Promise<void>;
  /** Abort a running download (it can be resumed later). */
  abortDownload(): Promise<void>;
  /** What browser storage holds. */
  listStored(): Promise<StoredModel[]>;
  deleteStored(modelId: string | 'all'): Promise<void>;
  /** Create sessions for a stored model on the best engine here (or the one asked for). */
  load(request: LoadRequest): Promise<LoadResult>;
  generate(request: GenerateRequest, onProgress?: (p: GenerateProgress) => void): Promise<GenerateResult>;
  /** Compute an erasure on the loaded model and make it the current edit. */
  erase(request: EraseRequest): Promise<EraseSummary>;
  /** Use a saved map as the current edit (e.g. from a share link); returns its rank. */
  setEdit(map: SerializedContextMap | null): Promise<{ rank: number } | null>;
  /**
   * Import a published edit (safetensors, diffusers names, [out, in]): as a context map when one
   * shared M explains it, else by patching the UNet's weights (a second UNet session).
   */
  importEditedWeights(bytes: Uint8Array): Promise<ImportSummary>;
  /** The current edit as W·M per projection, a diffusers-named safetensors file. */
  exportEditedWeights(dtype: 'F32' | 'F16'): Promise<Uint8Array>;
  /** Stop any running generation (it rejects with a CancelledError). */
  cancel(): Promise<void>;
  /** Release all sessions. */
  unload(): Promise<void>;
  /**
   * GPU memory held in buffers by this worker (engine and kernels), counted since the worker
   * started; null without WebGPU.
   */
  gpuMemory(): Promise<GpuBufferStats | null>;
}
