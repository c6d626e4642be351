/**
 * Florence-2's files for the judge: which ONNX files per device (the dtype mix) and the manifest
 * the app's download layer stores them with (OPFS, resumable, checked). Data, like the other
 * manifests; the worker's cache adapter (workers/judge-files.ts) hands the stored files to
 * transformers.js.
 *
 * Dtype mixes (file suffixes as transformers.js names them: '' fp32, '_fp16', '_q4'):
 * - WebGPU with `shader-f16`: embed_tokens and vision_encoder fp16, encoder and decoder q4
 *   (the mix of transformers.js-examples/florence2-webgpu; the encoder-decoder is sensitive to
 *   quantisation, so the vision tower stays in floating point). About 360 MB.
 * - WebGPU without `shader-f16`, and WASM: embed_tokens and vision_encoder fp32, encoder and
 *   decoder q4 (MatMulNBits, which onnxruntime's CPU/WASM kernels implement). fp16 is not an
 *   option on WASM: onnxruntime's CPU kernels have no fp16 versions of most ops, and
 *   transformers.js v3 refused outright ("The device does not support fp16", transformers.js
 *   #867). About 620 MB, since the fp32 vision encoder is 367 MB.
 */
import { fileSetManifest, type ModelManifest } from './manifests.ts';

export type JudgeDevice = 'webgpu' | 'wasm';
export type Dtype = 'fp32' | 'fp16' | 'q4';

/** Dtype per session, keyed as transformers.js names the four Florence-2 sessions. */
export interface DtypeMix {
  embed_tokens: Dtype;
  vision_encoder: Dtype;
  encoder_model: Dtype;
  decoder_model_merged: Dtype;
}

/** The mix for a device: fp16 towers only on WebGPU with shader-f16 (see the file comment). */
export function dtypeMix(device: JudgeDevice, shaderF16: boolean): DtypeMix {
  const tower: Dtype = device === 'webgpu' && shaderF16 ? 'fp16' : 'fp32';
  return { embed_tokens: tower, vision_encoder: tower, encoder_model: 'q4', decoder_model_merged: 'q4' };
}

const SUFFIX: Record<Dtype, string> = { fp32: '', fp16: '_fp16', q4: '_q4' };

/** The ONNX paths a mix loads: 'onnx/embed_tokens_fp16.onnx', … */
export function onnxPaths(mix: DtypeMix): string[] {
  return (Object.keys(mix) as (keyof DtypeMix)[]).map((name) => `onnx/${name}${SUFFIX[mix[name]]}.onnx`);
}

/** The JSON files transformers.js reads besides the graphs. */
export const CONFIG_PATHS = ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'];

/** Approximate sizes of onnx-community/Florence-2-base-ft's files (bytes; fp16 estimated as half of fp32). */
const APPROX: Record<string, number> = {
  'onnx/embed_tokens.onnx': 158e6, 'onnx/embed_tokens_fp16.onnx': 79e6,
  'onnx/vision_encoder.onnx': 367e6, 'onnx/vision_encoder_fp16.onnx': 184e6,
  'onnx/encoder_model_q4.onnx': 30.1e6, 'onnx/decoder_model_merged_q4.onnx': 64.4e6,
  'tokenizer.json': 3.6e6,
};

/** Where the judge's files come from: the Hub, or a folder URL (tests, mirrors). */
export interface JudgeSource {
  /** Storage id, e.g. 'florence-2-base-ft'. */
  id: string;
  label: string;
  /** Hub repo and revision of the files. */
  repo: string;
  revision: string;
  /** Exact sizes where known (e.g. a generated test model); others are 'unknown'. */
  sizes?: Record<string, number>;
}

/** The real model. */
export const FLORENCE_2_BASE_FT: JudgeSource = { id: 'florence-2-base-ft', label: 'Florence-2 base (fine-tuned)', repo: 'onnx-community/Florence-2-base-ft', revision: 'main' };

/**
 * The manifest the download layer stores a mix with: kind 'florence-2', a file set of 'onnx'
 * graphs and configs. Its Stable Diffusion run fields (scheduler, latent size, …) are required by
 * the type but unused and not validated for this kind; it is never offered to the diffusion worker.
 */
export function judgeManifest(source: JudgeSource, mix: DtypeMix): ModelManifest {
  return fileSetManifest({
    kind: 'florence-2',
    id: source.id,
    label: source.label,
    repo: source.repo,
    revision: source.revision,
    about: `Florence-2 for judging images (transformers.js layout), dtypes ${JSON.stringify(mix)}.`,
    paths: [...CONFIG_PATHS, ...onnxPaths(mix)],
    ...(source.sizes ? { sizes: source.sizes } : {}),
    approx: APPROX,
    shaderF16: mix.vision_encoder === 'fp16',
  });
}
