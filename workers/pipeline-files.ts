/**
 * Fetching a pipeline folder laid out like a diffusers ONNX export (text_encoder/, unet/,
 * vae_decoder/, pipeline.json) plus its tokenizer, and reading its config.
 */
import type { ModelRequirements } from '../src/lib/models/provider.ts';
import type { TokenizerFiles } from '../src/lib/models/tokenizer.ts';
import type { SchedulerConfig, SchedulerName } from '../src/lib/diffusion/index.ts';
import { SD1_SCHEDULER_CONFIG } from '../src/lib/diffusion/index.ts';
import type { SessionSource } from './ort-runtime.ts';

/** What the worker needs to know about a pipeline beyond its ONNX files. */
export interface PipelineConfig {
  /** Context width d (text encoder hidden size = UNet cross-attention width). */
  contextWidth: number;
  /** Default latent height = width. */
  latentSize: number;
  vaeScalingFactor: number;
  padTokenId: number;
  requirements: ModelRequirements;
  scheduler: { name: SchedulerName; config: Partial<SchedulerConfig> };
}

export interface PipelineFiles {
  config: PipelineConfig;
  tokenizer: TokenizerFiles;
  textEncoder: SessionSource;
  unet: SessionSource;
  vaeDecoder: SessionSource;
}

async function fetchOk(url: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`Could not fetch ${url}: ${(e as Error).message}. Check your connection and try again.`);
  }
  if (!response.ok) throw new Error(`Could not fetch ${url}: HTTP ${response.status} ${response.statusText}.`);
  return response;
}

const bytes = async (url: string) => new Uint8Array(await (await fetchOk(url)).arrayBuffer());
const json = async (url: string) => (await fetchOk(url)).json();

/** The generator's pipeline.json → the worker's config (SD 1.x conventions: pad = EOS). */
export function pipelineConfigFromJson(manifest: Record<string, unknown>): PipelineConfig {
  const num = (k: string) => {
    const v = manifest[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`pipeline.json: '${k}' must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  return {
    contextWidth: num('d'),
    latentSize: num('latentSize'),
    vaeScalingFactor: num('vaeScalingFactor'),
    padTokenId: typeof manifest.padTokenId === 'number' ? manifest.padTokenId : 49407,
    requirements: {
      float16: manifest.dtype === 'float16',
      ...(manifest.style === 'fused-packed-kv'
        ? { webgpuOnly: "its cross-attention uses MultiHeadAttention with packed K/V weights (MatMul_KV), which onnxruntime's WASM/CPU kernels do not implement" }
        : {}),
    },
    scheduler: { name: 'EulerDiscrete', config: { ...SD1_SCHEDULER_CONFIG } },
  };
}

/** Fetch everything a pipeline folder holds. `pipelineUrl` and `tokenizerUrl` end with '/'. */
export async function fetchPipeline(pipelineUrl: string, tokenizerUrl: string): Promise<PipelineFiles> {
  const manifest = (await json(new URL('pipeline.json', pipelineUrl).href)) as Record<string, unknown>;
  const config = pipelineConfigFromJson(manifest);
  const files = manifest.files as { textEncoder: string; unet: string; unetExternalData?: string; vaeDecoder: string };
  const at = (path: string) => new URL(path, pipelineUrl).href;
  const [tokenizerJson, tokenizerConfig, textEncoder, unet, vaeDecoder] = await Promise.all([
    json(new URL('tokenizer.json', tokenizerUrl).href),
    json(new URL('tokenizer_config.json', tokenizerUrl).href),
    bytes(at(files.textEncoder)),
    bytes(at(files.unet)),
    bytes(at(files.vaeDecoder)),
  ]);
  const unetSource: SessionSource = { model: unet };
  if (files.unetExternalData) {
    const location = files.unetExternalData.split('/').pop()!;
    unetSource.externalData = { [location]: await bytes(at(files.unetExternalData)) };
  }
  return {
    config,
    tokenizer: { tokenizerJson, tokenizerConfig },
    textEncoder: { model: textEncoder },
    unet: unetSource,
    vaeDecoder: { model: vaeDecoder },
  };
}
