/**
 * What to generate: the user-facing spec (size preset, export style, dtype, …) and the resolved
 * architecture configs of the three models, shaped like the diffusers configs they imitate.
 */

/** Export style of the UNet attention (see unet.ts for the exact graph of each). */
export type ExportStyle = 'plain' | 'fused' | 'fused-packed-kv';
/** Compute dtype: float16 keeps float32 graph inputs/outputs with Casts at the edges. */
export type ComputeDtype = 'float32' | 'float16';
export type SizePreset = 'tiny' | 'sd15';

/** Options of the generator; every field has a default (see {@link resolveSpec}). */
export interface PipelineSpec {
  size?: SizePreset;
  style?: ExportStyle;
  dtype?: ComputeDtype;
  seed?: number;
  /** Write UNet tensors >= 1024 bytes to `weights.pb` beside `model.onnx`. */
  externalData?: boolean;
  /** UNet `timestep` input: int64 [1] (SD-Turbo web files) or float32 [batch] (diffusers). */
  timestepDtype?: 'int64' | 'float32';
  /** A fixed batch size in the UNet input shapes (e.g. 2 for guidance); default symbolic 'batch'. */
  staticBatch?: number;
  /** Latent height = width the pipeline is meant for (pipeline.json; static when staticLatent). */
  latentSize?: number;
  /** Make the UNet's height/width static (latentSize) instead of symbolic. */
  staticLatent?: boolean;
  /** Add every attn2 Softmax output as a graph output (plain style only). */
  exposeCrossAttentionProbs?: boolean;
}

/** A spec with every default filled in. */
export type ResolvedSpec = Required<Omit<PipelineSpec, 'staticBatch'>> & { staticBatch?: number };

/** CLIP text model config. */
export interface TextEncoderConfig {
  vocabSize: number;
  maxPositions: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  activation: 'quick_gelu' | 'gelu';
  layerNormEps: number;
}

/** UNet2DConditionModel config (SD 1.x layout). */
export interface UnetConfig {
  inChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  crossAttentionDim: number;
  heads: number;
  normGroups: number;
  normEps: number;
}

/** AutoencoderKL decoder config. */
export interface VaeConfig {
  latentChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  normGroups: number;
  scalingFactor: number;
}

/** Fills defaults and checks the combination makes sense. */
export function resolveSpec(spec: PipelineSpec = {}): ResolvedSpec {
  const size = spec.size ?? 'tiny';
  if (size !== 'tiny' && size !== 'sd15') throw new Error(`sdgen: unknown size "${size}"; use 'tiny' or 'sd15'.`);
  const style = spec.style ?? 'plain';
  if (!['plain', 'fused', 'fused-packed-kv'].includes(style)) throw new Error(`sdgen: unknown style "${style}"; use plain, fused or fused-packed-kv.`);
  const dtype = spec.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float16') throw new Error(`sdgen: unknown dtype "${dtype}"; use float32 or float16.`);
  const latentSize = spec.latentSize ?? (size === 'tiny' ? 32 : 64);
  if (latentSize % 8 !== 0 || latentSize <= 0) throw new Error(`sdgen: latentSize ${latentSize} must be a positive multiple of 8 (the UNet downsamples three times).`);
  const resolved: ResolvedSpec = {
    size,
    style,
    dtype,
    seed: spec.seed ?? 0,
    externalData: spec.externalData ?? false,
    timestepDtype: spec.timestepDtype ?? 'int64',
    latentSize,
    staticLatent: spec.staticLatent ?? false,
    exposeCrossAttentionProbs: spec.exposeCrossAttentionProbs ?? false,
  };
  if (spec.staticBatch !== undefined) resolved.staticBatch = spec.staticBatch;
  if (resolved.exposeCrossAttentionProbs && style !== 'plain') {
    throw new Error(`sdgen: exposeCrossAttentionProbs needs style 'plain'; the ${style} export has no attn2 Softmax node to expose.`);
  }
  return resolved;
}

/** Text encoder config: tiny (D=32) or SD 1.5 width (D=768, kept at 2 layers for speed). */
export function textEncoderConfig(size: SizePreset): TextEncoderConfig {
  const hidden = size === 'tiny' ? 32 : 768;
  return {
    vocabSize: 49408,
    maxPositions: 77,
    hidden,
    layers: 2,
    heads: size === 'tiny' ? 4 : 12,
    intermediate: 4 * hidden,
    activation: 'quick_gelu',
    layerNormEps: 1e-5,
  };
}

/** UNet config: the full SD 1.x block structure at tiny or real width. */
export function unetConfig(size: SizePreset): UnetConfig {
  return {
    inChannels: 4,
    outChannels: 4,
    blockOutChannels: size === 'tiny' ? [32, 32, 64, 64] : [320, 640, 1280, 1280],
    layersPerBlock: 2,
    crossAttentionDim: textEncoderConfig(size).hidden,
    heads: 8,
    normGroups: size === 'tiny' ? 8 : 32,
    normEps: 1e-5,
  };
}

/** VAE decoder config: a narrow decoder for tiny, the real SD one for sd15. */
export function vaeConfig(size: SizePreset): VaeConfig {
  return size === 'tiny'
    ? { latentChannels: 4, outChannels: 3, blockOutChannels: [8, 16, 32, 32], layersPerBlock: 1, normGroups: 4, scalingFactor: 0.18215 }
    : { latentChannels: 4, outChannels: 3, blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2, normGroups: 32, scalingFactor: 0.18215 };
}
