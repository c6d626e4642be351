/**
 * The diffusion worker: owns the onnxruntime sessions of one Stable Diffusion pipeline (text
 * encoder, UNet, VAE decoder) and the current edit, and turns {prompt, seed} into an image.
 * Exposed with comlink; the page sees only `DiffusionWorkerApi`.
 */
import * as Comlink from 'comlink';
import { detectCapabilities } from '../src/lib/models/capabilities.ts';
import { afterFailedGpuCheck, chooseProvider } from '../src/lib/models/provider.ts';
import { ClipPromptTokenizer } from '../src/lib/models/tokenizer.ts';
import type { DiffusionWorkerApi, GenerateRequest, LoadRequest, LoadResult } from './diffusion-api.ts';
import { createSession, loadOrt, type Session } from './ort-runtime.ts';
import { loadStoredPipeline } from './pipeline-files.ts';
import { downloadModel, importModelFiles } from '../src/lib/models/download.ts';
import { deleteAllStoredModels, deleteStoredModel, listStoredModels, openModelFile } from '../src/lib/models/store.ts';
import type { ModelManifest } from '../src/lib/models/manifests.ts';
import { downloadToMemory, dropFromMemory, isStorageRefused } from './model-files.ts';
import { encodeText, runPipeline, type PipelineSessions } from './sd-pipeline.ts';
import { EditState } from './edit-state.ts';
import { Cancellation } from './cancellation.ts';
import { ContextMapGpu } from '../shaders/context-map-runner.ts';
import { checkMultiHeadAttention, describeFailedCheck } from './mha-probe.ts';
import { attentionProbesFor } from '../src/lib/models/attention-check.ts';
import { gpuBufferStats, trackGpuBuffers } from './gpu-buffers.ts';
import { withModelLock } from '../src/lib/models/locks.ts';

trackGpuBuffers();

let loaded: (PipelineSessions & { edits: EditState; editedUnet: Session | null }) | null = null;
const generations = new Cancellation();
let downloading: AbortController | null = null;

async function release(): Promise<void> {
  generations.cancelAll();
  const l = loaded;
  loaded = null;
  l?.contextMapGpu?.destroy();
  if (l) await Promise.all([l.textEncoder.release(), l.unet.release(), l.vaeDecoder.release(), l.editedUnet?.release()]);
}

/**
 * A built-in model is regenerated with the app (its files have no fixed size or checksum), so a
 * stored copy is stale when the served pipeline.json differs from the stored one.
 */
async function builtinChanged(manifest: ModelManifest, baseUrl: string): Promise<boolean> {
  if (manifest.source.kind !== 'builtin') return false;
  const served = await fetch(new URL(`${manifest.source.path}pipeline.json`, baseUrl), { cache: 'no-store' }).then((r) => (r.ok ? r.text() : null));
  const stored = await openModelFile(manifest.id, 'pipeline.json').then((b) => b.text()).catch(() => null);
  return served !== null && stored !== null && served !== stored;
}

async function dropEditedUnet(l: NonNullable<typeof loaded>): Promise<void> {
  const s = l.editedUnet;
  l.editedUnet = null;
  await s?.release();
}

async function bytesOf(files: Record<string, ArrayBuffer | Uint8Array | Blob>): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(files)) out[k] = v instanceof Uint8Array ? v : new Uint8Array(v instanceof Blob ? await v.arrayBuffer() : v);
  return out;
}

function requireLoaded() {
  if (!loaded) throw new Error('No model is loaded yet: load one first.');
  return loaded;
}

const api: DiffusionWorkerApi = {
  probe: detectCapabilities,

  async download(request, onProgress) {
    downloading?.abort();
    const controller = (downloading = new AbortController());
    const { manifest } = request;
    // Built-in models are served with the app; Hub models come from the Hub.
    const baseUrl = manifest.source.kind === 'builtin' ? new URL(manifest.source.path, request.baseUrl).href : undefined;
    try {
      const restart = request.restart || (await builtinChanged(manifest, request.baseUrl));
      await downloadModel(manifest, {
        ...(baseUrl ? { baseUrl } : {}),
        ...(request.accessToken ? { accessToken: request.accessToken } : {}),
        ...(restart ? { restart: true } : {}),
        ...(onProgress ? { onProgress } : {}),
        signal: controller.signal,
      });
      return { storage: 'opfs' };
    } catch (e) {
      if (!isStorageRefused(e)) throw e;
      await downloadToMemory(manifest, baseUrl, onProgress, controller.signal);
      return {
        storage: 'memory',
        note: 'This browser gives this page no storage (an embed on another site?), so the model is held in memory for this visit only.',
      };
    } finally {
      if (downloading === controller) downloading = null;
    }
  },

  async importFiles(manifest, files, onProgress) {
    downloading?.abort();
    const controller = (downloading = new AbortController());
    try {
      await importModelFiles(manifest, new Map(Object.entries(files)), { ...(onProgress ? { onProgress } : {}), signal: controller.signal });
    } finally {
      if (downloading === controller) downloading = null;
    }
  },

  async abortDownload() {
    downloading?.abort();
  },

  listStored: listStoredModels,

  async deleteStored(modelId) {
    dropFromMemory(modelId);
    if (modelId === 'all') await deleteAllStoredModels();
    else await withModelLock(modelId, 'exclusive', () => deleteStoredModel(modelId));
  },

  async load(request: LoadRequest): Promise<LoadResult> {
    const t0 = performance.now();
    await release();
    // Shared: other workers may read this model too, none may rewrite it meanwhile.
    const files = await withModelLock(request.manifest.id, 'shared', () => loadStoredPipeline(request.manifest, request.baseUrl));
    const caps = await detectCapabilities();
    let choice = chooseProvider(caps, files.config.requirements, request.preference);
    if (request.threads !== undefined) {
      const most = caps.crossOriginIsolated ? Math.max(1, caps.cores) : 1;
      choice.threads = Math.max(1, Math.min(Math.floor(request.threads), most));
    }
    let ort = await loadOrt(choice.provider, choice.threads);
    if (choice.provider === 'webgpu') {
      // A fused UNet is trusted to WebGPU only if this adapter computes MultiHeadAttention right.
      const failed = (await checkMultiHeadAttention(ort, 'webgpu', attentionProbesFor(files.attention.sites))).find((c) => !c.ok);
      if (failed) {
        choice = afterFailedGpuCheck(choice, request.preference, describeFailedCheck(failed, caps.gpu.description || caps.gpu.architecture || caps.gpu.vendor || 'unknown'));
        if (choice.provider === 'wasm') ort = await loadOrt('wasm', choice.threads);
      }
    }
    const [textEncoder, unet, vaeDecoder] = [
      // On WebGPU the text encoder's output stays on the GPU (see workers/unet-context.ts).
      await createSession(ort, 'text encoder', files.textEncoder, choice.provider, 'all'),
      await createSession(ort, 'UNet', files.unet, choice.provider, files.attention.qOutputs),
      await createSession(ort, 'VAE decoder', files.vaeDecoder, choice.provider),
    ];
    const tokenizer = new ClipPromptTokenizer(files.tokenizer, { padId: files.config.padTokenId });
    const sessions: PipelineSessions = {
      ort, choice, config: files.config, tokenizer, textEncoder, unet, vaeDecoder,
      attention: { ...files.attention, unetSources: files.unet },
      contextMapGpu: choice.provider === 'webgpu' ? new ContextMapGpu(await ort.env.webgpu.device) : null,
    };
    const edits = new EditState({
      contextWidth: files.config.contextWidth,
      encodePrompt: async (text) => ({ ids: tokenizer.encodePrompt(text).ids, hidden: await encodeText(sessions, text) }),
      unetSources: files.unet,
    });
    loaded = { ...sessions, edits, editedUnet: null };
    return {
      provider: choice.provider,
      threads: choice.threads,
      reason: choice.reason,
      contextWidth: files.config.contextWidth,
      latentSize: files.config.latentSize,
      loadMs: performance.now() - t0,
    };
  },

  async generate(request: GenerateRequest, onProgress) {
    const l = requireLoaded();
    // A newer request supersedes this one: it stops at its next step with a CancelledError.
    const token = generations.begin();
    // An imported edit that is no shared map runs on its own patched UNet session.
    const sessions = request.edited && l.editedUnet ? { ...l, unet: l.editedUnet } : l;
    try {
      return await runPipeline(sessions, request, {
        onProgress,
        checkCancelled: token.check,
        map: request.edited ? l.edits.map : null,
      });
    } finally {
      generations.end(token);
    }
  },

  async erase(request) {
    const l = requireLoaded();
    await dropEditedUnet(l);
    return l.edits.erase(request);
  },

  async setEdit(map) {
    const l = requireLoaded();
    await dropEditedUnet(l);
    return l.edits.set(map);
  },

  async importEditedWeights(bytes) {
    const l = requireLoaded();
    await dropEditedUnet(l);
    const summary = await l.edits.importWeights(bytes);
    if (l.edits.patchedUnet) {
      const { model, externalData } = l.edits.patchedUnet;
      l.editedUnet = await createSession(
        l.ort,
        'edited UNet',
        {
          model: model instanceof Uint8Array ? model : new Uint8Array(await new Blob([model]).arrayBuffer()),
          ...(externalData ? { externalData: await bytesOf(externalData) } : {}),
        },
        l.choice.provider,
      );
    }
    return summary;
  },

  async exportEditedWeights(dtype) {
    return requireLoaded().edits.exportWeights(dtype);
  },

  async cancel() {
    generations.cancelAll();
  },

  unload: release,

  async gpuMemory() {
    return gpuBufferStats();
  },
};

Comlink.expose(api);
