/**
 * The SD 1.x UNet2DConditionModel as ONNX, block for block:
 *
 *   sample float32 [batch, 4, height, width]
 *   timestep int64 [1]   (or float32 [batch] with timestepDtype 'float32')
 *   encoder_hidden_states float32 [batch, 77, D]
 *   → out_sample float32 [batch, 4, height, width]
 *
 * conv_in; time_proj (sinusoidal, flip_sin_to_cos, shift 0) → time_embedding.linear_1 (Gemm) →
 * SiLU → linear_2; down_blocks.0-2 CrossAttnDownBlock2D (2 × (resnet, Transformer2DModel),
 * downsamplers.0.conv stride 2), down_blocks.3 DownBlock2D (2 resnets); mid_block (resnet,
 * transformer, resnet); up_blocks.0 UpBlock2D (3 resnets, Resize ×2 + conv), up_blocks.1-3
 * CrossAttnUpBlock2D (3 × (Concat skip, resnet, transformer), upsample except the last);
 * conv_norm_out (GroupNorm), conv_act (SiLU), conv_out. 16 transformer blocks: 6 down, 1 mid,
 * 9 up. GroupNorm = Reshape → InstanceNormalization → Reshape → Mul → Add (torch, opset 17).
 *
 * EXPORT STYLES (what a reader of these files must parse). `<site>` is a block scope such as
 * `/down_blocks.0/attentions.0/transformer_blocks.0`; blocks are numbered 0..15 in graph order
 * (down_blocks.0 attentions.0, .1, down_blocks.1 …, mid_block, up_blocks.1 attentions.0..2, …).
 *
 * plain — diffusers/torch export:
 *   `<site>/attn{1,2}/to_{q,k,v}/MatMul` (no bias), inputs [hidden, onnx::MatMul_<n>]; the weight
 *   is an anonymous initializer [in, out] (attn2 to_k/to_v: [D, C]); input 0 of attn2 to_k/to_v is
 *   encoder_hidden_states (float16: the output of its Cast `/Cast_1`). Heads: Reshape [0,-1,8,d] +
 *   Transpose; `<site>/attn2/MatMul` (Q·Kᵀ) → `<site>/attn2/Mul` (·1/√d) → `<site>/attn2/Softmax`
 *   ([B,8,HW,77]) → `<site>/attn2/MatMul_1` → Transpose → `<site>/attn2/Reshape_3` →
 *   `<site>/attn2/to_out.0/MatMul` + `/Add` (bias `<state>.attn2.to_out.0.bias`).
 *   exposeCrossAttentionProbs adds graph outputs `attn2_probs:<site>` float32 [B,8,HW,77]
 *   (Identity, or Cast from float16, of that Softmax).
 *
 * fused — as onnxruntime's fusion_attention_unet.py without packing (cross-attention branch):
 *   the to_q/to_k/to_v MatMuls stay with their plain names and weights; everything between them
 *   and to_out.0 becomes ONE node `MultiHeadAttention_<i>` (domain com.microsoft, attribute
 *   num_heads = 8, default scale 1/√d) with inputs [to_q out, to_k out, to_v out,
 *   `MultiHeadAttention_<i>_qkv_bias`] (bias: zeros [3C]) and output `<site>/attn{1,2}/Reshape_3_output_0`.
 *   i = block index for attn1 (0..15), 16 + block index for attn2 (16..31): ORT fuses all
 *   self-attentions first, then all cross-attentions. (ORT itself would make attn1 a packed-QKV
 *   MHA or an `Attention` node; here attn1 uses the same separate-Q/K/V MHA as attn2.)
 *
 * fused-packed-kv — fused, but attn2's to_k and to_v MatMuls (and their onnx::MatMul weights)
 *   are REMOVED, exactly like fusion_attention_unet.py with enable_packed_kv:
 *     initializer `MatMul_KV_<j>_weight` [D, 2C], j = block index 0..15, where for each input row
 *       c and head n the columns n·2d..n·2d+d-1 hold to_k's columns n·d..(n+1)·d-1 and the next d
 *       columns hold to_v's (numpy: dstack([kw.reshape(D,8,d), vw.reshape(D,8,d)]).reshape(D,16d));
 *     node `MatMul_KV_<j>` (MatMul [encoder_hidden_states, MatMul_KV_<j>_weight] → `MatMul_KV_<j>_out`);
 *     initializer `MatMul_KV_<j>_reshape_shape` int64 [5] = [0, 0, 8, 2, d] (stored in int64_data,
 *       not raw_data, as onnx.helper.make_tensor(raw=False) writes it);
 *     node `MatMul_KV_<j>_reshape` → `MultiHeadAttention_<16+j>_kv_input` [B, 77, 8, 2, d];
 *     node `MultiHeadAttention_<16+j>` inputs [`<site>/attn2/to_q/MatMul_output_0`, kv_input] (no bias).
 *   To find the site of an MHA: its input 0 is produced by `<site>/attn{1,2}/to_q/MatMul`.
 *   onnxruntime's CPU kernels (node and WASM) refuse packed KV; only WebGPU/CUDA run it.
 *
 * float16: every weight, activation and Constant is float16; graph inputs/outputs stay float32
 * via Cast nodes at the edges; the sinusoidal time embedding is computed in float32 then cast.
 */
import { DataType } from '../../src/lib/onnx/schema.ts';
import { attr } from './onnx-writer.ts';
import { Net } from './net.ts';
import { conv2d, gemm, groupNorm, layerNorm, linear, silu, gelu } from './layers.ts';
import { attention } from './unet-attention.ts';
import type { ResolvedSpec, UnetConfig } from './config.ts';

/** Everything a UNet block builder needs besides its input. */
interface Ctx {
  net: Net;
  cfg: UnetConfig;
  spec: ResolvedSpec;
  temb: string; // [B, 4·C0] time embedding
  context: string; // [B, 77, D] encoder_hidden_states in the compute dtype
  blockCount: number;
  nextBlock: number;
  probsOutputs: string[];
}

/** Number of Transformer2DModels: 2 per cross-attn down block, 1 mid, 3 per cross-attn up block. */
export function transformerBlockCount(cfg: UnetConfig): number {
  return 3 * cfg.layersPerBlock + 1 + 3 * (cfg.layersPerBlock + 1);
}

/** Builds the UNet graph. */
export function buildUnet(cfg: UnetConfig, spec: ResolvedSpec): Net {
  const net = new Net(spec.dtype, spec.seed, 8000);
  const batch = spec.staticBatch ?? 'batch';
  const h = spec.staticLatent ? spec.latentSize : 'height';
  const w = spec.staticLatent ? spec.latentSize : 'width';
  const sample = net.g.input('sample', DataType.FLOAT, [batch, cfg.inChannels, h, w]);
  const timestep = spec.timestepDtype === 'int64' ? net.g.input('timestep', DataType.INT64, [1]) : net.g.input('timestep', DataType.FLOAT, [batch]);
  const ehs = net.g.input('encoder_hidden_states', DataType.FLOAT, [batch, 77, cfg.crossAttentionDim]);
  const ch = cfg.blockOutChannels;
  const L = cfg.layersPerBlock;

  const x0 = net.toCompute('', sample);
  const ctx: Ctx = {
    net, cfg, spec,
    context: net.toCompute('', ehs),
    temb: timeEmbedding(net, cfg, timestep, sample, spec.timestepDtype === 'int64'),
    blockCount: transformerBlockCount(cfg),
    nextBlock: 0,
    probsOutputs: [],
  };

  let x = conv2d(net, '/conv_in', x0, cfg.inChannels, ch[0], 3);
  const skips = [x];
  for (let i = 0; i < ch.length; i++) {
    const last = i === ch.length - 1;
    for (let j = 0; j < L; j++) {
      x = resnet(ctx, `/down_blocks.${i}/resnets.${j}`, x, j === 0 ? ch[Math.max(i - 1, 0)] : ch[i], ch[i]);
      if (!last) x = transformer2d(ctx, `/down_blocks.${i}/attentions.${j}`, x, ch[i]);
      skips.push(x);
    }
    if (!last) {
      x = conv2d(net, `/down_blocks.${i}/downsamplers.0/conv`, x, ch[i], ch[i], 3, { stride: 2 });
      skips.push(x);
    }
  }

  const top = ch[ch.length - 1];
  x = resnet(ctx, '/mid_block/resnets.0', x, top, top);
  x = transformer2d(ctx, '/mid_block/attentions.0', x, top);
  x = resnet(ctx, '/mid_block/resnets.1', x, top, top);

  const rev = [...ch].reverse();
  for (let i = 0; i < rev.length; i++) {
    const out = rev[i];
    const prevOut = rev[Math.max(i - 1, 0)];
    const blockIn = rev[Math.min(i + 1, rev.length - 1)];
    for (let j = 0; j <= L; j++) {
      const skip = skips.pop()!;
      const skipCh = j === L ? blockIn : out;
      x = net.op1(`/up_blocks.${i}`, 'Concat', [x, skip], { attrs: { axis: attr.int(1) } });
      x = resnet(ctx, `/up_blocks.${i}/resnets.${j}`, x, (j === 0 ? prevOut : out) + skipCh, out);
      if (i > 0) x = transformer2d(ctx, `/up_blocks.${i}/attentions.${j}`, x, out);
    }
    if (i < rev.length - 1) x = upsample(net, `/up_blocks.${i}/upsamplers.0`, x, out);
  }

  x = groupNorm(net, '/conv_norm_out', x, ch[0], cfg.normGroups, cfg.normEps);
  x = silu(net, '/conv_act', x);
  x = conv2d(net, '/conv_out', x, ch[0], cfg.outChannels, 3);
  if (spec.dtype === 'float16') net.cast('', x, DataType.FLOAT, 'out_sample');
  else net.g.renameValue(x, 'out_sample');
  net.g.output('out_sample', DataType.FLOAT, [batch, cfg.outChannels, h, w]);
  const heads = cfg.heads;
  for (const name of ctx.probsOutputs) net.g.output(name, DataType.FLOAT, [batch, heads, 'hw', 77]);
  return net;
}

/** timestep → expand to batch → sinusoidal [B, C0] (float32) → MLP → [B, 4·C0]. */
function timeEmbedding(net: Net, cfg: UnetConfig, timestep: string, sample: string, castToFloat: boolean): string {
  const c0 = cfg.blockOutChannels[0];
  const half = c0 / 2;
  const batchShape = net.op1('', 'Shape', [sample], { attrs: { start: attr.int(0), end: attr.int(1) } });
  const t = net.op1('', 'Expand', [timestep, batchShape]); // [B]
  let tf = net.op1('/time_proj', 'Unsqueeze', [t, net.constInt64('/time_proj', [1])]); // [B, 1]
  if (castToFloat) tf = net.cast('/time_proj', tf, DataType.FLOAT);
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const arg = net.op1('/time_proj', 'Mul', [tf, net.constFloat32('/time_proj', freqs, [1, half])]); // [B, half]
  const emb = net.op1('/time_proj', 'Concat', [net.op1('/time_proj', 'Cos', [arg]), net.op1('/time_proj', 'Sin', [arg])], { attrs: { axis: attr.int(-1) } });
  const e = net.toCompute('', emb);
  const h = gemm(net, '/time_embedding/linear_1', e, c0, 4 * c0);
  return gemm(net, '/time_embedding/linear_2', silu(net, '/time_embedding/act', h), 4 * c0, 4 * c0);
}

/** ResnetBlock2D: norm1-SiLU-conv1 (+ time_emb_proj), norm2-SiLU-conv2, shortcut, / 1. */
function resnet(ctx: Ctx, scope: string, x: string, cin: number, cout: number): string {
  const { net, cfg } = ctx;
  let h = conv2d(net, `${scope}/conv1`, silu(net, `${scope}/nonlinearity`, groupNorm(net, `${scope}/norm1`, x, cin, cfg.normGroups, cfg.normEps)), cin, cout, 3);
  const t = gemm(net, `${scope}/time_emb_proj`, silu(net, `${scope}/nonlinearity`, ctx.temb), 4 * cfg.blockOutChannels[0], cout);
  h = net.op1(scope, 'Add', [h, net.op1(scope, 'Unsqueeze', [t, net.constInt64(scope, [2, 3])])]);
  h = groupNorm(net, `${scope}/norm2`, h, cout, cfg.normGroups, cfg.normEps);
  h = conv2d(net, `${scope}/conv2`, silu(net, `${scope}/nonlinearity`, h), cout, cout, 3, { gain: 0.5 });
  const shortcut = cin === cout ? x : conv2d(net, `${scope}/conv_shortcut`, x, cin, cout, 1);
  return net.op1(scope, 'Div', [net.op1(scope, 'Add', [shortcut, h]), net.constFloat(scope, [1])]);
}

/** Transformer2DModel (conv proj_in/proj_out) around one BasicTransformerBlock; residual. */
function transformer2d(ctx: Ctx, scope: string, x: string, c: number): string {
  const { net, cfg } = ctx;
  let h = groupNorm(net, `${scope}/norm`, x, c, cfg.normGroups, 1e-6);
  h = conv2d(net, `${scope}/proj_in`, h, c, c, 1);
  h = net.op1(scope, 'Transpose', [h], { attrs: { perm: attr.ints([0, 2, 3, 1]) } });
  h = net.op1(scope, 'Reshape', [h, net.constInt64(scope, [0, -1, c])]); // [B, HW, C]
  h = basicTransformerBlock(ctx, `${scope}/transformer_blocks.0`, h, c);
  h = net.op1(scope, 'Transpose', [h], { attrs: { perm: attr.ints([0, 2, 1]) } }); // [B, C, HW]
  h = net.op1(scope, 'Reshape', [h, net.op1(scope, 'Shape', [x])]); // [B, C, H, W]
  h = conv2d(net, `${scope}/proj_out`, h, c, c, 1, { gain: 0.5 });
  return net.op1(scope, 'Add', [h, x]);
}

/** norm1 → attn1 (self), norm2 → attn2 (cross), norm3 → GEGLU feed-forward; each residual. */
function basicTransformerBlock(ctx: Ctx, scope: string, x: string, c: number): string {
  const { net, cfg, spec } = ctx;
  const blockIndex = ctx.nextBlock++;
  const site = { blockIndex, blockCount: ctx.blockCount, style: spec.style, heads: cfg.heads };
  const n1 = layerNorm(net, `${scope}/norm1`, x, c, 1e-5);
  let h = net.op1(scope, 'Add', [attention(net, { ...site, scope: `${scope}/attn1`, kind: 'attn1' }, n1, n1, c, c), x]);
  const probsOutput = spec.exposeCrossAttentionProbs ? `attn2_probs:${scope}` : undefined;
  if (probsOutput) ctx.probsOutputs.push(probsOutput);
  const n2 = layerNorm(net, `${scope}/norm2`, h, c, 1e-5);
  h = net.op1(scope, 'Add', [attention(net, { ...site, scope: `${scope}/attn2`, kind: 'attn2', probsOutput }, n2, ctx.context, c, cfg.crossAttentionDim), h]);
  const n3 = layerNorm(net, `${scope}/norm3`, h, c, 1e-5);
  const inner = 4 * c;
  const proj = linear(net, `${scope}/ff/net.0/proj`, n3, c, 2 * inner);
  const [value, gate] = net.op(`${scope}/ff/net.0`, 'Split', [proj, net.constInt64(`${scope}/ff/net.0`, [inner, inner])], { attrs: { axis: attr.int(-1) }, outputs: 2 });
  const geglu = net.op1(`${scope}/ff/net.0`, 'Mul', [value, gelu(net, `${scope}/ff/net.0`, gate)]);
  return net.op1(scope, 'Add', [linear(net, `${scope}/ff/net.2`, geglu, inner, c, { gain: 0.5 }), h]);
}

/** Upsample2D: nearest ×2 (Resize, asymmetric/floor as torch exports interpolate) then conv. */
export function upsample(net: Net, scope: string, x: string, c: number): string {
  const scales = net.constFloat32(scope, Float32Array.from([1, 1, 2, 2]), [4]);
  const up = net.op1(scope, 'Resize', [x, '', scales], {
    attrs: {
      coordinate_transformation_mode: attr.string('asymmetric'),
      cubic_coeff_a: attr.float(-0.75),
      mode: attr.string('nearest'),
      nearest_mode: attr.string('floor'),
    },
  });
  return conv2d(net, `${scope}/conv`, up, c, c, 3);
}
