/**
 * The CLIP text model the judge uses for word similarity ("is a 'sedan' a car?"), as a manifest
 * the app's download layer stores (OPFS, resumable, checked) and the judge worker hands to
 * transformers.js (`CLIPTextModelWithProjection`, which loads `onnx/text_model{suffix}.onnx`).
 *
 * Real model: Xenova/clip-vit-base-patch32, `onnx/text_model_quantized.onnx` (q8, about 64 MB;
 * the fp32 `onnx/text_model.onnx` is about 254 MB). q8 is the default: the text tower is small
 * compute (a dozen short prompts per image), runs on WASM, and 8-bit costs little accuracy for
 * cosine similarities of whole-prompt embeddings.
 */
import { fileSetManifest, type ModelManifest } from './manifests.ts';

/** Dtypes of the text model as transformers.js names them ('q8' → '_quantized', 'fp32' → ''). */
export type ClipDtype = 'q8' | 'fp32';

const SUFFIX: Record<ClipDtype, string> = { q8: '_quantized', fp32: '' };

/** Where the CLIP text model comes from: the Hub, or a folder URL (tests, mirrors). */
export interface ClipSource {
  /** Storage id, e.g. 'clip-vit-base-patch32-text'. */
  id: string;
  label: string;
  repo: string;
  revision: string;
  dtype: ClipDtype;
  /** Exact sizes where known (a generated test model); others are 'unknown'. */
  sizes?: Record<string, number>;
}

/** The real model (q8 text tower). */
export const CLIP_VIT_B32_TEXT: ClipSource = {
  id: 'clip-vit-base-patch32-text', label: 'CLIP ViT-B/32 text model (8-bit)', repo: 'Xenova/clip-vit-base-patch32', revision: 'main', dtype: 'q8',
};

/** The JSON files transformers.js reads besides the graph. */
export const CLIP_CONFIG_PATHS = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];

/** The ONNX path transformers.js loads for a dtype: 'onnx/text_model_quantized.onnx' for q8. */
export function clipTextOnnxPath(dtype: ClipDtype): string {
  return `onnx/text_model${SUFFIX[dtype]}.onnx`;
}

/** Approximate sizes of Xenova/clip-vit-base-patch32's files (bytes). */
const APPROX: Record<string, number> = {
  'onnx/text_model_quantized.onnx': 64e6, 'onnx/text_model.onnx': 254e6, 'tokenizer.json': 2.2e6, 'config.json': 5e3,
};

/** The manifest of the CLIP text model: kind 'clip-text', configs + one graph. */
export function clipManifest(source: ClipSource): ModelManifest {
  return fileSetManifest({
    kind: 'clip-text',
    id: source.id,
    label: source.label,
    repo: source.repo,
    revision: source.revision,
    about: `CLIP text model for word similarity in the judge (transformers.js layout, ${source.dtype}).`,
    paths: [...CLIP_CONFIG_PATHS, clipTextOnnxPath(source.dtype)],
    ...(source.sizes ? { sizes: source.sizes } : {}),
    approx: APPROX,
    shaderF16: false,
  });
}
