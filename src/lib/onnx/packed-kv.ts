/**
 * Packed-KV cross-attention as onnxruntime's UNet fusion (fusion_attention_unet.py with
 * enable_packed_kv) writes it, found by STRUCTURE, not by names:
 *
 *   context [B, L, D] ─MatMul(W_kv [D, heads·2·headSize])→ [B, L, heads·2·headSize]
 *     ─Reshape([0, 0, heads, 2, headSize])→ kv [B, L, heads, 2, headSize]
 *   MultiHeadAttention(query, kv)   (com.microsoft, no value input)
 *
 * W_kv interleaves K and V per head: in each row, head h's K columns are [h·2d, h·2d + d) and
 * its V columns [h·2d + d, (h+1)·2d), d = headSize.
 */
import { OnnxFormatError } from './errors.ts';
import { constantSequence, initializerBehind, lookup } from './graph.ts';
import { bytesPerElement, DataType, dataTypeName, MS_DOMAIN } from './schema.ts';
import type { ModelIndex, NodeInfo, TensorInfo } from './types.ts';

/** One MultiHeadAttention that takes packed K/V, with the nodes and weight behind it. */
export interface PackedKvAttention {
  /** The com.microsoft MultiHeadAttention node (inputs [query, kv, '' | absent, …]). */
  attention: NodeInfo;
  /** Reshape [B, L, heads·2·d] → [B, L, heads, 2, d]. */
  reshape: NodeInfo;
  /** MatMul(context, W_kv). */
  matmul: NodeInfo;
  /** W_kv: [contextDim, heads·2·headSize], fp32/fp16/bf16. */
  weight: TensorInfo;
  heads: number;
  headSize: number;
  /** Rows of W_kv: width of the context (768 SD 1.x, 1024 SD 2.x). */
  contextDim: number;
}

/** True for a MultiHeadAttention whose value input is absent: K/V (or Q/K/V) come packed in one tensor. */
export function isPackedAttention(n: NodeInfo): boolean {
  return n.opType === 'MultiHeadAttention' && n.domain === MS_DOMAIN && !n.inputs[2];
}

/**
 * Every packed-KV MultiHeadAttention of the main graph, in graph order. Packed QKV
 * (self-attention: no key input either) is not included. Throws OnnxFormatError naming the node
 * when a packed-KV attention is not fed by Reshape(MatMul(context, stored 2-D weight)) with
 * consistent head shapes.
 */
export function findPackedKvAttention(index: ModelIndex): PackedKvAttention[] {
  const l = lookup(index.graph);
  const out: PackedKvAttention[] = [];
  for (const attention of index.graph.nodes) {
    if (!isPackedAttention(attention) || !attention.inputs[1]) continue;
    const where = `MultiHeadAttention '${attention.name || attention.outputs[0]}'`;
    const unsupported = 'this export style is not supported; please report it (or use an export without packed KV)';
    const kv = attention.inputs[1];
    const reshape = l.producer.get(kv);
    if (reshape?.opType !== 'Reshape') {
      throw new OnnxFormatError(`${where} takes packed K/V '${kv}' from ${describe(reshape)}, not from a Reshape of a MatMul`, undefined, unsupported);
    }
    const matmul = l.producer.get(reshape.inputs[0]);
    if (matmul?.opType !== 'MatMul') {
      throw new OnnxFormatError(`${where} takes packed K/V through Reshape '${reshape.name}' of ${describe(matmul)}, not of a MatMul`, undefined, unsupported);
    }
    const weight = initializerBehind(l, matmul.inputs[1]);
    if (!weight || weight.dims.length !== 2) {
      throw new OnnxFormatError(`${where}: packed KV MatMul '${matmul.name}' has no stored 2-D weight (input '${matmul.inputs[1]}')`, undefined, 'quantised or computed weights are not supported; use an fp16 or fp32 export');
    }
    const heads = attention.attributes.find((a) => a.name === 'num_heads')?.i ?? 0;
    const [contextDim, cols] = weight.dims;
    if (heads <= 0 || cols % (2 * heads) !== 0) {
      throw new OnnxFormatError(`${where} has num_heads ${heads || 'missing'}, which does not split the ${cols} columns of '${weight.name}' into K and V per head`, undefined, 'the file may be damaged; re-download it');
    }
    const headSize = cols / (2 * heads);
    const shape = constantSequence(l, reshape.inputs[1]);
    const tail = shape.slice(-3);
    const fixed = shape.every((s) => s !== null);
    if ((fixed && shape.length !== 5) || tail.some((s, i) => s !== null && s !== [heads, 2, headSize][i])) {
      throw new OnnxFormatError(`${where}: Reshape '${reshape.name}' makes [${shape.map((s) => s ?? '?')}], not [B, L, ${heads}, 2, ${headSize}] packed K/V`, undefined, unsupported);
    }
    if (!bytesPerElement[weight.dataType] || ![DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16].includes(weight.dataType as 1)) {
      throw new OnnxFormatError(`${where}: packed KV weight '${weight.name}' is ${dataTypeName[weight.dataType] ?? weight.dataType}`, undefined, 'only float32, float16 and bfloat16 weights can be unpacked');
    }
    out.push({ attention, reshape, matmul, weight, heads, headSize, contextDim });
  }
  return out;
}

function describe(n: NodeInfo | undefined): string {
  return n ? `${n.opType} '${n.name || n.outputs[0]}'` : 'no node (a graph input or an initializer)';
}

/**
 * Splits the stored bytes of a packed KV weight (row-major [rows, heads·2·headSize], elements of
 * `elementBytes` bytes each) into K and V, each row-major [rows, heads·headSize]. Bytes are
 * moved, never converted: fp16 stays fp16.
 */
export function splitPackedKvBytes(packed: Uint8Array, rows: number, heads: number, headSize: number, elementBytes: number): { k: Uint8Array; v: Uint8Array } {
  const part = headSize * elementBytes; // one head's K (or V) in one row
  const row = 2 * heads * part;
  if (packed.length !== rows * row) throw new RangeError(`packed KV: expected ${rows * row} bytes, got ${packed.length}`);
  const k = new Uint8Array(rows * heads * part);
  const v = new Uint8Array(rows * heads * part);
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < heads; h++) {
      const src = r * row + 2 * h * part;
      const dst = (r * heads + h) * part;
      k.set(packed.subarray(src, src + part), dst);
      v.set(packed.subarray(src + part, src + 2 * part), dst);
    }
  }
  return { k, v };
}
