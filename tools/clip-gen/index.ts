/**
 * A tiny CLIP-text-shaped model in the Xenova / transformers.js layout, loadable by
 * `CLIPTextModelWithProjection.from_pretrained` from a local folder or the app's store:
 *
 *   config.json                          model_type 'clip', projection_dim, text_config
 *   tokenizer.json, tokenizer_config.json the app's real CLIP BPE tokenizer (public/tokenizers/clip/)
 *   onnx/text_model.onnx                 fp32 (so named: transformers.js' dtype 'fp32' has no suffix)
 *
 * The graph has the real export's inputs and outputs:
 *   input_ids int64 [batch, seq], attention_mask int64 [batch, seq]
 *   → text_embeds f32 [batch, projection_dim], last_hidden_state f32 [batch, seq, hidden]
 * Token + position embedding, one pre-LN causal self-attention block (quick_gelu MLP), final layer
 * norm; pooled output at the first end-of-text token (argmax of input_ids, as CLIP does, since
 * <|endoftext|> has the largest id), projected without bias. Random weights: similarities are
 * arbitrary but deterministic. It is fp32, not q8, so it is not named `_quantized`.
 *
 *   import { writeTinyClipText } from './tools/clip-gen/index.ts';
 *   const sizes = writeTinyClipText('test/output/clip-tiny');   // { path: bytes } written
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DataType } from '../../src/lib/onnx/schema.ts';
import { attr, encodeModel } from '../sdgen/onnx-writer.ts';
import { Net } from '../sdgen/net.ts';
import { layerNorm, linear, quickGelu } from '../sdgen/layers.ts';
import { selfAttention } from '../sdgen/text-encoder.ts';

export interface TinyClipTextConfig {
  seed: number;
  /** hidden_size D. */
  hidden: number;
  heads: number;
  projectionDim: number;
  vocabSize: number;
  maxPositions: number;
}

export const TINY_CLIP_TEXT: TinyClipTextConfig = { seed: 11, hidden: 16, heads: 2, projectionDim: 8, vocabSize: 49408, maxPositions: 77 };

const I64 = DataType.INT64;
const F = DataType.FLOAT;

/** The text model graph (see the file comment for inputs, outputs and layers). */
export function buildClipTextModel(cfg: TinyClipTextConfig): Net {
  const net = new Net('float32', cfg.seed);
  const { hidden: D, maxPositions: P } = cfg;
  const ids = net.g.input('input_ids', I64, ['batch_size', 'sequence_length']);
  const mask = net.g.input('attention_mask', I64, ['batch_size', 'sequence_length']);
  const seqLen = net.op1('/text_model', 'Shape', [ids], { attrs: { start: attr.int(1), end: attr.int(2) } }); // [1]

  const tok = net.op1('/text_model/embeddings/token_embedding', 'Gather', [net.param('text_model.embeddings.token_embedding.weight', [cfg.vocabSize, D], { std: 1 }), ids]);
  const posTable = net.param('text_model.embeddings.position_embedding.weight', [P, D], { std: 0.5 });
  const pos = net.op1('/text_model/embeddings/position_embedding', 'Slice', [posTable, net.constInt64('/text_model/embeddings', [0]), seqLen, net.constInt64('/text_model/embeddings', [0])]);
  let h = net.op1('/text_model/embeddings', 'Add', [tok, pos]); // [B, S, D]

  // Additive mask [B, 1, S, S]: causal (−1e9 above the diagonal, sliced from [P, P]) + padding ((mask − 1)·1e9 on keys).
  const causalTable = new Float32Array(P * P);
  for (let i = 0; i < P; i++) for (let j = i + 1; j < P; j++) causalTable[i * P + j] = -1e9;
  const ends = net.op1('/text_model', 'Concat', [seqLen, seqLen], { attrs: { axis: attr.int(0) } });
  const causal = net.op1('/text_model', 'Slice', [net.addFloat('text_model.causal_attention_mask', [P, P], causalTable), net.constInt64('/text_model', [0, 0]), ends]);
  const keep = net.op1('/text_model', 'Cast', [mask], { attrs: { to: attr.int(F) } });
  const pad = net.op1('/text_model', 'Mul', [net.op1('/text_model', 'Sub', [keep, net.constFloat('/text_model', [1])]), net.constFloat('/text_model', [1e9])]);
  const padKeys = net.op1('/text_model', 'Unsqueeze', [pad, net.constInt64('/text_model', [1, 2])]);
  const bias = net.op1('/text_model', 'Add', [causal, padKeys]);

  const layer = '/text_model/encoder/layers.0';
  h = net.op1(layer, 'Add', [h, selfAttention(net, `${layer}/self_attn`, layerNorm(net, `${layer}/layer_norm1`, h, D, 1e-5), cfg, bias)]);
  const up = linear(net, `${layer}/mlp/fc1`, layerNorm(net, `${layer}/layer_norm2`, h, D, 1e-5), D, 4 * D);
  h = net.op1(layer, 'Add', [h, linear(net, `${layer}/mlp/fc2`, quickGelu(net, `${layer}/mlp/activation_fn`, up), 4 * D, D, { gain: 0.5 })]);
  const last = net.op1('/text_model/final_layer_norm', 'Identity', [layerNorm(net, '/text_model/final_layer_norm', h, D, 1e-5)], { outputNames: ['last_hidden_state'] });

  // Pooled output: the hidden state at the first <|endoftext|> (the largest id, so argmax finds it).
  const eos = net.op1('/text_model', 'ArgMax', [net.op1('/text_model', 'Cast', [ids], { attrs: { to: attr.int(F) } })], { attrs: { axis: attr.int(-1), keepdims: attr.int(1) } }); // [B, 1]
  const index = net.op1('/text_model', 'Expand', [net.op1('/text_model', 'Unsqueeze', [eos, net.constInt64('/text_model', [2])]), net.constInt64('/text_model', [1, 1, D])]); // [B, 1, D]
  const pooled = net.op1('/text_model', 'Squeeze', [net.op1('/text_model', 'GatherElements', [last, index], { attrs: { axis: attr.int(1) } }), net.constInt64('/text_model', [1])]);
  const proj = net.param('text_projection.weight', [D, cfg.projectionDim], { std: 1 / Math.sqrt(D) });
  net.op1('/text_projection', 'MatMul', [pooled, proj], { outputNames: ['text_embeds'] });

  net.g.output('text_embeds', F, ['batch_size', cfg.projectionDim]);
  net.g.output('last_hidden_state', F, ['batch_size', 'sequence_length', D]);
  return net;
}


/** config.json of the tiny model (a CLIPConfig with a text_config; the vision part is nominal). */
export function tinyClipConfig(cfg: TinyClipTextConfig): object {
  const text_config = {
    model_type: 'clip_text_model', hidden_size: cfg.hidden, intermediate_size: 4 * cfg.hidden, num_attention_heads: cfg.heads, num_hidden_layers: 1,
    max_position_embeddings: cfg.maxPositions, vocab_size: cfg.vocabSize, projection_dim: cfg.projectionDim, hidden_act: 'quick_gelu',
    bos_token_id: 49406, eos_token_id: 49407, pad_token_id: 1,
  };
  return { model_type: 'clip', architectures: ['CLIPModel'], projection_dim: cfg.projectionDim, text_config, 'transformers.js_config': { note: 'tiny random CLIP-text-shaped model for tests (erasure-lab tools/clip-gen)' } };
}

/** Every file of the tiny model as bytes, keyed by its path in the model folder. */
export function tinyClipTextFiles(cfg: TinyClipTextConfig = TINY_CLIP_TEXT): Record<string, Uint8Array> {
  const tokDir = resolve(import.meta.dirname, '../../public/tokenizers/clip');
  const json = (x: object) => new TextEncoder().encode(JSON.stringify(x, null, 1));
  const net = buildClipTextModel(cfg);
  return {
    'config.json': json(tinyClipConfig(cfg)),
    'tokenizer.json': readFileSync(join(tokDir, 'tokenizer.json')),
    'tokenizer_config.json': readFileSync(join(tokDir, 'tokenizer_config.json')),
    'onnx/text_model.onnx': encodeModel(net.g, { opsets: { '': 17 }, producerName: 'erasure-lab clip-gen' }).model,
  };
}

/** Write the tiny model into `dir` (Node only); returns the byte size of each file by path. */
export function writeTinyClipText(dir: string, cfg: TinyClipTextConfig = TINY_CLIP_TEXT): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const [path, bytes] of Object.entries(tinyClipTextFiles(cfg))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), bytes);
    sizes[path] = bytes.length;
  }
  return sizes;
}
