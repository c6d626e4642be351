/**
 * Decoding tensor element bytes (as located by an index) into numbers. Handles raw_data in
 * every fixed-size numeric type and the packed typed fields (float_data, double_data, and the
 * varint-coded int32_data/int64_data/uint64_data, where fp16 values are stored as uint16 bits).
 */
import protobuf from 'protobufjs/minimal.js';
import { OnnxFormatError } from './errors.ts';
import { halfBytesToFloat32, halfToFloat } from './fp16.ts';
import { DataType, dataTypeName } from './schema.ts';
import type { TensorData } from './types.ts';
import { longToNumber } from './wire.ts';

/** bfloat16 bits → number (the top half of a float32). */
function bfloat16ToFloat(b: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, b << 16);
  return dv.getFloat32(0);
}

/** Decodes `count` elements of ONNX type `dataType` from `bytes` stored as `kind`. float64 values. */
export function decodeNumbers(bytes: Uint8Array, kind: TensorData['kind'], dataType: number, count: number): number[] {
  if (kind === 'int32_data' || kind === 'int64_data' || kind === 'uint64_data') {
    const r = new protobuf.Reader(bytes);
    const out: number[] = [];
    while (r.pos < r.len && out.length <= count) {
      const v = kind === 'uint64_data' ? longToNumber(r.uint64()) : longToNumber(r.int64());
      out.push(dataType === DataType.FLOAT16 ? halfToFloat(v & 0xffff) : dataType === DataType.BFLOAT16 ? bfloat16ToFloat(v & 0xffff) : v);
    }
    if (out.length !== count || r.pos !== r.len) throw new Error(`holds ${out.length} varints, dims need ${count}`);
    return out;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = kind === 'float_data' ? DataType.FLOAT : kind === 'double_data' ? DataType.DOUBLE : dataType;
  const read = elementReader(type, dv);
  if (!read) throw new Error(`elements of type ${dataTypeName[dataType] ?? dataType} cannot be decoded`);
  return Array.from({ length: count }, (_, i) => read(i));
}

function elementReader(type: number, dv: DataView): ((i: number) => number) | null {
  switch (type) {
    case DataType.FLOAT: return (i) => dv.getFloat32(4 * i, true);
    case DataType.DOUBLE: return (i) => dv.getFloat64(8 * i, true);
    case DataType.FLOAT16: return (i) => halfToFloat(dv.getUint16(2 * i, true));
    case DataType.BFLOAT16: return (i) => bfloat16ToFloat(dv.getUint16(2 * i, true));
    case DataType.INT8: return (i) => dv.getInt8(i);
    case DataType.UINT8: case DataType.BOOL: return (i) => dv.getUint8(i);
    case DataType.INT16: return (i) => dv.getInt16(2 * i, true);
    case DataType.UINT16: return (i) => dv.getUint16(2 * i, true);
    case DataType.INT32: return (i) => dv.getInt32(4 * i, true);
    case DataType.UINT32: return (i) => dv.getUint32(4 * i, true);
    case DataType.INT64: return (i) => Number(dv.getBigInt64(8 * i, true));
    case DataType.UINT64: return (i) => Number(dv.getBigUint64(8 * i, true));
    default: return null;
  }
}

/**
 * Decodes a floating-point tensor's bytes to float32 (fp32 copied, fp16/bf16/fp64 converted).
 * `what` names the tensor in errors.
 */
export function decodeFloat32(bytes: Uint8Array, kind: TensorData['kind'], dataType: number, count: number, what: string): Float32Array {
  if ((kind === 'raw' || kind === 'external') && dataType === DataType.FLOAT16) {
    return halfBytesToFloat32(bytes.subarray(0, count * 2));
  }
  if ((kind === 'raw' || kind === 'external' || kind === 'float_data') && dataType === DataType.FLOAT) {
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4)); // copy: bytes may be unaligned
    return out;
  }
  if (dataType !== DataType.DOUBLE && dataType !== DataType.BFLOAT16 && dataType !== DataType.FLOAT16) {
    throw new OnnxFormatError(`${what} is ${dataTypeName[dataType] ?? `type ${dataType}`}, not a floating-point tensor`, undefined, 'pick a float tensor');
  }
  try {
    return Float32Array.from(decodeNumbers(bytes, kind, dataType, count));
  } catch (e) {
    throw new OnnxFormatError(`${what}: ${(e as Error).message}`, undefined);
  }
}
