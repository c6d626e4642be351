/**
 * The four ONNX graphs of a tiny Florence-2-shaped model, with the input and output names,
 * dtypes and axes transformers.js' Florence2ForConditionalGeneration feeds and reads:
 *
 *   embed_tokens          input_ids int64 [batch, seq]                → inputs_embeds [batch, seq, d]
 *   vision_encoder        pixel_values f32 [batch, 3, H, W]           → image_features [batch, tokens, d]
 *   encoder_model         inputs_embeds, attention_mask int64         → last_hidden_state
 *   decoder_model_merged  inputs_embeds, encoder_hidden_states, encoder_attention_mask,
 *                         past_key_values.{i}.{decoder,encoder}.{key,value} [batch, heads, len, head_dim],
 *                         use_cache_branch bool [1]
 *                         → logits [batch, seq, vocab], present.{i}.{decoder,encoder}.{key,value}
 *
 * One BART-style layer each (self-attention, cross-attention in the decoder, ReLU MLP), random
 * weights: the text it generates is noise, the plumbing is real. Matrices of the encoder and
 * decoder are 4-bit (com.microsoft MatMulNBits, block 16, symmetric, zero point 8) when
 * `quantize` is set, as in the `_q4` files of the onnx-community exports.
 *
 * One difference from optimum's merged decoder: that one is an `If` on use_cache_branch whose
 * cached branch passes the encoder keys/values through from past_key_values; ours always
 * recomputes them from encoder_hidden_states (the same values), so the encoder past inputs and
 * use_cache_branch are accepted but not read. The decoder self-attention cache is real: past
 * keys/values are concatenated with the new ones, and the causal mask is offset by the past length.
 */
import { DataType } from '../../src/lib/onnx/schema.ts';
import { attr, GraphBuilder } from '../sdgen/onnx-writer.ts';
import { normalFor } from '../sdgen/rng.ts';

export interface TinyFlorenceConfig {
  seed: number;
  vocabSize: number;
  /** d_model. */
  d: number;
  heads: number;
  /** Square image side the processor resizes to, and the vision patch size. */
  imageSize: number;
  patch: number;
}

const F = DataType.FLOAT;
const I64 = DataType.INT64;

/** A graph plus helpers for the few layers the tiny model needs (names scoped like torch exports). */
class Net {
  readonly g = new GraphBuilder();
  private n = 0;
  constructor(readonly cfg: TinyFlorenceConfig, readonly quantize: boolean) {}

  tmp(hint: string): string {
    return `/${hint}_${this.n++}`;
  }
  const(name: string, dims: number[], data: Float32Array | BigInt64Array): string {
    return this.g.initializer(name, data instanceof Float32Array ? F : I64, dims, data);
  }
  ints(values: number[]): string {
    return this.const(this.tmp('const'), [values.length], BigInt64Array.from(values.map(BigInt)));
  }
  op(type: string, inputs: string[], hint: string, attrs = {}): string {
    return this.g.node(type, inputs, [this.tmp(hint)], { name: `${hint}/${type}_${this.n}`, attrs })[0]!;
  }
  weight(name: string, dims: number[], std = 0.2): string {
    return this.const(name, dims, normalFor(this.cfg.seed, name, dims.reduce((a, b) => a * b, 1), std));
  }

  /** x [.., K] · W [K, N] (+ b): MatMul in fp32, or MatMulNBits with 4-bit blocks when quantising. */
  linear(x: string, scope: string, K: number, N: number, bias = true): string {
    const w = normalFor(this.cfg.seed, `${scope}.weight`, K * N, 1 / Math.sqrt(K));
    let y: string;
    if (this.quantize) {
      const q = quantizeQ4(w, K, N, 16);
      const B = this.g.initializer(`${scope}.weight_Q4`, DataType.UINT8, [N, K / 16, 8], q.packed);
      const S = this.const(`${scope}.weight_scales`, [N * (K / 16)], q.scales);
      y = this.g.node('MatMulNBits', [x, B, S], [this.tmp('matmul')], {
        name: `/${scope}/MatMulNBits`, domain: 'com.microsoft',
        attrs: { K: attr.int(K), N: attr.int(N), bits: attr.int(4), block_size: attr.int(16) },
      })[0]!;
    } else {
      y = this.g.node('MatMul', [x, this.const(`${scope}.weight`, [K, N], w)], [this.tmp('matmul')], { name: `/${scope}/MatMul` })[0]!;
    }
    return bias ? this.op('Add', [y, this.weight(`${scope}.bias`, [N], 0.02)], `${scope}`) : y;
  }

  layerNorm(x: string, scope: string): string {
    const d = this.cfg.d;
    return this.op('LayerNormalization', [x, this.const(`${scope}.weight`, [d], new Float32Array(d).fill(1)), this.const(`${scope}.bias`, [d], new Float32Array(d))], scope, { axis: attr.int(-1), epsilon: attr.float(1e-5) });
  }

  /** [b, s, d] → [b, heads, s, head_dim] */
  heads(x: string): string {
    const { d, heads } = this.cfg;
    const r = this.op('Reshape', [x, this.ints([0, 0, heads, d / heads])], 'split_heads');
    return this.op('Transpose', [r], 'split_heads', { perm: attr.ints([0, 2, 1, 3]) });
  }

  /** softmax(q kᵀ / √hd + mask) v, heads merged back to [b, s, d]. */
  attend(q: string, k: string, v: string, mask: string, scope: string): string {
    const hd = this.cfg.d / this.cfg.heads;
    const kt = this.op('Transpose', [k], scope, { perm: attr.ints([0, 1, 3, 2]) });
    const scores = this.op('Mul', [this.op('MatMul', [q, kt], scope), this.const(this.tmp('scale'), [], new Float32Array([1 / Math.sqrt(hd)]))], scope);
    const p = this.op('Softmax', [this.op('Add', [scores, mask], scope)], scope, { axis: attr.int(-1) });
    const o = this.op('Transpose', [this.op('MatMul', [p, v], scope)], scope, { perm: attr.ints([0, 2, 1, 3]) });
    return this.op('Reshape', [o, this.ints([0, 0, this.cfg.d])], scope);
  }

  /** attention_mask int64 [b, t] → additive float mask [b, 1, 1, t] (0 keep, -1e4 drop). */
  paddingMask(mask: string): string {
    const m = this.op('Cast', [mask], 'mask', { to: attr.int(F) });
    const drop = this.op('Mul', [this.op('Sub', [this.const(this.tmp('one'), [], new Float32Array([1])), m], 'mask'), this.const(this.tmp('neg'), [], new Float32Array([-1e4]))], 'mask');
    return this.op('Unsqueeze', [drop, this.ints([1, 2])], 'mask');
  }

  mlp(x: string, scope: string): string {
    const d = this.cfg.d;
    return this.linear(this.op('Relu', [this.linear(x, `${scope}.fc1`, d, 2 * d)], scope), `${scope}.fc2`, 2 * d, d);
  }
}

/**
 * Symmetric 4-bit block quantisation as MatMulNBits stores it: per output column n and block of
 * `block` rows, scale = max|w| / 7, q = round(w / scale) + 8 in [1, 15], two values per byte
 * (row k even in the low nibble). `packed` is [N, K/block, block/2], `scales` [N · K/block].
 */
export function quantizeQ4(w: Float32Array, K: number, N: number, block: number): { packed: Uint8Array; scales: Float32Array; dequantized: Float32Array } {
  if (K % block !== 0) throw new Error(`quantizeQ4: K = ${K} must be a multiple of the block size ${block}.`);
  const blocks = K / block;
  const packed = new Uint8Array(N * blocks * (block / 2));
  const scales = new Float32Array(N * blocks);
  const dequantized = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      let amax = 0;
      for (let i = 0; i < block; i++) amax = Math.max(amax, Math.abs(w[(b * block + i) * N + n]!));
      const scale = amax / 7 || 1;
      scales[n * blocks + b] = scale;
      for (let i = 0; i < block; i++) {
        const k = b * block + i;
        const q = Math.min(15, Math.max(0, Math.round(w[k * N + n]! / scale) + 8));
        dequantized[k * N + n] = (q - 8) * Math.fround(scale);
        const byte = (n * blocks + b) * (block / 2) + (i >> 1);
        packed[byte]! |= i % 2 === 0 ? q : q << 4;
      }
    }
  }
  return { packed, scales, dequantized };
}

/** embed_tokens: the shared token embedding table (fp32). */
export function embedTokens(cfg: TinyFlorenceConfig): GraphBuilder {
  const net = new Net(cfg, false);
  net.g.input('input_ids', I64, ['batch_size', 'sequence_length']);
  const table = net.weight('model.shared.weight', [cfg.vocabSize, cfg.d], 0.5);
  net.g.node('Gather', [table, 'input_ids'], ['inputs_embeds'], { name: '/embed_tokens/Gather' });
  net.g.output('inputs_embeds', F, ['batch_size', 'sequence_length', cfg.d]);
  return net.g;
}

/** vision_encoder: patchify (strided Conv), flatten to tokens, LayerNorm (fp32). */
export function visionEncoder(cfg: TinyFlorenceConfig): GraphBuilder {
  const net = new Net(cfg, false);
  net.g.input('pixel_values', F, ['batch_size', 3, 'height', 'width']);
  const conv = net.op('Conv', ['pixel_values', net.weight('vision_tower.patch_embed.weight', [cfg.d, 3, cfg.patch, cfg.patch], 0.05), net.weight('vision_tower.patch_embed.bias', [cfg.d], 0.02)], 'vision_tower/patch_embed', { strides: attr.ints([cfg.patch, cfg.patch]) });
  const tokens = net.op('Transpose', [net.op('Reshape', [conv, net.ints([0, cfg.d, -1])], 'vision_tower')], 'vision_tower', { perm: attr.ints([0, 2, 1]) });
  net.g.node('LayerNormalization', [tokens, net.const('image_projection_norm.weight', [cfg.d], new Float32Array(cfg.d).fill(1)), net.const('image_projection_norm.bias', [cfg.d], new Float32Array(cfg.d))], ['image_features'], { name: '/image_projection_norm/LayerNormalization', attrs: { axis: attr.int(-1), epsilon: attr.float(1e-5) } });
  net.g.output('image_features', F, ['batch_size', 'image_tokens', cfg.d]);
  return net.g;
}

/** encoder_model: one self-attention layer over [image tokens, prompt tokens]. */
export function encoderModel(cfg: TinyFlorenceConfig, quantize: boolean): GraphBuilder {
  const net = new Net(cfg, quantize);
  const { d } = cfg;
  net.g.input('inputs_embeds', F, ['batch_size', 'encoder_sequence_length', d]);
  net.g.input('attention_mask', I64, ['batch_size', 'encoder_sequence_length']);
  const s = 'encoder.layers.0.self_attn';
  const x = 'inputs_embeds';
  const a = net.attend(net.heads(net.linear(x, `${s}.q_proj`, d, d)), net.heads(net.linear(x, `${s}.k_proj`, d, d)), net.heads(net.linear(x, `${s}.v_proj`, d, d)), net.paddingMask('attention_mask'), s);
  const h = net.layerNorm(net.op('Add', [x, net.linear(a, `${s}.out_proj`, d, d)], 'encoder'), 'encoder.layers.0.self_attn_layer_norm');
  const out = net.layerNorm(net.op('Add', [h, net.mlp(h, 'encoder.layers.0')], 'encoder'), 'encoder.layers.0.final_layer_norm');
  net.g.node('Identity', [out], ['last_hidden_state'], { name: '/encoder/Identity' });
  net.g.output('last_hidden_state', F, ['batch_size', 'encoder_sequence_length', d]);
  return net.g;
}

/** decoder_model_merged: causal self-attention with a KV cache, cross-attention, LM head. */
export function decoderModelMerged(cfg: TinyFlorenceConfig, quantize: boolean): GraphBuilder {
  const net = new Net(cfg, quantize);
  const { d, heads } = cfg;
  const hd = d / heads;
  const g = net.g;
  g.input('encoder_attention_mask', I64, ['batch_size', 'encoder_sequence_length']);
  g.input('encoder_hidden_states', F, ['batch_size', 'encoder_sequence_length', d]);
  g.input('inputs_embeds', F, ['batch_size', 'decoder_sequence_length', d]);
  for (const part of ['decoder', 'encoder']) {
    for (const kv of ['key', 'value']) {
      g.input(`past_key_values.0.${part}.${kv}`, F, ['batch_size', heads, part === 'decoder' ? 'past_decoder_sequence_length' : 'encoder_sequence_length_out', hd]);
    }
  }
  g.input('use_cache_branch', DataType.BOOL, [1]);

  const x = 'inputs_embeds';
  const s = 'decoder.layers.0.self_attn';
  const kNew = net.heads(net.linear(x, `${s}.k_proj`, d, d));
  const vNew = net.heads(net.linear(x, `${s}.v_proj`, d, d));
  g.node('Concat', ['past_key_values.0.decoder.key', kNew], ['present.0.decoder.key'], { name: `/${s}/Concat_key`, attrs: { axis: attr.int(2) } });
  g.node('Concat', ['past_key_values.0.decoder.value', vNew], ['present.0.decoder.value'], { name: `/${s}/Concat_value`, attrs: { axis: attr.int(2) } });
  // Causal mask [S, T]: query i (at absolute position past + i) sees keys j ≤ past + i.
  const scalar = (shapeOf: string, axis: number) => net.op('Gather', [net.op('Shape', [shapeOf], 'mask'), net.const(net.tmp('axis'), [], BigInt64Array.from([BigInt(axis)]))], 'mask', { axis: attr.int(0) });
  const past = scalar('past_key_values.0.decoder.key', 2);
  const total = net.op('Add', [past, scalar(x, 1)], 'mask');
  const one = net.const(net.tmp('one'), [], BigInt64Array.from([1n]));
  const rows = net.op('Unsqueeze', [net.op('Range', [past, total, one], 'mask'), net.ints([1])], 'mask');
  const cols = net.op('Unsqueeze', [net.op('Range', [net.const(net.tmp('zero'), [], BigInt64Array.from([0n])), total, one], 'mask'), net.ints([0])], 'mask');
  const causal = net.op('Where', [net.op('LessOrEqual', [cols, rows], 'mask'), net.const(net.tmp('keep'), [], new Float32Array([0])), net.const(net.tmp('drop'), [], new Float32Array([-1e4]))], 'mask');
  const selfAttn = net.attend(net.heads(net.linear(x, `${s}.q_proj`, d, d)), 'present.0.decoder.key', 'present.0.decoder.value', causal, s);
  const h1 = net.layerNorm(net.op('Add', [x, net.linear(selfAttn, `${s}.out_proj`, d, d)], 'decoder'), 'decoder.layers.0.self_attn_layer_norm');

  const c = 'decoder.layers.0.encoder_attn';
  g.node('Identity', [net.heads(net.linear('encoder_hidden_states', `${c}.k_proj`, d, d))], ['present.0.encoder.key'], { name: `/${c}/Identity_key` });
  g.node('Identity', [net.heads(net.linear('encoder_hidden_states', `${c}.v_proj`, d, d))], ['present.0.encoder.value'], { name: `/${c}/Identity_value` });
  const cross = net.attend(net.heads(net.linear(h1, `${c}.q_proj`, d, d)), 'present.0.encoder.key', 'present.0.encoder.value', net.paddingMask('encoder_attention_mask'), c);
  const h2 = net.layerNorm(net.op('Add', [h1, net.linear(cross, `${c}.out_proj`, d, d)], 'decoder'), 'decoder.layers.0.encoder_attn_layer_norm');
  const h3 = net.layerNorm(net.op('Add', [h2, net.mlp(h2, 'decoder.layers.0')], 'decoder'), 'decoder.layers.0.final_layer_norm');
  // LM head: its own random matrix, kept fp32 like the tied embedding it stands for.
  g.node('MatMul', [h3, net.weight('lm_head.weight', [d, cfg.vocabSize], 1)], ['logits'], { name: '/lm_head/MatMul' });
  g.output('logits', F, ['batch_size', 'decoder_sequence_length', cfg.vocabSize]);
  for (const part of ['decoder', 'encoder']) {
    for (const kv of ['key', 'value']) {
      g.output(`present.0.${part}.${kv}`, F, ['batch_size', heads, part === 'decoder' ? 'past_decoder_sequence_length + 1' : 'encoder_sequence_length_out', hd]);
    }
  }
  return g;
}
