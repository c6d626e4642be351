/**
 * A stored model (downloaded into OPFS by the models layer) as the worker needs it: the bytes of
 * each ONNX file, the tokenizer, and a config read from the manifest and from the UNet itself
 * (fp16 weights, packed-KV attention, context width), never assumed.
 */
import type { ModelRequirements } from '../src/lib/models/provider.ts';
import { fetchTokenizerFiles, type TokenizerFiles } from '../src/lib/models/tokenizer.ts';
import type { ManifestFile, ModelManifest } from '../src/lib/models/manifests.ts';
import { fileWithRole } from '../src/lib/models/manifests.ts';
import { openFile } from './model-files.ts';
import { describeExecutionRequirements, indexModel, unpackPackedKv, type CrossAttentionSite, type ModelIndex } from '../src/lib/onnx/index.ts';
import { unetWithQOutputs } from './attention-capture.ts';
import type { SchedulerConfig, SchedulerName } from '../src/lib/diffusion/index.ts';
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
  /** The UNet's 16 cross-attention sites, and the Q outputs appended for attention maps. */
  attention: { sites: CrossAttentionSite[]; qOutputs: string[] };
  tokenizer: TokenizerFiles;
  textEncoder: SessionSource;
  unet: SessionSource;
  vaeDecoder: SessionSource;
}

async function storedBytes(manifest: ModelManifest, file: ManifestFile): Promise<Uint8Array> {
  const blob = await openFile(manifest, file.path);
  return new Uint8Array(await blob.arrayBuffer());
}

/** The manifest's scheduler as the diffusion library's config. */
function schedulerOf(manifest: ModelManifest): PipelineConfig['scheduler'] {
  const s = manifest.scheduler;
  return {
    name: s.name,
    config: {
      betaStart: s.betaStart,
      betaEnd: s.betaEnd,
      numTrainTimesteps: s.numTrainTimesteps,
      stepsOffset: s.stepsOffset,
      timestepSpacing: s.timestepSpacing,
    },
  };
}

/**
 * Read a downloaded model from browser storage. `baseUrl` is the app's base URL, where the
 * tokenizer is served. Throws the store's NotStoredError / PartialFileError when a file is
 * missing or incomplete (their `.action` says: download it).
 */
export async function loadStoredPipeline(manifest: ModelManifest, baseUrl: string): Promise<PipelineFiles> {
  const unetFile = fileWithRole(manifest, 'unet');
  const unet: SessionSource = { model: await storedBytes(manifest, unetFile) };
  const external = manifest.files.filter((f) => f.role === 'external_data' && f.path.startsWith('unet/'));
  if (external.length) {
    unet.externalData = {};
    for (const f of external) unet.externalData[f.path.slice('unet/'.length)] = await storedBytes(manifest, f);
  }
  // The UNet's own graph says what the engine must offer and how wide the context is.
  const indexOf = (s: SessionSource) => indexModel(s.model, s.externalData ? { externalData: s.externalData } : {});
  let index: ModelIndex = await indexOf(unet);
  const needs = describeExecutionRequirements(index);
  if (!needs.runnable) {
    if (!needs.unpackable) throw new Error(`'${manifest.label}' cannot run in this browser: ${needs.reason}`);
    // Packed-KV attention runs on no onnxruntime-web engine: rewrite it as separate K and V.
    const r = await unpackPackedKv(index, unet);
    unet.model = new Uint8Array(await new Blob([r.model as BlobPart]).arrayBuffer());
    index = await indexOf(unet);
  }
  // Expose every attn2's Q as an output (appended bytes, fetched only when capturing maps).
  const { appended, names: qOutputs, sites } = unetWithQOutputs(index);
  const model = unet.model as Uint8Array;
  const withQ = new Uint8Array(model.length + appended.length);
  withQ.set(model);
  withQ.set(appended, model.length);
  unet.model = withQ;
  const contextWidth = sites[0]!.contextDim;
  if (manifest.contextWidth !== null && manifest.contextWidth !== contextWidth) {
    throw new Error(
      `The manifest of '${manifest.label}' says the context is ${manifest.contextWidth} wide, but its UNet reads ${contextWidth}: ` +
        `the files do not belong together. Delete the stored model and download it again.`,
    );
  }
  const [textEncoder, vaeDecoder, tokenizer] = await Promise.all([
    storedBytes(manifest, fileWithRole(manifest, 'text_encoder')),
    storedBytes(manifest, fileWithRole(manifest, 'vae_decoder')),
    fetchTokenizerFiles(new URL(manifest.tokenizer.path, baseUrl)),
  ]);
  return {
    attention: { sites, qOutputs },
    config: {
      contextWidth,
      latentSize: manifest.latentSize,
      vaeScalingFactor: manifest.vaeScalingFactor,
      padTokenId: manifest.tokenizer.padTokenId,
      requirements: { float16: needs.float16 },
      scheduler: schedulerOf(manifest),
    },
    tokenizer,
    textEncoder: { model: textEncoder },
    unet,
    vaeDecoder: { model: vaeDecoder },
  };
}
