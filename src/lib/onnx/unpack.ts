/**
 * Unpacking packed-KV cross-attention so that every onnxruntime-web engine runs the model: the
 * CPU/WASM kernels and the native WebGPU EP of ORT 1.30 all refuse MultiHeadAttention with
 * packed K/V. Each packed site
 *
 *   MatMul(context, W_kv [D, heads·2·d]) → Reshape [B, L, heads, 2, d] → MHA(query, kv)
 *
 * becomes
 *
 *   MatMul(context, W_k [D, heads·d]) → k,  MatMul(context, W_v [D, heads·d]) → v,  MHA(query, k, v)
 *
 * with the MHA's attributes kept byte for byte. The new file is a Blob of slices of the original
 * plus the new records; only the packed weights (and each MHA's node record, ~100 bytes) are read.
 */
import { encodeNode, lengthDelimited, rawTensorRecord, type NodeFields } from './encode.ts';
import { OnnxFormatError } from './errors.ts';
import { lookup, matMulUpstream, type GraphLookup } from './graph.ts';
import { findPackedKvAttention, splitPackedKvBytes, type PackedKvAttention } from './packed-kv.ts';
import { spliceGraph, withInputs, type GraphEdit } from './rewrite.ts';
import { bytesPerElement, Graph } from './schema.ts';
import type { ModelIndex, ModelSources, NodeInfo } from './types.ts';
import { readTensorBytes } from './weights.ts';
import { toByteSource, type BytesLike } from './wire.ts';

/** The K or V projection written for one unpacked site. */
export interface UnpackedProjection {
  /** New MatMul node. */
  node: string;
  /** Its output, [B, L, heads·headSize]: the MHA's key (or value) input. */
  output: string;
  /** New initializer [contextDim, heads·headSize], same dtype as the packed weight, inline raw_data. */
  weight: string;
}

/** One rewritten attention. */
export interface UnpackedSite {
  /** The MultiHeadAttention node (same name, now with separate key and value). */
  attention: string;
  /** The packed weight it used (removed unless something else reads it). */
  packedWeight: string;
  k: UnpackedProjection;
  v: UnpackedProjection;
}

/** Result of {@link unpackPackedKv}. */
export interface UnpackedModel {
  /** The new model file (a Blob); `sources.model` itself when nothing was packed. */
  model: BytesLike;
  /** `sources.externalData`, unchanged: new weights are always inline. */
  externalData?: Record<string, BytesLike>;
  /** Number of attentions rewritten; 0 means the model is returned unchanged. */
  unpacked: number;
  sites: UnpackedSite[];
}

/**
 * Rewrites every packed-KV MultiHeadAttention of the model `index` describes into separate K and V
 * MatMuls feeding MHA(query, key, value). New weights are named after the attention's to_q MatMul
 * when it has the diffusers name (`/down_blocks.0/…/attn2/to_q/MatMul` → node
 * `/down_blocks.0/…/attn2/to_k/MatMul`, weight `down_blocks.0.….attn2.to_k.weight`), else after the
 * packed ones (`<MatMul_KV_j>_k`, weight `<MatMul_KV_j_weight>_k`). The packed MatMul, its Reshape,
 * the packed weight, the Reshape's shape constant and value_info of removed tensors are dropped
 * when nothing else reads them. Packed QKV (self-attention) is left as is.
 * Throws OnnxFormatError naming the node when a packed attention has an unexpected structure.
 */
export async function unpackPackedKv(index: ModelIndex, sources: ModelSources): Promise<UnpackedModel> {
  const found = findPackedKvAttention(index);
  if (!found.length) return { model: sources.model, externalData: sources.externalData, unpacked: 0, sites: [] };
  const g = index.graph;
  const l = lookup(g);
  const removed = removableNodes(l, found, new Set(g.outputs.map((o) => o.name)));
  const taken = new Set([...g.nodes.flatMap((n) => [n.name, ...n.outputs]), ...g.initializers.map((t) => t.name), ...g.inputs.map((i) => i.name)]);
  const model = toByteSource(sources.model);
  const edits: GraphEdit[] = [];
  const sites: UnpackedSite[] = [];
  for (const p of found) {
    const site = names(l, p, taken);
    const record = (n: NodeInfo) => n.record ?? missingRecords(n.name);
    const mha = record(p.attention);
    const mhaBytes = await model.read(mha.offset, mha.offset + mha.length);
    const stored = await storedBytes(p, sources);
    const { k, v } = splitPackedKvBytes(stored, p.contextDim, p.heads, p.headSize, bytesPerElement[p.weight.dataType]);
    const dims = [p.contextDim, p.heads * p.headSize];
    const context = p.matmul.inputs[0];
    edits.push({
      offset: mha.offset,
      length: mha.length,
      insert: [
        nodeRecord({ inputs: [context, site.k.weight], outputs: [site.k.output], name: site.k.node, opType: 'MatMul' }),
        nodeRecord({ inputs: [context, site.v.weight], outputs: [site.v.output], name: site.v.node, opType: 'MatMul' }),
        withInputs(mhaBytes, [p.attention.inputs[0], site.k.output, site.v.output, ...p.attention.inputs.slice(3)]),
      ],
    });
    // The new weights take the packed weight's place (or go right after it when it stays).
    const w = p.weight.record ?? missingRecords(p.weight.name);
    const weightGoes = removed.initializers.has(p.weight.name);
    edits.push({
      offset: weightGoes ? w.offset : w.offset + w.length,
      length: 0,
      insert: [...rawTensorRecord(Graph.initializer, { dims, dataType: p.weight.dataType, name: site.k.weight }, k), ...rawTensorRecord(Graph.initializer, { dims, dataType: p.weight.dataType, name: site.v.weight }, v)],
    });
    sites.push(site);
  }
  for (const n of removed.nodes) edits.push({ ...(n.record ?? missingRecords(n.name)), insert: [] });
  for (const t of g.initializers) if (removed.initializers.has(t.name)) edits.push({ ...(t.record ?? missingRecords(t.name)), insert: [] });
  const gone = new Set([...removed.nodes].flatMap((n) => n.outputs));
  for (const vi of g.valueInfo) if (gone.has(vi.name) && vi.record) edits.push({ ...vi.record, insert: [] });
  return { model: spliceGraph(sources.model, index, edits), externalData: sources.externalData, unpacked: found.length, sites };
}

/**
 * Nodes and initializers that can go: each attention's Reshape and packed MatMul when nothing
 * else reads their outputs, then initializers and Constant nodes read only by removed nodes.
 * (The attentions themselves are replaced, not removed.)
 */
function removableNodes(l: GraphLookup, found: PackedKvAttention[], graphOutputs: Set<string>): { nodes: Set<NodeInfo>; initializers: Set<string> } {
  const replaced = new Set(found.map((p) => p.attention));
  const nodes = new Set<NodeInfo>();
  const onlyReadBy = (n: NodeInfo) => n.outputs.every((o) => !graphOutputs.has(o) && (l.consumers.get(o) ?? []).every((c) => nodes.has(c) || replaced.has(c)));
  for (const p of found) {
    if (onlyReadBy(p.reshape)) nodes.add(p.reshape);
    if (nodes.has(p.reshape) && onlyReadBy(p.matmul)) nodes.add(p.matmul);
  }
  const initializers = new Set<string>();
  const unread = (x: string) => !graphOutputs.has(x) && (l.consumers.get(x) ?? []).every((c) => nodes.has(c));
  for (const n of [...nodes]) {
    for (const x of n.inputs) {
      if (!x || !unread(x)) continue;
      if (l.initializer.has(x)) initializers.add(x);
      const constant = l.producer.get(x);
      if (constant?.opType === 'Constant') nodes.add(constant);
    }
  }
  return { nodes, initializers };
}

/** New node and weight names of one site (see unpackPackedKv), made unique against `taken`. */
function names(l: GraphLookup, p: PackedKvAttention, taken: Set<string>): UnpackedSite {
  const scope = matMulUpstream(l, p.attention.inputs[0])?.name.match(/^(.*)\/to_q\/MatMul$/)?.[1];
  const make = (part: 'k' | 'v'): UnpackedProjection => {
    const base = scope
      ? { node: `${scope}/to_${part}/MatMul`, output: `${scope}/to_${part}/MatMul_output_0`, weight: `${scope.replace(/^\//, '').replaceAll('/', '.')}.to_${part}.weight` }
      : { node: `${p.matmul.name || p.weight.name}_${part}`, output: `${p.matmul.outputs[0]}_${part}`, weight: `${p.weight.name}_${part}` };
    return { node: unique(base.node, taken), output: unique(base.output, taken), weight: unique(base.weight, taken) };
  };
  return { attention: p.attention.name, packedWeight: p.weight.name, k: make('k'), v: make('v') };
}

function unique(name: string, taken: Set<string>): string {
  let out = name;
  for (let i = 1; taken.has(out); i++) out = `${name}_unpacked${i}`;
  taken.add(out);
  return out;
}

/** The packed weight's element bytes in raw little-endian layout (raw_data, external data, or fp32 float_data). */
async function storedBytes(p: PackedKvAttention, sources: ModelSources): Promise<Uint8Array> {
  const kind = p.weight.data.kind;
  if (kind !== 'raw' && kind !== 'external' && kind !== 'float_data') {
    throw new OnnxFormatError(`packed KV weight '${p.weight.name}' stores its elements as ${kind}, which cannot be unpacked`, undefined, 're-save the model with raw_data (onnx.save)');
  }
  // float_data of a float32 tensor is packed little-endian fixed32: the same bytes as raw_data.
  return readTensorBytes(p.weight, sources);
}

function nodeRecord(n: NodeFields): Uint8Array {
  return lengthDelimited(Graph.node, encodeNode(n));
}

function missingRecords(name: string): never {
  throw new OnnxFormatError(`the model index has no byte range for '${name}'`, undefined, 'index the file again with this version of indexModel');
}
