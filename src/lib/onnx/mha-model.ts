/**
 * A one-node ONNX model that checks an engine's com.microsoft MultiHeadAttention, the op fused
 * SD exports use for every attention: Q [1, N, h·d], K and V [1, M, h·d] (float32 inputs) →
 * out [1, N, h·d]. Measured here: onnxruntime-web 1.30's WebGPU kernel is wrong on an adapter
 * with subgroup size 4 (SwiftShader) for head sizes divisible by 4 and N ≥ 32; the worker runs
 * this model at load to find out whether the user's adapter is affected (workers/mha-probe.ts).
 */
import protobuf from 'protobufjs/minimal.js';
import { encodeNode, encodeWith, tag } from './encode.ts';
import { Attribute, AttributeType, DataType, Dimension, Graph, MS_DOMAIN, Model, OpsetId, TensorShape, TensorTypeProto, TypeProto, ValueInfo } from './schema.ts';

type PbWriter = protobuf.Writer;

/** The shape of the attention to check. */
export interface AttentionProbeShape {
  heads: number;
  headSize: number;
  /** Query length N. */
  queries: number;
  /** Key/value length M. */
  keys: number;
}

/** ValueInfoProto of a float32 tensor with static dims. */
function floatValueInfo(name: string, dims: number[]): Uint8Array {
  const shape = encodeWith((w) => {
    for (const d of dims) w.uint32(tag(TensorShape.dim, 2)).bytes(encodeWith((x) => x.uint32(tag(Dimension.dimValue, 0)).int64(d)));
  });
  const tensorType = encodeWith((w) => w.uint32(tag(TensorTypeProto.elemType, 0)).int32(DataType.FLOAT).uint32(tag(TensorTypeProto.shape, 2)).bytes(shape));
  const type = encodeWith((w) => w.uint32(tag(TypeProto.tensorType, 2)).bytes(tensorType));
  return encodeWith((w) => w.uint32(tag(ValueInfo.name, 2)).string(name).uint32(tag(ValueInfo.type, 2)).bytes(type));
}

function opset(w: PbWriter, domain: string, version: number): void {
  w.uint32(tag(Model.opsetImport, 2)).bytes(encodeWith((x) => x.uint32(tag(OpsetId.domain, 2)).string(domain).uint32(tag(OpsetId.version, 0)).int64(version)));
}

/** The model's bytes: inputs 'q', 'k', 'v', output 'out'. */
export function multiHeadAttentionModel({ heads, headSize, queries, keys }: AttentionProbeShape): Uint8Array {
  for (const [name, v] of Object.entries({ heads, headSize, queries, keys })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`multiHeadAttentionModel: ${name} must be a positive integer, got ${v}`);
  }
  const c = heads * headSize;
  const numHeads = encodeWith((w) => w.uint32(tag(Attribute.name, 2)).string('num_heads').uint32(tag(Attribute.i, 0)).int64(heads).uint32(tag(Attribute.type, 0)).int32(AttributeType.INT));
  const node = encodeNode({ inputs: ['q', 'k', 'v'], outputs: ['out'], name: 'mha', opType: 'MultiHeadAttention', domain: MS_DOMAIN }, [numHeads]);
  const graph = encodeWith((w) => {
    w.uint32(tag(Graph.node, 2)).bytes(node);
    w.uint32(tag(Graph.name, 2)).string('multi-head attention probe');
    w.uint32(tag(Graph.input, 2)).bytes(floatValueInfo('q', [1, queries, c]));
    w.uint32(tag(Graph.input, 2)).bytes(floatValueInfo('k', [1, keys, c]));
    w.uint32(tag(Graph.input, 2)).bytes(floatValueInfo('v', [1, keys, c]));
    w.uint32(tag(Graph.output, 2)).bytes(floatValueInfo('out', [1, queries, c]));
  });
  return encodeWith((w) => {
    w.uint32(tag(Model.irVersion, 0)).int64(8);
    w.uint32(tag(Model.producerName, 2)).string('erasure-lab');
    w.uint32(tag(Model.graph, 2)).bytes(graph);
    opset(w, '', 17);
    opset(w, MS_DOMAIN, 1);
  });
}
