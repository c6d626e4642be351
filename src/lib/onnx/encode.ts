/**
 * Small protobuf encoders for ONNX records (protobufjs Writer), shared by the model rewriters of
 * this layer (unpack.ts) and by the test-model generator (tools/sdgen/onnx-writer.ts). Fields are
 * written in the order onnx's own serialiser uses, so both produce files like real exports.
 */
import protobuf from 'protobufjs/minimal.js';
import { Node, Tensor } from './schema.ts';

const { Writer } = protobuf;
type PbWriter = protobuf.Writer;

/** Protobuf key: field number and wire type (0 varint, 2 length-delimited, 5 fixed32). */
export function tag(field: number, wireType: 0 | 2 | 5): number {
  return ((field << 3) | wireType) >>> 0;
}

/** Bytes written by `write` into a fresh Writer. */
export function encodeWith(write: (w: PbWriter) => void): Uint8Array {
  const w = Writer.create();
  write(w);
  return w.finish();
}

/** A length-delimited field `field` holding already-encoded `body` (tag, length, body). */
export function lengthDelimited(field: number, body: Uint8Array): Uint8Array {
  return encodeWith((w) => w.uint32(tag(field, 2)).bytes(body));
}

/** Tag and length prefix of a length-delimited field whose body of `length` bytes follows separately. */
export function fieldHeader(field: number, length: number): Uint8Array {
  return encodeWith((w) => w.uint32(tag(field, 2)).uint32(length));
}

/** What a NodeProto needs besides its attributes. */
export interface NodeFields {
  inputs: string[];
  outputs: string[];
  name?: string;
  opType: string;
  /** '' or absent for the default ONNX domain. */
  domain?: string;
}

/** NodeProto body: inputs, outputs, name, op_type, `attributes` (encoded AttributeProto bodies), domain. */
export function encodeNode(n: NodeFields, attributes: Uint8Array[] = []): Uint8Array {
  return encodeWith((w) => {
    for (const i of n.inputs) w.uint32(tag(Node.input, 2)).string(i);
    for (const o of n.outputs) w.uint32(tag(Node.output, 2)).string(o);
    if (n.name) w.uint32(tag(Node.name, 2)).string(n.name);
    w.uint32(tag(Node.opType, 2)).string(n.opType);
    for (const a of attributes) w.uint32(tag(Node.attribute, 2)).bytes(a);
    if (n.domain) w.uint32(tag(Node.domain, 2)).string(n.domain);
  });
}

/** The header fields of a TensorProto. */
export interface TensorHeader {
  dims: readonly number[];
  dataType: number;
  name?: string;
}

/** TensorProto fields dims (1), data_type (2), name (8), then whatever `rest` writes (raw_data tag or external entries). */
export function encodeTensorHeader(t: TensorHeader, rest: (w: PbWriter) => void): Uint8Array {
  return encodeWith((w) => {
    for (const d of t.dims) w.uint32(tag(Tensor.dims, 0)).int64(d);
    w.uint32(tag(Tensor.dataType, 0)).int32(t.dataType);
    if (t.name) w.uint32(tag(Tensor.name, 2)).string(t.name);
    rest(w);
  });
}

/**
 * A TensorProto holding `bytes` in raw_data, as the field `field` of its parent (e.g. Graph.initializer),
 * in two chunks: [tag · length · header · raw_data tag · length] and `bytes` itself (not copied).
 */
export function rawTensorRecord(field: number, t: TensorHeader, bytes: Uint8Array): [Uint8Array, Uint8Array] {
  const header = encodeTensorHeader(t, (w) => w.uint32(tag(Tensor.rawData, 2)).uint32(bytes.byteLength));
  const prefix = fieldHeader(field, header.byteLength + bytes.byteLength);
  const head = new Uint8Array(prefix.byteLength + header.byteLength);
  head.set(prefix);
  head.set(header, prefix.byteLength);
  return [head, bytes];
}
