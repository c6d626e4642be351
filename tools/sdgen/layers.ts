/**
 * torch.nn layers as the torch ONNX exporter (opset 17) writes them. `scope` is the module path
 * as torch names nodes ('/down_blocks.0/resnets.0/conv1'); the state-dict name of a parameter
 * is the scope with dots ('down_blocks.0.resnets.0.conv1.weight').
 *
 * Weight scales: N(0, 1/fan_in) for linear and conv weights (activations keep unit scale),
 * norm gammas N(1, 0.1²), biases and betas N(0, 0.05²).
 */
import { attr } from './onnx-writer.ts';
import type { Net } from './net.ts';

/** '/a/b.0/c' → 'a.b.0.c' (the state-dict prefix of a module scope). */
export function stateName(scope: string): string {
  return scope.slice(1).replaceAll('/', '.');
}

const BIAS = { std: 0.05 };
const GAMMA = { mean: 1, std: 0.1 };

/**
 * nn.Linear on a [..., in] tensor: MatMul with an anonymous [in, out] weight, then Add(bias, ·).
 * `gain` scales the weight std (e.g. < 1 for residual branch outputs).
 */
export function linear(net: Net, scope: string, x: string, inF: number, outF: number, options: { bias?: boolean; gain?: number } = {}): string {
  const w = net.anonParam(`${stateName(scope)}.weight`, 'MatMul', [inF, outF], { std: (options.gain ?? 1) / Math.sqrt(inF) });
  const y = net.op1(scope, 'MatMul', [x, w]);
  if (options.bias === false) return y;
  return net.op1(scope, 'Add', [net.param(`${stateName(scope)}.bias`, [outF], BIAS), y]);
}

/** nn.Linear on a 2-D [N, in] tensor, which torch exports as Gemm(transB=1) with [out, in] weights. */
export function gemm(net: Net, scope: string, x: string, inF: number, outF: number): string {
  const s = stateName(scope);
  const w = net.param(`${s}.weight`, [outF, inF], { std: 1 / Math.sqrt(inF) });
  const b = net.param(`${s}.bias`, [outF], BIAS);
  return net.op1(scope, 'Gemm', [x, w, b], { attrs: { alpha: attr.float(1), beta: attr.float(1), transB: attr.int(1) } });
}

/** nn.Conv2d (square kernel `k`, padding k//2 unless given) on [N, cin, H, W]. */
export function conv2d(net: Net, scope: string, x: string, cin: number, cout: number, k: number, options: { stride?: number; gain?: number } = {}): string {
  const s = stateName(scope);
  const stride = options.stride ?? 1;
  const pad = (k - 1) >> 1;
  const w = net.param(`${s}.weight`, [cout, cin, k, k], { std: (options.gain ?? 1) / Math.sqrt(cin * k * k) });
  const b = net.param(`${s}.bias`, [cout], BIAS);
  return net.op1(scope, 'Conv', [x, w, b], {
    attrs: {
      dilations: attr.ints([1, 1]),
      group: attr.int(1),
      kernel_shape: attr.ints([k, k]),
      pads: attr.ints([pad, pad, pad, pad]),
      strides: attr.ints([stride, stride]),
    },
  });
}

/**
 * nn.GroupNorm on [N, C, H, W] the way torch exports it below opset 21: Reshape to
 * [N, groups, -1], InstanceNormalization (scale 1, bias 0 per group), Reshape back to the input
 * shape, then Mul by gamma [C, 1, 1] and Add beta [C, 1, 1].
 */
export function groupNorm(net: Net, scope: string, x: string, channels: number, groups: number, eps: number): string {
  if (channels % groups !== 0) throw new Error(`groupNorm ${scope}: ${channels} channels are not divisible into ${groups} groups.`);
  const s = stateName(scope);
  const grouped = net.op1(scope, 'Reshape', [x, net.constInt64(scope, [0, groups, -1])]);
  const ones = net.addFloat(`${s}.instance_norm_scale`, [groups], new Float32Array(groups).fill(1));
  const zeros = net.addFloat(`${s}.instance_norm_bias`, [groups], new Float32Array(groups));
  const normed = net.op1(scope, 'InstanceNormalization', [grouped, ones, zeros], { attrs: { epsilon: attr.float(eps) } });
  const back = net.op1(scope, 'Reshape', [normed, net.op1(scope, 'Shape', [x])]);
  const scaled = net.op1(scope, 'Mul', [back, net.param(`${s}.weight`, [channels, 1, 1], GAMMA)]);
  return net.op1(scope, 'Add', [scaled, net.param(`${s}.bias`, [channels, 1, 1], BIAS)]);
}

/** nn.LayerNorm over the last axis: one LayerNormalization node (opset 17). */
export function layerNorm(net: Net, scope: string, x: string, channels: number, eps: number): string {
  const s = stateName(scope);
  const gamma = net.param(`${s}.weight`, [channels], GAMMA);
  const beta = net.param(`${s}.bias`, [channels], BIAS);
  return net.op1(scope, 'LayerNormalization', [x, gamma, beta], { attrs: { axis: attr.int(-1), epsilon: attr.float(eps) } });
}

/** SiLU = x · sigmoid(x), exported as Sigmoid + Mul. */
export function silu(net: Net, scope: string, x: string): string {
  return net.op1(scope, 'Mul', [x, net.op1(scope, 'Sigmoid', [x])]);
}

/** Exact GELU, exported (opset < 20) as x · 0.5 · (1 + erf(x / √2)). */
export function gelu(net: Net, scope: string, x: string): string {
  const e = net.op1(scope, 'Erf', [net.op1(scope, 'Div', [x, net.constFloat(scope, [Math.SQRT2])])]);
  const onePlus = net.op1(scope, 'Add', [e, net.constFloat(scope, [1])]);
  return net.op1(scope, 'Mul', [net.op1(scope, 'Mul', [x, onePlus]), net.constFloat(scope, [0.5])]);
}

/** CLIP's quick_gelu = x · sigmoid(1.702 x). */
export function quickGelu(net: Net, scope: string, x: string): string {
  const s = net.op1(scope, 'Sigmoid', [net.op1(scope, 'Mul', [x, net.constFloat(scope, [1.702])])]);
  return net.op1(scope, 'Mul', [x, s]);
}

/** [B, S, heads·d] → [B, heads, S, d] (or [B, heads, d, S] with `keyT`). */
export function splitHeads(net: Net, scope: string, x: string, heads: number, headSize: number, keyT = false): string {
  const r = net.op1(scope, 'Reshape', [x, net.constInt64(scope, [0, -1, heads, headSize])]);
  return net.op1(scope, 'Transpose', [r], { attrs: { perm: attr.ints(keyT ? [0, 2, 3, 1] : [0, 2, 1, 3]) } });
}

/** [B, heads, S, d] → [B, S, heads·d]. */
export function mergeHeads(net: Net, scope: string, x: string, channels: number): string {
  const t = net.op1(scope, 'Transpose', [x], { attrs: { perm: attr.ints([0, 2, 1, 3]) } });
  return net.op1(scope, 'Reshape', [t, net.constInt64(scope, [0, -1, channels])]);
}
