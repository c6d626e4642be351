/**
 * A small ONNX graph builder and protobuf encoder (Node and browser safe, no `node:` imports).
 *
 * Build a graph with {@link GraphBuilder}, then serialise it with {@link encodeModel}:
 *
 *   const g = new GraphBuilder();
 *   g.input('x', DataType.FLOAT, ['batch', 4]);
 *   g.initializer('w', DataType.FLOAT, [4, 2], new Float32Array(8));
 *   g.node('MatMul', ['x', 'w'], ['y'], { name: '/proj/MatMul' });
 *   g.output('y', DataType.FLOAT, ['batch', 2]);
 *   const { model } = encodeModel(g, { opsets: { '': 17 } });
 *
 * Wire format, as onnx's own (proto2) serialiser writes it, so a reader sees real files:
 * - fields in field-number order (ModelProto: ir_version … graph (7) … opset_import (8));
 * - repeated scalars (dims, AttributeProto.floats/ints) UNPACKED, one tag per element;
 * - every initializer's bytes in `raw_data` (little-endian), or, with `externalData`, tensors
 *   whose raw bytes are >= `sizeThreshold` go to one side file with `data_location = EXTERNAL`
 *   and external_data entries `location`, `offset`, `length` (decimal strings), as onnx's
 *   `save_model(..., save_as_external_data=True)` does. Offsets are packed back to back.
 *
 * Large models: the output is assembled from chunks (tensor bytes are referenced, not copied,
 * until the one final copy), so a 1.7 GB protobuf costs one extra copy; use
 * {@link encodeModelChunks} to stream chunks to disk without even that copy.
 */
import protobuf from 'protobufjs/minimal.js';
import {
  Attribute,
  AttributeType,
  DataLocation,
  Dimension,
  Graph,
  Model,
  OpsetId,
  StringStringEntry,
  Tensor,
  TensorShape,
  TensorTypeProto,
  TypeProto,
  ValueInfo,
  DataType,
} from '../../src/lib/onnx/schema.ts';
import { encodeNode as encodeNodeFields, encodeTensorHeader, encodeWith as small, lengthDelimited as message, tag } from '../../src/lib/onnx/encode.ts';

type PbWriter = protobuf.Writer;

export { GraphBuilder, attr, checkTensor } from './graph-builder.ts';
export type { AttrValue, Dim, NodeDef, NodeOptions, TensorData, TensorValue, ValueInfoDef } from './graph-builder.ts';
import { checkTensor, type AttrValue, type GraphBuilder, type NodeDef, type TensorData, type TensorValue, type ValueInfoDef } from './graph-builder.ts';

/** Options of {@link encodeModel}. */
export interface EncodeOptions {
  /** Opset per domain, e.g. `{ '': 17, 'com.microsoft': 1 }`. */
  opsets: Record<string, number>;
  /** ModelProto.ir_version; default 8 (what torch writes at opset 17). */
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  /** ModelProto.metadata_props. */
  metadata?: Record<string, string>;
  /** Move tensors with at least `sizeThreshold` (default 1024) raw bytes to `location`. */
  externalData?: { location: string; sizeThreshold?: number };
}

/** Result of {@link encodeModel}: the .onnx bytes and, with external data, the side file. */
export interface EncodedModel {
  model: Uint8Array;
  externalData?: Uint8Array;
}

/** Result of {@link encodeModelChunks}: the same bytes as lists of chunks, in order. */
export interface EncodedChunks {
  model: Uint8Array[];
  externalData?: Uint8Array[];
}

/** Serialises `graph` as a ModelProto (and the external data file, if asked). */
export function encodeModel(graph: GraphBuilder, options: EncodeOptions): EncodedModel {
  const chunks = encodeModelChunks(graph, options);
  const out: EncodedModel = { model: concat(chunks.model) };
  if (chunks.externalData) out.externalData = concat(chunks.externalData);
  return out;
}

/** Like {@link encodeModel} but without joining: tensor chunks are views of the graph's data. */
export function encodeModelChunks(graph: GraphBuilder, options: EncodeOptions): EncodedChunks {
  const external = options.externalData;
  const threshold = external?.sizeThreshold ?? 1024;
  const externalChunks: Uint8Array[] = [];
  let externalOffset = 0;

  // GraphProto body as chunks: small parts encoded by protobufjs, tensor bytes by reference.
  const body: Uint8Array[] = [];
  for (const n of graph.nodes) body.push(message(Graph.node, encodeNode(n)));
  body.push(small((w) => w.uint32(tag(Graph.name, 2)).string(graph.name)));
  for (const t of graph.initializers) {
    if (t.encoding === 'typed') {
      body.push(message(Graph.initializer, encodeInlineTensor(t)));
      continue;
    }
    const bytes = tensorBytes(t.data);
    if (external && bytes.byteLength >= threshold) {
      const entries = { location: external.location, offset: String(externalOffset), length: String(bytes.byteLength) };
      body.push(message(Graph.initializer, encodeTensorHeader(t, (w) => {
        for (const [key, value] of Object.entries(entries)) {
          w.uint32(tag(Tensor.externalData, 2)).fork();
          w.uint32(tag(StringStringEntry.key, 2)).string(key);
          w.uint32(tag(StringStringEntry.value, 2)).string(value);
          w.ldelim();
        }
        w.uint32(tag(Tensor.dataLocation, 0)).int32(DataLocation.EXTERNAL);
      })));
      externalChunks.push(bytes);
      externalOffset += bytes.byteLength;
    } else {
      // tag 5 | len | header fields | tag 9 | len | raw bytes — the bytes stay a separate chunk.
      const header = encodeTensorHeader(t, (w) => w.uint32(tag(Tensor.rawData, 2)).uint32(bytes.byteLength));
      body.push(small((w) => w.uint32(tag(Graph.initializer, 2)).uint32(header.byteLength + bytes.byteLength)), header, bytes);
    }
  }
  for (const v of graph.inputs) body.push(message(Graph.input, encodeValueInfo(v)));
  for (const v of graph.outputs) body.push(message(Graph.output, encodeValueInfo(v)));
  const graphLength = body.reduce((s, c) => s + c.byteLength, 0);
  if (graphLength >= 2 ** 31) throw new Error(`encodeModel: the graph is ${graphLength} bytes, over protobuf's 2 GB limit; pass externalData: { location: 'weights.pb' }.`);

  const head = small((w) => {
    w.uint32(tag(Model.irVersion, 0)).int64(options.irVersion ?? 8);
    w.uint32(tag(Model.producerName, 2)).string(options.producerName ?? 'erasure-lab sdgen');
    w.uint32(tag(Model.producerVersion, 2)).string(options.producerVersion ?? '1');
    w.uint32(tag(Model.graph, 2)).uint32(graphLength);
  });
  const tail = small((w) => {
    for (const [domain, version] of Object.entries(options.opsets)) {
      w.uint32(tag(Model.opsetImport, 2)).fork();
      if (domain !== '') w.uint32(tag(OpsetId.domain, 2)).string(domain);
      w.uint32(tag(OpsetId.version, 0)).int64(version);
      w.ldelim();
    }
    for (const [key, value] of Object.entries(options.metadata ?? {})) {
      w.uint32(tag(Model.metadataProps, 2)).fork();
      w.uint32(tag(StringStringEntry.key, 2)).string(key);
      w.uint32(tag(StringStringEntry.value, 2)).string(value);
      w.ldelim();
    }
  });
  const result: EncodedChunks = { model: [head, ...body, tail] };
  if (external) result.externalData = externalChunks;
  return result;
}

/** Little-endian bytes of a typed array (a view, no copy; hosts running this are little-endian). */
export function tensorBytes(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// ---- encoding helpers ------------------------------------------------------------------------

// tag, small (encodeWith), message (lengthDelimited), node and tensor-header encoding are shared
// with the ONNX layer's rewriters: src/lib/onnx/encode.ts.

function encodeNode(n: NodeDef): Uint8Array {
  return encodeNodeFields(n, Object.entries(n.attrs).map(([name, value]) => encodeAttribute(name, value)));
}

function encodeAttribute(name: string, a: AttrValue): Uint8Array {
  return small((w) => {
    w.uint32(tag(Attribute.name, 2)).string(name);
    switch (a.type) {
      case 'float':
        w.uint32(tag(Attribute.f, 5)).float(a.value);
        break;
      case 'int':
        w.uint32(tag(Attribute.i, 0)).int64(checkInt(name, a.value));
        break;
      case 'string':
        w.uint32(tag(Attribute.s, 2)).string(a.value);
        break;
      case 'tensor':
        w.uint32(tag(Attribute.t, 2)).bytes(encodeInlineTensor(a.value));
        break;
      case 'floats':
        for (const v of a.value) w.uint32(tag(Attribute.floats, 5)).float(v);
        break;
      case 'ints':
        for (const v of a.value) w.uint32(tag(Attribute.ints, 0)).int64(checkInt(name, v));
        break;
    }
    w.uint32(tag(Attribute.type, 0)).int32(attributeTypeCode[a.type]);
  });
}

const attributeTypeCode: Record<AttrValue['type'], number> = {
  float: AttributeType.FLOAT,
  int: AttributeType.INT,
  string: AttributeType.STRING,
  floats: AttributeType.FLOATS,
  ints: AttributeType.INTS,
  tensor: AttributeType.TENSOR,
};

function encodeInlineTensor(t: TensorValue): Uint8Array {
  checkTensor(t.name ?? '(attribute tensor)', t.dataType, t.dims, t.data);
  if (t.encoding === 'typed') return encodeTensorHeader(t, (w) => writeTypedData(w, t));
  const bytes = tensorBytes(t.data);
  return concat([encodeTensorHeader(t, (w) => w.uint32(tag(Tensor.rawData, 2)).uint32(bytes.byteLength)), bytes]);
}

/** The packed typed field for `t.data` (TensorProto comments in onnx.proto say which field). */
function writeTypedData(w: PbWriter, t: TensorValue): void {
  const d = t.data;
  w.uint32(tag(typedField(t.dataType), 2)).fork();
  if (d instanceof Float32Array) for (const v of d) w.float(v);
  else if (d instanceof Float64Array) for (const v of d) w.double(v);
  else if (d instanceof BigInt64Array || d instanceof BigUint64Array) for (const v of d) w.int64(checkInt('int64 tensor element', Number(v)));
  else for (const v of d) w.int64(v); // int32/16/8, uint8/16 (fp16 bits) as varints
  w.ldelim();
}

function typedField(dataType: number): number {
  switch (dataType) {
    case DataType.FLOAT: return Tensor.floatData;
    case DataType.DOUBLE: return Tensor.doubleData;
    case DataType.INT64: return Tensor.int64Data;
    case DataType.UINT32: case DataType.UINT64: return 11; // uint64_data
    default: return Tensor.int32Data;
  }
}

function checkInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v)) throw new Error(`Attribute "${name}": ${v} is not an integer; use attr.float for real values.`);
  return v;
}

function encodeValueInfo(v: ValueInfoDef): Uint8Array {
  return small((w) => {
    w.uint32(tag(ValueInfo.name, 2)).string(v.name);
    w.uint32(tag(ValueInfo.type, 2)).fork();
    w.uint32(tag(TypeProto.tensorType, 2)).fork();
    w.uint32(tag(TensorTypeProto.elemType, 0)).int32(v.dataType);
    w.uint32(tag(TensorTypeProto.shape, 2)).fork();
    for (const d of v.dims) {
      w.uint32(tag(TensorShape.dim, 2)).fork();
      if (typeof d === 'number') w.uint32(tag(Dimension.dimValue, 0)).int64(d);
      else w.uint32(tag(Dimension.dimParam, 2)).string(d);
      w.ldelim();
    }
    w.ldelim().ldelim().ldelim();
  });
}

/** Joins chunks into one new Uint8Array. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const total = chunks.reduce((s, c) => s + c.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
