/**
 * The judge worker: Florence-2 (transformers.js `Florence2ForConditionalGeneration` +
 * `AutoProcessor`) turning an image into typed `<OD>` / caption / grounding results. Exposed
 * with comlink; the page sees only `JudgeWorkerApi`.
 *
 * Files: downloaded by the app's own layer (`downloadModel`, OPFS, resumable, checked), then
 * handed to transformers.js through `env.customCache` (judge-files.ts `storeCache`). Remote
 * loading, transformers.js' Cache-API cache and its WASM-binary cache are off, so every byte
 * comes from the app's store and nothing is stored twice. onnxruntime's .wasm comes from the
 * app's own build (the bundler emits it), not from a CDN.
 */
import * as Comlink from 'comlink';
import { AutoProcessor, env, Florence2ForConditionalGeneration, full, RawImage, type Florence2Processor, type Tensor } from '@huggingface/transformers';
import { detectCapabilities } from '../src/lib/models/capabilities.ts';
import { downloadModel } from '../src/lib/models/download.ts';
import { wasmThreads } from '../src/lib/models/provider.ts';
import { parseFlorenceOutput } from '../src/lib/eval/florence-parse.ts';
import type { ClipLoadResult, JudgeLoadRequest, JudgeLoadResult, JudgeProgress, JudgeResult, JudgeTaskResult, JudgeWorkerApi } from './judge-api.ts';
import { storeCache } from './judge-files.ts';
import { chainCaches, ClipTextSimilarity, loadClipText } from './judge-clip.ts';
import { CLIP_VIT_B32_TEXT, clipManifest } from '../src/lib/models/clip-manifest.ts';
import { dtypeMix, FLORENCE_2_BASE_FT, judgeManifest, type JudgeDevice } from '../src/lib/models/florence-manifest.ts';

interface Loaded {
  model: Florence2ForConditionalGeneration;
  processor: Florence2Processor;
  device: JudgeDevice;
}
let loaded: Loaded | null = null;
/** The CLIP text model for word similarity (optional, loaded by loadClip). */
let clip: ClipTextSimilarity | null = null;
let disposeClip: (() => Promise<unknown>) | null = null;
/** Florence-2's store cache, kept so a later CLIP load can chain it (env.customCache is one object). */
let florenceCache: ReturnType<typeof storeCache> | null = null;

/** transformers.js settings: files only from our store, no second cache, no CDN. */
function configureTransformers(cache: ReturnType<typeof storeCache>, threads: number): void {
  env.allowRemoteModels = false;
  env.allowLocalModels = true; // required by transformers.js when remote is off; misses end in refuseFetch
  env.useBrowserCache = false;
  env.useFSCache = false;
  env.useWasmCache = false;
  env.useCustomCache = true;
  env.customCache = cache as never;
  env.fetch = refuseFetch;
  const wasm = env.backends.onnx.wasm!;
  // transformers.js points wasmPaths at jsDelivr; unset it so onnxruntime loads the .wasm the bundler emitted.
  wasm.wasmPaths = undefined as never;
  wasm.numThreads = threads;
  wasm.proxy = false;
}

/** A file transformers.js wants that the manifest does not list: say which, never fetch it. */
async function refuseFetch(url: string | URL): Promise<Response> {
  return new Response(`The judge only reads files of its manifest from storage; ${String(url)} is not one of them.`, { status: 404 });
}

async function release(): Promise<void> {
  const l = loaded;
  loaded = null;
  await l?.model.dispose();
}

/** Pick the device: WebGPU when an adapter exists (unless told otherwise), else WASM. */
function chooseDevice(pref: JudgeLoadRequest['preference'], hasAdapter: boolean): { device: JudgeDevice; why: string } {
  if (pref === 'wasm') return { device: 'wasm', why: 'WASM was requested' };
  if (hasAdapter) return { device: 'webgpu', why: pref === 'webgpu' ? 'WebGPU was requested' : 'a WebGPU adapter is available' };
  if (pref === 'webgpu') throw new Error('WebGPU was requested for the judge, but this browser offers no WebGPU adapter. Choose WASM instead.');
  return { device: 'wasm', why: 'there is no WebGPU adapter' };
}

const api: JudgeWorkerApi = {
  probe: detectCapabilities,

  async load(request, onProgress) {
    await release();
    const report = (p: JudgeProgress) => onProgress?.(p);
    const caps = await detectCapabilities();
    const { device, why } = chooseDevice(request.preference ?? 'auto', caps.gpu.adapter);
    const dtype = dtypeMix(device, caps.gpu.shaderF16);
    const source = request.source ?? FLORENCE_2_BASE_FT;
    const manifest = judgeManifest(source, dtype);

    const t0 = performance.now();
    await downloadModel(manifest, { baseUrl: request.baseUrl, chunkBytes: request.chunkBytes, onProgress: (download) => report({ phase: 'download', download }) });
    const t1 = performance.now();

    florenceCache = storeCache(manifest, source.repo);
    configureTransformers(florenceCache, wasmThreads(caps));
    const progress_callback = (p: { status: string; file?: string; loaded?: number; total?: number }) => {
      if (p.status === 'progress' && p.file) report({ phase: 'loading', file: p.file, loaded: p.loaded ?? 0, total: p.total ?? 0 });
    };
    let model: Florence2ForConditionalGeneration;
    let processor: Florence2Processor;
    try {
      model = (await Florence2ForConditionalGeneration.from_pretrained(source.repo, { dtype: { ...dtype }, device, progress_callback })) as Florence2ForConditionalGeneration;
      processor = (await AutoProcessor.from_pretrained(source.repo, {})) as Florence2Processor;
    } catch (e) {
      throw new Error(`Could not load Florence-2 (${source.repo}) on ${device} with ${JSON.stringify(dtype)}: ${(e as Error).message}`);
    }
    const t2 = performance.now();
    loaded = { model, processor, device };

    const size = (processor.image_processor!.config as { size?: { height: number; width: number } }).size ?? { height: 768, width: 768 };
    if (!request.skipWarmup) {
      report({ phase: 'warming-up' });
      // One token on a blank image compiles the kernels (WebGPU shaders), as the Florence-2 demo does.
      const text = processor.tokenizer!('a');
      await model.generate({ ...text, pixel_values: full([1, 3, size.height, size.width], 0.0), max_new_tokens: 1 } as never);
    }
    const t3 = performance.now();
    report({ phase: 'ready' });
    const reason = `${device === 'webgpu' ? 'WebGPU' : 'WASM'} because ${why}; ` +
      (dtype.vision_encoder === 'fp16' ? 'fp16 vision tower (the adapter has shader-f16)' : `fp32 vision tower (${device === 'webgpu' ? 'the adapter has no shader-f16' : 'WASM has no fp16 kernels'})`) +
      ', 4-bit encoder and decoder.';
    const result: JudgeLoadResult = { device, dtype, reason, imageSize: [size.width, size.height], downloadMs: t1 - t0, loadMs: t2 - t1, warmupMs: t3 - t2 };
    return result;
  },

  async judge(image, tasks): Promise<JudgeResult> {
    if (!loaded) throw new Error('The judge has no model loaded yet: call load() first.');
    const { model, processor } = loaded;
    if (!(image.width > 0 && image.height > 0) || image.rgba.length !== image.width * image.height * 4) {
      throw new Error(`The image must be RGBA with width·height·4 bytes (got ${image.rgba.length} bytes for ${image.width}×${image.height}).`);
    }
    const t0 = performance.now();
    const raw = new RawImage(image.rgba, image.width, image.height, 4).rgb();
    // The vision encoder still runs once per task (transformers.js re-encodes pixel_values in generate).
    const { pixel_values } = (await processor.image_processor!(raw)) as { pixel_values: Tensor };
    const t1 = performance.now();
    const results: JudgeTaskResult[] = [];
    for (const t of tasks) {
      const s = performance.now();
      const prompts = processor.construct_prompts(t.task + (t.text ?? ''));
      const text = processor.tokenizer!(prompts);
      const ids = (await model.generate({ ...text, pixel_values, max_new_tokens: t.maxNewTokens ?? 128, num_beams: 1, do_sample: false } as never)) as Tensor;
      const decoded = processor.batch_decode(ids as never, { skip_special_tokens: false })[0]!;
      results.push({ result: parseFlorenceOutput(t.task, decoded, [image.width, image.height]), raw: decoded, tokens: ids.dims.at(-1)!, ms: performance.now() - s });
    }
    return { results, timings: { preprocessMs: t1 - t0, totalMs: performance.now() - t0 } };
  },

  async unload() {
    await release();
    await releaseClip();
  },

  async loadClip(request, onProgress): Promise<ClipLoadResult> {
    await releaseClip();
    const source = request.source ?? CLIP_VIT_B32_TEXT;
    const manifest = clipManifest(source);
    const t0 = performance.now();
    await downloadModel(manifest, { baseUrl: request.baseUrl, chunkBytes: request.chunkBytes, onProgress: (download) => onProgress?.({ phase: 'download', download }) });
    const t1 = performance.now();
    configureTransformers(chainCaches(storeCache(manifest, source.repo), florenceCache), wasmThreads(await detectCapabilities()));
    // WASM always: a dozen short prompts per image, and the q8 graph's MatMulInteger has no WebGPU kernel.
    const encoder = await loadClipText(source.repo, { device: 'wasm', dtype: source.dtype });
    clip = new ClipTextSimilarity(encoder);
    disposeClip = () => encoder.model.dispose();
    onProgress?.({ phase: 'ready' });
    return { device: 'wasm', dtype: source.dtype, prompt: clip.prompt, downloadMs: t1 - t0, loadMs: performance.now() - t1 };
  },

  async similarity(concept, words) {
    if (!clip) throw new Error('The judge has no CLIP text model loaded: call loadClip() first.');
    return clip.similarity(concept, words);
  },
};

async function releaseClip(): Promise<void> {
  const dispose = disposeClip;
  clip = null;
  disposeClip = null;
  await dispose?.();
}

Comlink.expose(api);
