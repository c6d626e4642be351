/**
 * Patching weights in place: new float32 values are encoded in the tensor's dtype and written
 * over its byte range (raw_data, float_data, or the external data range). The file keeps its
 * size and layout, so the index stays valid and no other byte moves.
 */
import { OnnxFormatError } from './errors.ts';
import { float32ToHalfBytes } from './fp16.ts';
import { DataType, dataTypeName } from './schema.ts';
import type { ModelSources, TensorInfo } from './types.ts';
import { holdingFile } from './weights.ts';

/**
 * Encodes float32 values as the bytes `t` stores: fp32 little-endian, or fp16 (round to nearest
 * even). `values.length` must equal the tensor's element count.
 */
export function encodeTensorValues(t: TensorInfo, values: Float32Array): Uint8Array {
  const count = t.dims.reduce((p, d) => p * d, 1);
  if (values.length !== count) {
    throw new OnnxFormatError(`tensor '${t.name}' [${t.dims}] has ${count} elements; got ${values.length} values`, undefined, 'pass one value per element, row-major');
  }
  const packedFloat = t.data.kind === 'float_data' && t.dataType === DataType.FLOAT;
  const rawLike = t.data.kind === 'raw' || t.data.kind === 'external';
  if (!packedFloat && !rawLike) {
    throw new OnnxFormatError(`tensor '${t.name}' stores its data as ${t.data.kind}, which cannot be patched in place`, undefined, 're-save the model with raw_data (onnx.save)');
  }
  if (t.dataType === DataType.FLOAT) return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  if (t.dataType === DataType.FLOAT16 && rawLike) return float32ToHalfBytes(values);
  throw new OnnxFormatError(`tensor '${t.name}' is ${dataTypeName[t.dataType] ?? t.dataType}; only float32 and float16 weights can be patched`, undefined, 'use an fp32 or fp16 export');
}

/**
 * Writes `values` (float32, row-major over the tensor's dims) into `fileBytes`, the bytes of the
 * file that holds `t` (the model, or its external data file), in place.
 */
export function patchTensorBytes(t: TensorInfo, values: Float32Array, fileBytes: Uint8Array): void {
  const encoded = encodeTensorValues(t, values);
  if (t.data.kind === 'none') throw new OnnxFormatError(`tensor '${t.name}' has no data`, undefined, 'pick an initializer');
  if (t.data.offset + t.data.length > fileBytes.length || encoded.length !== t.data.length) {
    throw new OnnxFormatError(`tensor '${t.name}' range ${t.data.offset}+${t.data.length} does not fit the given file of ${fileBytes.length} bytes`, t.data.offset, 'patch the same file that was indexed');
  }
  fileBytes.set(encoded, t.data.offset);
}

/**
 * Patches tensor `t` with float32 `values` in `sources`. Files held as bytes are changed in
 * place; a file held as a Blob is replaced by a new Blob spliced around the new bytes (no copy of
 * the rest). Returns the sources to use from now on (same object, possibly with a new Blob).
 */
export function patchTensor(t: TensorInfo, values: Float32Array, sources: ModelSources): ModelSources {
  const file = holdingFile(t, sources);
  if (file instanceof Uint8Array || file instanceof ArrayBuffer) {
    patchTensorBytes(t, values, file instanceof Uint8Array ? file : new Uint8Array(file));
    return sources;
  }
  if (t.data.kind === 'none') throw new OnnxFormatError(`tensor '${t.name}' has no data`, undefined, 'pick an initializer');
  const encoded = encodeTensorValues(t, values);
  const end = t.data.offset + t.data.length;
  if (end > file.size) throw new OnnxFormatError(`tensor '${t.name}' ends at byte ${end}, past the file (${file.size} bytes)`, t.data.offset, 'patch the same file that was indexed');
  const patched = new Blob([file.slice(0, t.data.offset), encoded as Uint8Array<ArrayBuffer>, file.slice(end)]);
  if (t.data.kind === 'external') sources.externalData = { ...sources.externalData, [t.data.location]: patched };
  else sources.model = patched;
  return sources;
}
