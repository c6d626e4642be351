/**
 * The AutoencoderKL decoder as diffusers exports `vae_decoder`:
 *   latent_sample float32 [batch, 4, h, w] → sample float32 [batch, 3, 8h, 8w]
 * post_quant_conv (1×1), decoder.conv_in, mid_block (resnet, single-head self-attention,
 * resnet), up_blocks.0-3 (layersPerBlock+1 resnets each, nearest ×2 Resize + conv after the
 * first three), conv_norm_out (GroupNorm), conv_act (SiLU), conv_out. No Tanh: the app maps
 * x → clamp(x / 2 + 0.5, 0, 1). The caller divides latents by the scaling factor (0.18215) first.
 */
import { DataType } from '../../src/lib/onnx/schema.ts';
import { attr } from './onnx-writer.ts';
import { Net } from './net.ts';
import { conv2d, groupNorm, linear, silu } from './layers.ts';
import { upsample } from './unet.ts';
import type { ComputeDtype, VaeConfig } from './config.ts';

const EPS = 1e-6;

/** Builds the VAE decoder graph. */
export function buildVaeDecoder(cfg: VaeConfig, dtype: ComputeDtype, seed: number): Net {
  const net = new Net(dtype, seed, 500);
  const latent = net.g.input('latent_sample', DataType.FLOAT, ['batch', cfg.latentChannels, 'latent_height', 'latent_width']);
  const rev = [...cfg.blockOutChannels].reverse();
  const g = cfg.normGroups;

  let x = conv2d(net, '/post_quant_conv', net.toCompute('', latent), cfg.latentChannels, cfg.latentChannels, 1);
  x = conv2d(net, '/decoder/conv_in', x, cfg.latentChannels, rev[0], 3);
  x = resnet(net, '/decoder/mid_block/resnets.0', x, rev[0], rev[0], g);
  x = selfAttention(net, '/decoder/mid_block/attentions.0', x, rev[0], g);
  x = resnet(net, '/decoder/mid_block/resnets.1', x, rev[0], rev[0], g);
  for (let i = 0; i < rev.length; i++) {
    for (let j = 0; j <= cfg.layersPerBlock; j++) {
      x = resnet(net, `/decoder/up_blocks.${i}/resnets.${j}`, x, j === 0 ? rev[Math.max(i - 1, 0)] : rev[i], rev[i], g);
    }
    if (i < rev.length - 1) x = upsample(net, `/decoder/up_blocks.${i}/upsamplers.0`, x, rev[i]);
  }
  x = groupNorm(net, '/decoder/conv_norm_out', x, rev[rev.length - 1], g, EPS);
  x = silu(net, '/decoder/conv_act', x);
  x = conv2d(net, '/decoder/conv_out', x, rev[rev.length - 1], cfg.outChannels, 3);
  if (dtype === 'float16') net.cast('', x, DataType.FLOAT, 'sample');
  else net.g.renameValue(x, 'sample');
  net.g.output('sample', DataType.FLOAT, ['batch', cfg.outChannels, 'height', 'width']);
  return net;
}

/** ResnetBlock2D without a time embedding (temb_channels = None). */
function resnet(net: Net, scope: string, x: string, cin: number, cout: number, groups: number): string {
  let h = conv2d(net, `${scope}/conv1`, silu(net, `${scope}/nonlinearity`, groupNorm(net, `${scope}/norm1`, x, cin, groups, EPS)), cin, cout, 3);
  h = conv2d(net, `${scope}/conv2`, silu(net, `${scope}/nonlinearity`, groupNorm(net, `${scope}/norm2`, h, cout, groups, EPS)), cout, cout, 3, { gain: 0.5 });
  const shortcut = cin === cout ? x : conv2d(net, `${scope}/conv_shortcut`, x, cin, cout, 1);
  return net.op1(scope, 'Div', [net.op1(scope, 'Add', [shortcut, h]), net.constFloat(scope, [1])]);
}

/** diffusers Attention with group_norm, one head of size C, biased projections; residual. */
function selfAttention(net: Net, scope: string, x: string, c: number, groups: number): string {
  let h = groupNorm(net, `${scope}/group_norm`, x, c, groups, EPS);
  h = net.op1(scope, 'Reshape', [h, net.constInt64(scope, [0, c, -1])]);
  h = net.op1(scope, 'Transpose', [h], { attrs: { perm: attr.ints([0, 2, 1]) } }); // [B, HW, C]
  const q = linear(net, `${scope}/to_q`, h, c, c);
  const k = linear(net, `${scope}/to_k`, h, c, c);
  const v = linear(net, `${scope}/to_v`, h, c, c);
  const kt = net.op1(scope, 'Transpose', [k], { attrs: { perm: attr.ints([0, 2, 1]) } });
  const scores = net.op1(scope, 'Mul', [net.op1(scope, 'MatMul', [q, kt]), net.constFloat(scope, [1 / Math.sqrt(c)])]);
  const probs = net.op1(scope, 'Softmax', [scores], { attrs: { axis: attr.int(-1) } });
  let o = linear(net, `${scope}/to_out.0`, net.op1(scope, 'MatMul', [probs, v]), c, c, { gain: 0.5 });
  o = net.op1(scope, 'Transpose', [o], { attrs: { perm: attr.ints([0, 2, 1]) } });
  o = net.op1(scope, 'Reshape', [o, net.op1(scope, 'Shape', [x])]);
  return net.op1(scope, 'Div', [net.op1(scope, 'Add', [o, x]), net.constFloat(scope, [1])]);
}
