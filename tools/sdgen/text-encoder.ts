/**
 * A CLIP text model (transformers' CLIPTextModel) as ONNX:
 *   input_ids int32 [batch, 77] → last_hidden_state float32 [batch, 77, D]
 * token + position embedding, `layers` pre-LN causal self-attention blocks (MLP with
 * quick_gelu), final layer norm. The causal mask makes token i's output depend on tokens 0..i
 * only, so the BOS output is the same for every prompt (the erasure code relies on it).
 */
import { DataType } from '../../src/lib/onnx/schema.ts';
import { Net } from './net.ts';
import { attr } from './onnx-writer.ts';
import { layerNorm, linear, mergeHeads, quickGelu, gelu, splitHeads, stateName } from './layers.ts';
import type { ComputeDtype, TextEncoderConfig } from './config.ts';

/** Builds the text encoder graph. */
export function buildTextEncoder(cfg: TextEncoderConfig, dtype: ComputeDtype, seed: number): Net {
  const net = new Net(dtype, seed);
  const { hidden: D, maxPositions: S } = cfg;
  const ids = net.g.input('input_ids', DataType.INT32, ['batch', S]);

  const tokScope = '/text_model/embeddings/token_embedding';
  const tokW = net.param(`${stateName(tokScope)}.weight`, [cfg.vocabSize, D], { std: 1 });
  const tok = net.op1(tokScope, 'Gather', [tokW, ids]);
  const posScope = '/text_model/embeddings/position_embedding';
  const posW = net.param(`${stateName(posScope)}.weight`, [S, D], { std: 0.5 });
  const posIds = net.g.initializer('text_model.embeddings.position_ids', DataType.INT64, [1, S], BigInt64Array.from({ length: S }, (_, i) => BigInt(i)));
  const pos = net.op1(posScope, 'Gather', [posW, posIds]);
  let h = net.op1('/text_model/embeddings', 'Add', [tok, pos]);

  // Causal mask [1, 1, S, S]: 0 on and below the diagonal, the dtype's most negative value above.
  const mask = new Float32Array(S * S);
  const negative = dtype === 'float16' ? -65504 : -3.4028234663852886e38;
  for (let i = 0; i < S; i++) for (let j = i + 1; j < S; j++) mask[i * S + j] = negative;
  const causal = net.addFloat('text_model.causal_attention_mask', [1, 1, S, S], mask);

  for (let l = 0; l < cfg.layers; l++) {
    const layer = `/text_model/encoder/layers.${l}`;
    const n1 = layerNorm(net, `${layer}/layer_norm1`, h, D, cfg.layerNormEps);
    h = net.op1(layer, 'Add', [h, selfAttention(net, `${layer}/self_attn`, n1, cfg, causal)]);
    const n2 = layerNorm(net, `${layer}/layer_norm2`, h, D, cfg.layerNormEps);
    const up = linear(net, `${layer}/mlp/fc1`, n2, D, cfg.intermediate);
    const act = cfg.activation === 'quick_gelu' ? quickGelu(net, `${layer}/mlp/activation_fn`, up) : gelu(net, `${layer}/mlp/activation_fn`, up);
    h = net.op1(layer, 'Add', [h, linear(net, `${layer}/mlp/fc2`, act, cfg.intermediate, D, { gain: 0.5 })]);
  }
  const out = layerNorm(net, '/text_model/final_layer_norm', h, D, cfg.layerNormEps);
  if (dtype === 'float16') net.cast('/text_model', out, DataType.FLOAT, 'last_hidden_state');
  else net.g.node('Identity', [out], ['last_hidden_state'], { name: '/text_model/Identity' });
  net.g.output('last_hidden_state', DataType.FLOAT, ['batch', S, D]);
  return net;
}

/**
 * CLIPAttention with an additive mask (causal, or causal + padding) broadcast to [B, heads, S, S]:
 * q is scaled before Q·Kᵀ, as transformers does. Also used by tools/clip-gen.
 */
export function selfAttention(net: Net, scope: string, x: string, cfg: Pick<TextEncoderConfig, 'hidden' | 'heads'>, causal: string): string {
  const D = cfg.hidden;
  const d = D / cfg.heads;
  const q = net.op1(scope, 'Mul', [linear(net, `${scope}/q_proj`, x, D, D), net.constFloat(scope, [1 / Math.sqrt(d)])]);
  const k = linear(net, `${scope}/k_proj`, x, D, D);
  const v = linear(net, `${scope}/v_proj`, x, D, D);
  const scores = net.op1(scope, 'MatMul', [splitHeads(net, scope, q, cfg.heads, d), splitHeads(net, scope, k, cfg.heads, d, true)]);
  const probs = net.op1(scope, 'Softmax', [net.op1(scope, 'Add', [scores, causal])], { attrs: { axis: attr.int(-1) } });
  const o = net.op1(scope, 'MatMul', [probs, splitHeads(net, scope, v, cfg.heads, d)]);
  return linear(net, `${scope}/out_proj`, mergeHeads(net, scope, o, D), D, D, { gain: 0.5 });
}
