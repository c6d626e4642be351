/**
 * The diffusion worker: owns the onnxruntime sessions of one Stable Diffusion pipeline (text
 * encoder, UNet, VAE decoder) and turns {prompt, seed} into an image. Exposed with comlink; the
 * page sees only `DiffusionWorkerApi`.
 */
import * as Comlink from 'comlink';
import { detectCapabilities } from '../src/lib/models/capabilities.ts';
import { chooseProvider } from '../src/lib/models/provider.ts';
import { ClipPromptTokenizer } from '../src/lib/models/tokenizer.ts';
import type { DiffusionWorkerApi, GenerateRequest, LoadRequest, LoadResult } from './diffusion-api.ts';
import { createSession, loadOrt } from './ort-runtime.ts';
import { fetchPipeline } from './pipeline-files.ts';
import { runPipeline, type PipelineSessions } from './sd-pipeline.ts';

let loaded: PipelineSessions | null = null;

async function release(): Promise<void> {
  const l = loaded;
  loaded = null;
  if (l) await Promise.all([l.textEncoder.release(), l.unet.release(), l.vaeDecoder.release()]);
}

const api: DiffusionWorkerApi = {
  probe: detectCapabilities,

  async load(request: LoadRequest): Promise<LoadResult> {
    const t0 = performance.now();
    await release();
    const files = await fetchPipeline(request.pipelineUrl, request.tokenizerUrl);
    const choice = chooseProvider(await detectCapabilities(), files.config.requirements, request.preference);
    const ort = await loadOrt(choice.provider, choice.threads);
    const [textEncoder, unet, vaeDecoder] = [
      await createSession(ort, 'text encoder', files.textEncoder, choice.provider),
      await createSession(ort, 'UNet', files.unet, choice.provider),
      await createSession(ort, 'VAE decoder', files.vaeDecoder, choice.provider),
    ];
    const tokenizer = new ClipPromptTokenizer(files.tokenizer, { padId: files.config.padTokenId });
    loaded = { ort, choice, config: files.config, tokenizer, textEncoder, unet, vaeDecoder };
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
    if (!loaded) throw new Error('No model is loaded yet: load one before generating.');
    return runPipeline(loaded, request, onProgress);
  },

  unload: release,
};

Comlink.expose(api);
