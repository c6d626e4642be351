/**
 * A tiny Florence-2-shaped model in the onnx-community / transformers.js layout:
 *
 *   config.json, generation_config.json, preprocessor_config.json, tokenizer.json, tokenizer_config.json
 *   onnx/embed_tokens.onnx, onnx/vision_encoder.onnx            (fp32, as on WASM / WebGPU without shader-f16)
 *   onnx/encoder_model_q4.onnx, onnx/decoder_model_merged_q4.onnx (4-bit MatMulNBits, as in the real _q4 files)
 *
 * The file names state the dtypes truthfully. The tokenizer is a byte-level BPE like BART's with
 * only the 256 byte symbols as its base vocabulary, plus Florence-2's added tokens (`<od>` …,
 * `<loc_0>` … `<loc_999>`, `<cap>` …), so post-processing of boxes works on what it generates.
 * Random weights: the generated text is noise; the judge's logic is tested on recorded strings.
 *
 *   import { writeTinyFlorence } from './tools/florence-gen/index.ts';
 *   const files = writeTinyFlorence('public/judge-tiny');   // { path: bytes } written under the folder
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encodeModel, type GraphBuilder } from '../sdgen/onnx-writer.ts';
import { decoderModelMerged, embedTokens, encoderModel, visionEncoder, type TinyFlorenceConfig } from './graphs.ts';
import { TASK_PROMPTS_WITH_INPUT, TASK_PROMPTS_WITHOUT_INPUTS, TASKS_ANSWER_POST_PROCESSING_TYPE } from './tasks.ts';

/** GPT-2/BART's byte → printable-character table for byte-level BPE. */
function bytesToUnicode(): string[] {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(keep(b) ? b : 256 + extra++));
  return out;
}

/** Florence-2's added tokens after the BART specials (its processor adds these in this order). */
export const FLORENCE_ADDED_TOKENS = [
  '<od>', '</od>', '<ocr>', '</ocr>',
  ...Array.from({ length: 1000 }, (_, i) => `<loc_${i}>`),
  '<cap>', '</cap>', '<ncap>', '</ncap>', '<dcap>', '</dcap>', '<grounding>', '</grounding>', '<seg>', '</seg>', '<sep>',
  '<region_cap>', '</region_cap>', '<region_to_desciption>', '</region_to_desciption>', '<proposal>', '</proposal>', '<poly>', '</poly>', '<and>',
];

/** tokenizer.json and tokenizer_config.json of the tiny byte-level BPE tokenizer; vocab size included. */
export function tinyTokenizer(): { tokenizer: object; config: object; vocabSize: number } {
  const specials = ['<s>', '<pad>', '</s>', '<unk>'];
  const vocab: Record<string, number> = {};
  specials.forEach((t, i) => (vocab[t] = i));
  for (const ch of bytesToUnicode()) vocab[ch] = Object.keys(vocab).length;
  const added = [...specials, ...FLORENCE_ADDED_TOKENS];
  for (const t of FLORENCE_ADDED_TOKENS) vocab[t] = Object.keys(vocab).length;
  const addedTokens = added.map((content) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const tokenizer = {
    version: '1.0', truncation: null, padding: null, added_tokens: addedTokens, normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
  const config = { tokenizer_class: 'BartTokenizer', bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', cls_token: '<s>', sep_token: '</s>', model_max_length: 1024, add_prefix_space: false, clean_up_tokenization_spaces: false };
  return { tokenizer, config, vocabSize: Object.keys(vocab).length };
}

/** Options of {@link tinyFlorenceFiles}. */
export interface TinyFlorenceOptions {
  seed?: number;
  d?: number;
  heads?: number;
  /** Image side the processor resizes to (Florence-2: 768; tiny: 32). */
  imageSize?: number;
  patch?: number;
}

/** Every file of the tiny model as bytes, keyed by its path in the model folder. */
export function tinyFlorenceFiles(opts: TinyFlorenceOptions = {}): Record<string, Uint8Array> {
  const tok = tinyTokenizer();
  const cfg: TinyFlorenceConfig = { seed: opts.seed ?? 7, vocabSize: tok.vocabSize, d: opts.d ?? 32, heads: opts.heads ?? 2, imageSize: opts.imageSize ?? 32, patch: opts.patch ?? 8 };
  const ids = { bos_token_id: 0, pad_token_id: 1, eos_token_id: 2, decoder_start_token_id: 2 };
  const text = { model_type: 'florence2_language', d_model: cfg.d, encoder_layers: 1, decoder_layers: 1, encoder_attention_heads: cfg.heads, decoder_attention_heads: cfg.heads, vocab_size: cfg.vocabSize, is_encoder_decoder: true, forced_bos_token_id: 0, forced_eos_token_id: 2, ...ids };
  const config = {
    model_type: 'florence2', architectures: ['Florence2ForConditionalGeneration'], is_encoder_decoder: true, vocab_size: cfg.vocabSize, ...ids,
    text_config: text,
    vision_config: { model_type: 'davit', projection_dim: cfg.d, image_size: cfg.imageSize, patch_size: [cfg.patch] },
    'transformers.js_config': { note: 'tiny random Florence-2-shaped model for tests (erasure-lab tools/florence-gen)' },
  };
  const generation = { ...ids, forced_bos_token_id: 0, forced_eos_token_id: 2, max_length: 1025 };
  const preprocessor = {
    processor_class: 'Florence2Processor', image_processor_type: 'CLIPImageProcessor',
    do_resize: true, size: { height: cfg.imageSize, width: cfg.imageSize }, resample: 3, do_center_crop: false, crop_size: { height: cfg.imageSize, width: cfg.imageSize },
    do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225], do_convert_rgb: null,
    image_seq_length: (cfg.imageSize / cfg.patch) ** 2,
    tasks_answer_post_processing_type: TASKS_ANSWER_POST_PROCESSING_TYPE, task_prompts_without_inputs: TASK_PROMPTS_WITHOUT_INPUTS, task_prompts_with_input: TASK_PROMPTS_WITH_INPUT,
  };
  const json = (x: object) => new TextEncoder().encode(JSON.stringify(x, null, 1));
  const onnx = (g: GraphBuilder, ms: boolean) => encodeModel(g, { opsets: ms ? { '': 17, 'com.microsoft': 1 } : { '': 17 }, producerName: 'erasure-lab florence-gen' }).model;
  return {
    'config.json': json(config),
    'generation_config.json': json(generation),
    'preprocessor_config.json': json(preprocessor),
    'tokenizer.json': json(tok.tokenizer),
    'tokenizer_config.json': json(tok.config),
    'onnx/embed_tokens.onnx': onnx(embedTokens(cfg), false),
    'onnx/vision_encoder.onnx': onnx(visionEncoder(cfg), false),
    'onnx/encoder_model_q4.onnx': onnx(encoderModel(cfg, true), true),
    'onnx/decoder_model_merged_q4.onnx': onnx(decoderModelMerged(cfg, true), true),
  };
}

/** Write the tiny model into `dir` (Node only); returns the byte size of each file by path. */
export function writeTinyFlorence(dir: string, opts: TinyFlorenceOptions = {}): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const [path, bytes] of Object.entries(tinyFlorenceFiles(opts))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), bytes);
    sizes[path] = bytes.length;
  }
  return sizes;
}
