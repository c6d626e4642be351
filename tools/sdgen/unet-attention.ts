/**
 * The attention of one BasicTransformerBlock (attn1 = self, attn2 = cross) in the three export
 * styles. The exact names and layouts are documented in unet.ts (EXPORT STYLES); this file
 * builds them. Weights always come from the state-dict names (`…attn2.to_k.weight`), so every
 * style of one seed computes the same function.
 */
import { DataType, MS_DOMAIN } from '../../src/lib/onnx/schema.ts';
import { attr } from './onnx-writer.ts';
import { linear, mergeHeads, splitHeads, stateName } from './layers.ts';
import type { Net } from './net.ts';
import type { ExportStyle } from './config.ts';

/** Where one attention sits and how to export it. */
export interface AttentionSite {
  /** Module scope, e.g. '/down_blocks.0/attentions.0/transformer_blocks.0/attn2'. */
  scope: string;
  kind: 'attn1' | 'attn2';
  /** Index of the transformer block in graph order (0..15 for SD 1.x). */
  blockIndex: number;
  /** Number of transformer blocks in the UNet (16 for SD 1.x). */
  blockCount: number;
  style: ExportStyle;
  heads: number;
  /** When set, attn2's Softmax output is also written to this graph output (float32). */
  probsOutput?: string;
}

/**
 * Attention output before to_out, [B, N, C]. `x` [B, N, C] is the (normed) hidden state;
 * `context` [B, M, contextDim] is x itself for attn1 and encoder_hidden_states for attn2.
 */
export function attention(net: Net, site: AttentionSite, x: string, context: string, channels: number, contextDim: number): string {
  const { scope } = site;
  const q = linear(net, `${scope}/to_q`, x, channels, channels, { bias: false, gain: qkGain(site) });
  const packed = site.style === 'fused-packed-kv' && site.kind === 'attn2';
  let out: string;
  if (packed) {
    out = packedKvAttention(net, site, q, context, channels, contextDim);
  } else {
    const k = linear(net, `${scope}/to_k`, context, contextDim, channels, { bias: false, gain: qkGain(site) });
    const v = linear(net, `${scope}/to_v`, context, contextDim, channels, { bias: false });
    out = site.style === 'plain' ? plainAttention(net, site, q, k, v, channels) : fusedAttention(net, site, q, k, v, channels);
  }
  return linear(net, `${scope}/to_out.0`, out, channels, channels, { gain: site.kind === 'attn2' ? 1 : 0.5 });
}

/**
 * Weight-std gain of to_q and to_k. Cross-attention gets 2 (logits of std ≈ 4): peaked over the
 * 77 tokens like trained SD, so the output follows the prompt and attention maps have structure;
 * with flat attention the 77 values would average out and the text would barely matter.
 */
function qkGain(site: AttentionSite): number {
  return site.kind === 'attn2' ? 2 : 1;
}

/** Index of this site's MultiHeadAttention node: attn1 sites first, then attn2 (ORT's two passes). */
function mhaName(site: AttentionSite): string {
  return `MultiHeadAttention_${site.kind === 'attn1' ? site.blockIndex : site.blockCount + site.blockIndex}`;
}

/** The name the plain export gives the merged-heads Reshape output; the fused node writes it. */
function mergedName(site: AttentionSite): string {
  return `${site.scope}/Reshape_3_output_0`;
}

/** softmax(Q·Kᵀ·scale)·V with heads split by Reshape/Transpose (the torch export's pattern). */
function plainAttention(net: Net, site: AttentionSite, q: string, k: string, v: string, channels: number): string {
  const { scope, heads } = site;
  const d = channels / heads;
  const qh = splitHeads(net, scope, q, heads, d); // [B, h, N, d]
  const kt = splitHeads(net, scope, k, heads, d, true); // [B, h, d, M]
  const vh = splitHeads(net, scope, v, heads, d); // [B, h, M, d]
  const scores = net.op1(scope, 'Mul', [net.op1(scope, 'MatMul', [qh, kt]), net.constFloat(scope, [1 / Math.sqrt(d)])]);
  const probs = net.op1(scope, 'Softmax', [scores], { attrs: { axis: attr.int(-1) } }); // [B, h, N, M]
  if (site.probsOutput) {
    if (net.dtype === 'float16') net.cast(scope, probs, DataType.FLOAT, site.probsOutput);
    else net.op(scope, 'Identity', [probs], { outputNames: [site.probsOutput] });
  }
  const o = net.op1(scope, 'MatMul', [probs, vh]);
  return mergeHeads(net, scope, o, channels); // Reshape_3: [B, N, C]
}

/** com.microsoft MultiHeadAttention(query, key, value, bias = 0) on [B, S, C] inputs. */
function fusedAttention(net: Net, site: AttentionSite, q: string, k: string, v: string, channels: number): string {
  const name = mhaName(site);
  const bias = net.addFloat(`${name}_qkv_bias`, [3 * channels], new Float32Array(3 * channels));
  net.g.node('MultiHeadAttention', [q, k, v, bias], [mergedName(site)], { name, domain: MS_DOMAIN, attrs: { num_heads: attr.int(site.heads) } });
  return mergedName(site);
}

/**
 * ORT's packed-KV cross attention: one MatMul `MatMul_KV_<j>` with weight [contextDim, 2C] whose
 * columns are, per head n, K's columns n·d..(n+1)·d then V's (numpy:
 * dstack([kw.reshape(c, n, d), vw.reshape(c, n, d)]).reshape(c, 2nd)), Reshape to
 * [B, M, heads, 2, d], and MultiHeadAttention(query, packed_kv).
 */
function packedKvAttention(net: Net, site: AttentionSite, q: string, context: string, channels: number, contextDim: number): string {
  const { scope, heads } = site;
  const d = channels / heads;
  const name = mhaName(site);
  // Same values as linear() would draw for to_k / to_v (see layers.ts: std gain/√fan_in).
  const kw = net.values(`${stateName(scope)}.to_k.weight`, contextDim * channels, { std: qkGain(site) / Math.sqrt(contextDim) });
  const vw = net.values(`${stateName(scope)}.to_v.weight`, contextDim * channels, { std: 1 / Math.sqrt(contextDim) });
  const kv = new Float32Array(contextDim * 2 * channels);
  for (let c = 0; c < contextDim; c++) {
    for (let n = 0; n < heads; n++) {
      const dst = c * 2 * channels + n * 2 * d;
      const src = c * channels + n * d;
      kv.set(kw.subarray(src, src + d), dst);
      kv.set(vw.subarray(src, src + d), dst + d);
    }
  }
  const matmul = `MatMul_KV_${site.blockIndex}`;
  const weight = net.addFloat(`${matmul}_weight`, [contextDim, 2 * channels], kv);
  net.g.node('MatMul', [context, weight], [`${matmul}_out`], { name: matmul });
  const shape = net.g.initializer(`${matmul}_reshape_shape`, DataType.INT64, [5], BigInt64Array.from([0n, 0n, BigInt(heads), 2n, BigInt(d)]), 'typed');
  net.g.node('Reshape', [`${matmul}_out`, shape], [`${name}_kv_input`], { name: `${matmul}_reshape` });
  net.g.node('MultiHeadAttention', [q, `${name}_kv_input`], [mergedName(site)], { name, domain: MS_DOMAIN, attrs: { num_heads: attr.int(heads) } });
  return mergedName(site);
}
