/**
 * TensorProto parsing: dims, type, name and the LOCATION of the element bytes (raw_data, a packed
 * typed field, or external data), checked against what the dims and type require. Only tensors of
 * ≤ 64 elements (shape constants, scalars) have their values decoded.
 */
import { countEntry, parseEntry, type ParseContext } from './context.ts';
import { decodeNumbers } from './elements.ts';
import { OnnxFormatError, truncatedHint } from './errors.ts';
import { bytesPerElement, DataLocation, DataType, dataTypeName, Tensor } from './schema.ts';
import type { TensorData, TensorInfo } from './types.ts';
import { WIRE, type FieldHead } from './wire.ts';

const SMALL = 64;
type PackedKind = 'float_data' | 'double_data' | 'int32_data' | 'int64_data' | 'uint64_data';
const packedKinds: Record<number, PackedKind> = {
  [Tensor.floatData]: 'float_data',
  [Tensor.int32Data]: 'int32_data',
  [Tensor.int64Data]: 'int64_data',
  [Tensor.doubleData]: 'double_data',
  11: 'uint64_data',
};

/** Parses a TensorProto in [start, end) of the model file. `what` names it in errors. */
export async function parseTensor(ctx: ParseContext, start: number, end: number, what: string): Promise<TensorInfo> {
  const { w } = ctx;
  const t: TensorInfo = { name: '', dataType: 0, dims: [], data: { kind: 'none' } };
  const external: Record<string, string> = {};
  let location: number = DataLocation.DEFAULT;
  let dataField: FieldHead | null = null;
  for (let pos = start; pos < end; ) {
    let f = w.field(pos, end, `TensorProto (${what})`);
    if (f instanceof Promise) f = await f;
    pos = f.next;
    switch (f.field) {
      case Tensor.dims:
        t.dims.push(...(await w.ints(f, `dims of ${what}`, 64)));
        if (t.dims.length > 64) throw new OnnxFormatError(`${what} has more than 64 dims`, f.at);
        break;
      case Tensor.dataType:
        t.dataType = f.int;
        break;
      case Tensor.name:
        t.name = await w.string(f, `name of ${what}`);
        what = `${what} '${t.name}'`;
        break;
      case Tensor.externalData:
        if (f.wire !== WIRE.LEN) break;
        countEntry(ctx, f.at);
        {
          const [k, v] = await parseEntry(ctx, f.start, f.end);
          external[k] = v;
        }
        break;
      case Tensor.dataLocation:
        location = f.int;
        break;
      case Tensor.rawData:
      case Tensor.floatData:
      case Tensor.int32Data:
      case Tensor.int64Data:
      case Tensor.doubleData:
      case 11:
        if (f.wire !== WIRE.LEN) {
          throw new OnnxFormatError(`${what} stores its elements unpacked, which this reader does not support`, f.at, 're-save the model with onnx.save');
        }
        if (dataField && dataField.field !== f.field) {
          throw new OnnxFormatError(`${what} has two different data fields`, f.at);
        }
        if (dataField) throw new OnnxFormatError(`${what} has its data split over several fields`, f.at, 're-save the model with onnx.save');
        dataField = f;
        break;
    }
  }
  const count = elementCount(t, what, start);
  if (location === DataLocation.EXTERNAL) {
    t.data = externalRange(t, external, count, what, start);
  } else if (dataField) {
    const kind: 'raw' | PackedKind = dataField.field === Tensor.rawData ? 'raw' : packedKinds[dataField.field];
    t.data = { kind, offset: dataField.start, length: dataField.end - dataField.start };
    checkLength(t, count, what, dataField.at);
  } else if (count > 0 && t.dataType !== DataType.STRING) {
    throw new OnnxFormatError(`${what} has ${count} elements but no data`, start);
  }
  if (count <= SMALL && t.data.kind !== 'none' && t.data.kind !== 'external') {
    const bytes = await w.view(t.data.offset, t.data.offset + t.data.length);
    try {
      t.values = decodeNumbers(bytes, t.data.kind, t.dataType, count);
    } catch {
      // Not a numeric type this reader decodes (or malformed varints): leave values out.
      if (t.data.kind.endsWith('int32_data') || t.data.kind.endsWith('64_data')) {
        throw new OnnxFormatError(`${what}: its varint data does not hold ${count} elements`, t.data.offset);
      }
    }
  }
  return t;
}

/** Number of elements the dims describe; fails on negative, fractional or absurd dims. */
function elementCount(t: TensorInfo, what: string, at: number): number {
  let n = 1;
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new OnnxFormatError(`${what} has an invalid dim ${d}`, at);
    n *= d;
    if (n > 2 ** 40) throw new OnnxFormatError(`${what} has an absurd element count (dims [${t.dims}])`, at);
  }
  return n;
}

/** Byte length the typed data must have, or null where it cannot be known before decoding. */
function expectedBytes(kind: TensorData['kind'], dataType: number, count: number): number | null {
  if (kind === 'float_data') return 4 * count * (dataType === DataType.FLOAT ? 1 : NaN);
  if (kind === 'double_data') return 8 * count * (dataType === DataType.DOUBLE ? 1 : NaN);
  if (kind === 'raw' || kind === 'external') {
    const bpe = bytesPerElement[dataType];
    return bpe ? bpe * count : null;
  }
  return null; // varints
}

function checkLength(t: TensorInfo, count: number, what: string, at: number): void {
  if (t.data.kind === 'none') return;
  const need = expectedBytes(t.data.kind, t.dataType, count);
  if (need !== null && t.data.length !== need) {
    const type = dataTypeName[t.dataType] ?? `type ${t.dataType}`;
    throw new OnnxFormatError(
      `${what} (${type}, dims [${t.dims}]) has ${t.data.length} bytes of ${t.data.kind}, but needs ${need}`,
      at,
    );
  }
}

function externalRange(t: TensorInfo, entries: Record<string, string>, count: number, what: string, at: number): TensorData {
  const location = entries.location;
  if (!location) throw new OnnxFormatError(`${what} has external data without a location`, at);
  const num = (key: string, fallback: number | null): number => {
    const s = entries[key];
    if (s === undefined && fallback !== null) return fallback;
    const v = Number(s);
    if (s === undefined || !/^\d+$/.test(s.trim()) || !Number.isSafeInteger(v)) {
      throw new OnnxFormatError(`${what} has an invalid external data ${key} '${s}'`, at);
    }
    return v;
  };
  const need = expectedBytes('external', t.dataType, count);
  const data: TensorData = { kind: 'external', location, offset: num('offset', 0), length: num('length', need) };
  if (need !== null && data.length !== need) {
    throw new OnnxFormatError(`${what} external length ${data.length} does not match dims [${t.dims}] (${need} bytes)`, at);
  }
  return data;
}

/** Checks an external range against the size of its file (when that file is known). */
export function checkExternalBounds(t: TensorInfo, fileSize: number): void {
  if (t.data.kind !== 'external') return;
  const end = t.data.offset + t.data.length;
  if (end > fileSize) {
    throw new OnnxFormatError(
      `tensor '${t.name}' lies at bytes ${t.data.offset}–${end} of '${t.data.location}', which has only ${fileSize} bytes`,
      t.data.offset,
      truncatedHint(fileSize, end),
    );
  }
}
