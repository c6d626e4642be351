/**
 * Field numbers and enums of onnx.proto (ONNX IR), shared by the reader (wire-level index) and
 * by the model generator (writer). Only what Stable Diffusion exports use is named here; the
 * reader skips any other field by its wire type.
 */

/** ModelProto field numbers. */
export const Model = {
  irVersion: 1,
  producerName: 2,
  producerVersion: 3,
  domain: 4,
  modelVersion: 5,
  docString: 6,
  graph: 7,
  opsetImport: 8,
  metadataProps: 14,
} as const;

/** OperatorSetIdProto field numbers. */
export const OpsetId = { domain: 1, version: 2 } as const;

/** GraphProto field numbers. */
export const Graph = {
  node: 1,
  name: 2,
  initializer: 5,
  docString: 10,
  input: 11,
  output: 12,
  valueInfo: 13,
  sparseInitializer: 15,
} as const;

/** NodeProto field numbers. */
export const Node = {
  input: 1,
  output: 2,
  name: 3,
  opType: 4,
  attribute: 5,
  docString: 6,
  domain: 7,
} as const;

/** AttributeProto field numbers. */
export const Attribute = {
  name: 1,
  f: 2,
  i: 3,
  s: 4,
  t: 5,
  g: 6,
  floats: 7,
  ints: 8,
  strings: 9,
  tensors: 10,
  graphs: 11,
  docString: 13,
  type: 20,
  refAttrName: 21,
} as const;

/** AttributeProto.AttributeType. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
} as const;

/** ValueInfoProto / TypeProto / TensorShapeProto field numbers. */
export const ValueInfo = { name: 1, type: 2, docString: 3 } as const;
export const TypeProto = { tensorType: 1 } as const;
export const TensorTypeProto = { elemType: 1, shape: 2 } as const;
export const TensorShape = { dim: 1 } as const;
export const Dimension = { dimValue: 1, dimParam: 2 } as const;

/** TensorProto field numbers. */
export const Tensor = {
  dims: 1,
  dataType: 2,
  floatData: 4,
  int32Data: 5,
  int64Data: 7,
  name: 8,
  rawData: 9,
  doubleData: 10,
  docString: 12,
  externalData: 13,
  dataLocation: 14,
} as const;

/** StringStringEntryProto field numbers (external_data entries, metadata_props). */
export const StringStringEntry = { key: 1, value: 2 } as const;

/** TensorProto.DataLocation. */
export const DataLocation = { DEFAULT: 0, EXTERNAL: 1 } as const;

/** TensorProto.DataType codes. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;

export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** onnxruntime's tensor type names, keyed by ONNX data type code. */
export const dataTypeName: Record<number, string> = {
  [DataType.FLOAT]: 'float32',
  [DataType.UINT8]: 'uint8',
  [DataType.INT8]: 'int8',
  [DataType.UINT16]: 'uint16',
  [DataType.INT16]: 'int16',
  [DataType.INT32]: 'int32',
  [DataType.INT64]: 'int64',
  [DataType.STRING]: 'string',
  [DataType.BOOL]: 'bool',
  [DataType.FLOAT16]: 'float16',
  [DataType.DOUBLE]: 'float64',
  [DataType.UINT32]: 'uint32',
  [DataType.UINT64]: 'uint64',
  [DataType.BFLOAT16]: 'bfloat16',
};

/** Bytes per element, keyed by ONNX data type code (0 where not fixed-size). */
export const bytesPerElement: Record<number, number> = {
  [DataType.FLOAT]: 4,
  [DataType.UINT8]: 1,
  [DataType.INT8]: 1,
  [DataType.UINT16]: 2,
  [DataType.INT16]: 2,
  [DataType.INT32]: 4,
  [DataType.INT64]: 8,
  [DataType.STRING]: 0,
  [DataType.BOOL]: 1,
  [DataType.FLOAT16]: 2,
  [DataType.DOUBLE]: 8,
  [DataType.UINT32]: 4,
  [DataType.UINT64]: 8,
  [DataType.BFLOAT16]: 2,
};

/** Domain of onnxruntime's contrib ops (MultiHeadAttention, …). */
export const MS_DOMAIN = 'com.microsoft';
