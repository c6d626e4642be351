/**
 * Cross-attention sites of a Stable Diffusion UNet: for every transformer block, the attn2
 * to_q/to_k/to_v weights (or the packed KV weight), head count and head size, resolution level,
 * and the Q tensor attention maps expose. Found from the graph, not from assumptions: K and V
 * are the MatMuls that read `encoder_hidden_states`; heads come from MultiHeadAttention's
 * `num_heads` or the Reshape that splits heads.
 */
import { OnnxFormatError } from './errors.ts';
import { constantSequence, downstream, initializerBehind, lookup, matMulUpstream, type GraphLookup } from './graph.ts';
import { MS_DOMAIN } from './schema.ts';
import type { ModelIndex, NodeInfo, TensorInfo } from './types.ts';

/** One attn2 projection as a logical [rows = in, cols = out] matrix (y = x · W). */
export interface ProjectionRef {
  /** The initializer that stores it (row-major [in, out]; for packed KV, [in, heads·2·headSize]). */
  tensor: TensorInfo;
  /** Name of the MatMul node that applies it. */
  node: string;
  rows: number;
  cols: number;
  /** Set when K and V share one interleaved weight: per head h, columns [h·2d, h·2d+d) are K, [h·2d+d, (h+1)·2d) are V. */
  packed?: { part: 'k' | 'v'; heads: number; headSize: number };
}

export interface CrossAttentionSite {
  /** Transformer block, e.g. 'down_blocks.0.attentions.0.transformer_blocks.0'. */
  name: string;
  /** 0 = full latent resolution, 1 = /2, 2 = /4, 3 = /8 (mid block); null when the name does not say. */
  level: number | null;
  heads: number;
  headSize: number;
  /** heads · headSize: columns of Q, K and V. */
  innerDim: number;
  /** Width of encoder_hidden_states (768 SD 1.x, 1024 SD 2.x). */
  contextDim: number;
  style: 'plain' | 'fused' | 'fused-packed-kv';
  q: ProjectionRef;
  k: ProjectionRef;
  v: ProjectionRef;
  /** Tensor Q = hidden · Wq, [batch, tokens, innerDim]: the to_q MatMul output. */
  qTensor: string;
}

const CONTEXT_INPUT = 'encoder_hidden_states';

/**
 * Finds the 16 cross-attention sites of an SD 1.x/2.x UNet (any number in smaller UNets), in
 * graph order. Throws OnnxFormatError describing what the file looks like when it is not a UNet.
 */
export function findCrossAttentionSites(index: ModelIndex): CrossAttentionSite[] {
  const g = index.graph;
  const l = lookup(g);
  const input = g.inputs.find((i) => i.name === CONTEXT_INPUT);
  if (!input) {
    throw new OnnxFormatError(
      `found 0 cross-attention sites: the model has no input '${CONTEXT_INPUT}' (inputs: ${g.inputs.map((i) => i.name).join(', ') || 'none'}); it has nodes like ${sampleNodes(g.nodes)}`,
      undefined,
      'is this the text encoder or VAE? pick the UNet (unet/model.onnx)',
    );
  }
  const context = contextTensors(l, CONTEXT_INPUT);
  const projections = g.nodes.filter((n) => n.opType === 'MatMul' && context.has(n.inputs[0]));
  const groups = new Map<NodeInfo, NodeInfo[]>(); // to_q MatMul → its K/V MatMuls
  for (const mm of projections) {
    const q = queryMatMul(l, mm);
    if (!q) throw new OnnxFormatError(`cannot find the to_q projection that goes with '${mm.name}'`, undefined, 'this export style is not supported; please report it');
    groups.set(q, [...(groups.get(q) ?? []), mm]);
  }
  if (groups.size === 0) {
    throw new OnnxFormatError(
      `found 0 cross-attention sites: no MatMul reads '${CONTEXT_INPUT}' (its consumers: ${[...context].flatMap((c) => l.consumers.get(c) ?? []).map((n) => `${n.opType} '${n.name}'`).slice(0, 5).join(', ') || 'none'})`,
      undefined,
      'this does not look like a Stable Diffusion UNet export',
    );
  }
  const downBlocks = countDownBlocks(g.nodes);
  return [...groups].map(([q, kv]) => buildSite(l, q, kv, input.dims?.at(-1), downBlocks)).sort((a, b) => siteOrder(l, a) - siteOrder(l, b));
}

/** encoder_hidden_states and its Cast/Identity copies (fp16 models cast the fp32 input). */
function contextTensors(l: GraphLookup, name: string): Set<string> {
  const out = new Set([name]);
  for (let frontier = [name], hop = 0; hop < 4 && frontier.length; hop++) {
    frontier = frontier.flatMap((x) => (l.consumers.get(x) ?? []).filter((n) => n.opType === 'Cast' || n.opType === 'Identity').map((n) => n.outputs[0]));
    for (const x of frontier) out.add(x);
  }
  return out;
}

/** The MultiHeadAttention fed (within a few reshapes) by tensor `name`, if any. */
function attentionNode(l: GraphLookup, name: string): NodeInfo | null {
  return downstream(l, name, 3).find((n) => n.opType === 'MultiHeadAttention' && n.domain === MS_DOMAIN) ?? null;
}

/** The to_q MatMul of the attention a K/V (or packed KV) MatMul belongs to. */
function queryMatMul(l: GraphLookup, kv: NodeInfo): NodeInfo | null {
  const mha = attentionNode(l, kv.outputs[0]);
  if (mha) return matMulUpstream(l, mha.inputs[0]);
  const scope = kv.name.match(/^(.*)\/to_[kv]\/MatMul$/)?.[1];
  if (!scope) return null;
  return l.byName.get(`${scope}/to_q/MatMul`) ?? null;
}

function buildSite(l: GraphLookup, qNode: NodeInfo, kvNodes: NodeInfo[], contextWidth: number | string | null | undefined, downBlocks: number): CrossAttentionSite {
  const where = `cross-attention at '${qNode.name}'`;
  const q = projection(l, qNode, where);
  const innerDim = q.cols;
  const mha = attentionNode(l, qNode.outputs[0]);
  const heads = mha ? (mha.attributes.find((a) => a.name === 'num_heads')?.i ?? 0) : headsFromReshape(l, qNode.outputs[0], innerDim);
  if (!heads || innerDim % heads !== 0) {
    throw new OnnxFormatError(`cannot tell the head count of the ${where} (found ${heads || 'none'} for ${innerDim} channels)`, undefined, 'this export style is not supported; please report it');
  }
  const headSize = innerDim / heads;
  let k: ProjectionRef | undefined;
  let v: ProjectionRef | undefined;
  let style: CrossAttentionSite['style'] = mha ? 'fused' : 'plain';
  for (const n of kvNodes) {
    const p = projection(l, n, where);
    const role = mha ? (matMulUpstream(l, mha.inputs[1]) === n ? 'k' : matMulUpstream(l, mha.inputs[2] ?? '') === n ? 'v' : '') : (n.name.match(/\/to_([kv])\/MatMul$/)?.[1] ?? '');
    if (role === 'k' && mha && !mha.inputs[2] && p.cols === 2 * innerDim) {
      style = 'fused-packed-kv';
      k = { ...p, cols: innerDim, packed: { part: 'k', heads, headSize } };
      v = { ...p, cols: innerDim, packed: { part: 'v', heads, headSize } };
    } else if (role === 'k') k = p;
    else if (role === 'v') v = p;
    else throw new OnnxFormatError(`the ${where}: cannot tell whether '${n.name}' is to_k or to_v`, undefined, 'this export style is not supported; please report it');
  }
  if (!k || !v) throw new OnnxFormatError(`the ${where} has ${k ? 'no to_v' : 'no to_k'} projection reading encoder_hidden_states`, undefined, 'this does not look like a Stable Diffusion UNet export');
  for (const p of [k, v]) {
    if (p.cols !== innerDim || p.rows !== k.rows) {
      throw new OnnxFormatError(`the ${where} has projections of mismatched shapes (q [${q.rows}, ${q.cols}], k/v [${p.rows}, ${p.cols}])`, undefined, 'the file may be damaged; re-download it');
    }
  }
  if (typeof contextWidth === 'number' && contextWidth !== k.rows) {
    throw new OnnxFormatError(`the ${where} maps ${k.rows} context channels but encoder_hidden_states has ${contextWidth}`, undefined, 'the file may be damaged; re-download it');
  }
  const name = blockName(qNode.name);
  return { name, level: levelOf(name, downBlocks), heads, headSize, innerDim, contextDim: k.rows, style, q, k, v, qTensor: qNode.outputs[0] };
}

function projection(l: GraphLookup, n: NodeInfo, where: string): ProjectionRef {
  const t = initializerBehind(l, n.inputs[1]);
  if (!t || t.dims.length !== 2) {
    throw new OnnxFormatError(`the ${where}: MatMul '${n.name}' has no stored 2-D weight (input '${n.inputs[1]}')`, undefined, 'quantised or computed weights are not supported; use an fp16 or fp32 export');
  }
  return { tensor: t, node: n.name, rows: t.dims[0], cols: t.dims[1] };
}

/** Heads from the Reshape that splits Q into [batch, tokens, heads, headSize]. */
function headsFromReshape(l: GraphLookup, q: string, innerDim: number): number {
  for (const n of downstream(l, q, 3)) {
    if (n.opType !== 'Reshape') continue;
    const seq = constantSequence(l, n.inputs[1]);
    for (let i = 0; i + 1 < seq.length; i++) {
      const [h, s] = [seq[i], seq[i + 1]];
      if (h !== null && s !== null && h > 0 && s > 0 && h * s === innerDim && i + 2 === seq.length) return h;
    }
  }
  return 0;
}

/** '/down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_q/MatMul' → 'down_blocks.0.attentions.0.transformer_blocks.0'. */
export function blockName(nodeName: string): string {
  const scope = nodeName.match(/^\/?(.*?)\/attn2?\//)?.[1] ?? nodeName.replace(/\/to_q\/MatMul$/, '');
  return scope.replace(/^\//, '').replaceAll('/', '.');
}

function countDownBlocks(nodes: NodeInfo[]): number {
  let max = -1;
  for (const n of nodes) {
    const m = n.name.match(/^\/?down_blocks\.(\d+)\//);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

/** Resolution level from the block name: down_blocks.i → i, mid → last, up_blocks.i → last − i. */
function levelOf(name: string, downBlocks: number): number | null {
  const down = name.match(/^down_blocks\.(\d+)\./);
  if (down) return Number(down[1]);
  if (downBlocks === 0) return null;
  if (name.startsWith('mid_block.')) return downBlocks - 1;
  const up = name.match(/^up_blocks\.(\d+)\./);
  return up ? downBlocks - 1 - Number(up[1]) : null;
}

function siteOrder(l: GraphLookup, s: CrossAttentionSite): number {
  return l.order.get(l.producer.get(s.qTensor)!) ?? 0;
}

function sampleNodes(nodes: NodeInfo[]): string {
  const named = nodes.filter((n) => n.name).map((n) => `'${n.name}'`);
  return named.length ? [named[0], named[Math.floor(named.length / 2)], named.at(-1)].join(', ') : `${nodes.length} unnamed nodes`;
}
