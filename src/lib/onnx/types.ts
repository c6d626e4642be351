/**
 * What an index of an ONNX file holds: the graph structure and, for every tensor, WHERE its
 * bytes are (never the bytes themselves). Plain data: structured-cloneable, so an index can be
 * posted to a worker. Offsets are absolute byte offsets in the model file, or in the named
 * external data file for `kind: 'external'`.
 */

/** Bytes [offset, offset + length) of the model file. */
export interface ByteRange {
  offset: number;
  length: number;
}

/** Where a tensor's element bytes live. */
export type TensorData =
  /** `raw_data`: little-endian elements of `dataType`. */
  | { kind: 'raw'; offset: number; length: number }
  /** A packed typed field (float_data fixed32, double_data fixed64; int32/int64/uint64 as varints). */
  | { kind: 'float_data' | 'double_data' | 'int32_data' | 'int64_data' | 'uint64_data'; offset: number; length: number }
  /** External data file `location` (relative to the model), bytes [offset, offset + length). */
  | { kind: 'external'; location: string; offset: number; length: number }
  /** No data field (zero elements, or a type this reader does not locate, e.g. strings). */
  | { kind: 'none' };

/** A TensorProto: initializer, or a tensor attribute (Constant nodes). */
export interface TensorInfo {
  name: string;
  /** ONNX DataType code (schema.ts `DataType`). */
  dataType: number;
  dims: number[];
  data: TensorData;
  /** Decoded elements of small numeric tensors (≤ 64 elements, not external): shape constants. */
  values?: number[];
  /** Graph initializers: the whole `initializer` field (tag, length, TensorProto) in the model file, for rewriting by slices. */
  record?: ByteRange;
}

/** A graph input/output/value_info. `dims` is null when no shape is given; a dim is a number, a dim_param name, or null (unknown). */
export interface ValueInfo {
  name: string;
  /** ONNX DataType code; 0 when not a tensor or not given. */
  elemType: number;
  dims: (number | string | null)[] | null;
  /** value_info entries only: the whole `value_info` field (tag, length, ValueInfoProto) in the model file. */
  record?: ByteRange;
}

/** A NodeProto attribute. Only the field matching `type` is set. */
export interface AttributeInfo {
  name: string;
  /** AttributeProto.AttributeType (schema.ts `AttributeType`). */
  type: number;
  f?: number;
  /** int64 read into a double (exact up to 2^53). */
  i?: number;
  /** UTF-8 decoded (short strings); longer ones are only located by `sRange`. */
  s?: string;
  sRange?: { offset: number; length: number };
  t?: TensorInfo;
  g?: GraphInfo;
  floats?: number[];
  ints?: number[];
  strings?: string[];
  tensors?: TensorInfo[];
  graphs?: GraphInfo[];
}

export interface NodeInfo {
  name: string;
  opType: string;
  /** '' for the default ONNX domain. */
  domain: string;
  /** Tensor names; '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: AttributeInfo[];
  /** The whole `node` field (tag, length, NodeProto) in the model file, for rewriting by slices. */
  record?: ByteRange;
}

export interface GraphInfo {
  name: string;
  nodes: NodeInfo[];
  initializers: TensorInfo[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
}

export interface OpsetImport {
  domain: string;
  version: number;
}

/** The index of one ONNX model file. */
export interface ModelIndex {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  opsetImports: OpsetImport[];
  metadata: Record<string, string>;
  graph: GraphInfo;
  /** Size of the model file in bytes. */
  byteLength: number;
  /** External data file names (`location`s) that initializers refer to. */
  externalLocations: string[];
  /**
   * Each top-level `graph` field in file order (a file with appended outputs has several, which
   * protobuf merges): tag at `offset`, payload [payload, end). Everything else of the file lies
   * outside these ranges and is copied unchanged by rewriters.
   */
  graphRecords?: { offset: number; payload: number; end: number }[];
}

/** The files behind an index: the model, and external data files keyed by `location`. */
export interface ModelSources {
  model: ArrayBuffer | Uint8Array | Blob;
  externalData?: Record<string, ArrayBuffer | Uint8Array | Blob>;
}
