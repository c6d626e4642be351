/**
 * Minimal safetensors reader/writer for float weights (F32, F16, BF16).
 *
 * Layout: [u64 little-endian N][N bytes of UTF-8 JSON header][byte buffer]. The header maps each
 * tensor name to {dtype, shape, data_offsets: [begin, end]} (byte offsets into the buffer) plus an
 * optional "__metadata__" string→string map. The writer pads the header with spaces so the buffer
 * starts 8-byte aligned, as the reference implementation does. The reader checks that offsets
 * match shape × dtype size, stay inside the file and tile the buffer without holes or overlaps.
 */
// The one fp16/bf16 codec of the project (a dependency-free numeric leaf; see README, Design).
import { bfloat16ToFloat as bfloat16BitsToFloat32, halfToFloat as float16BitsToFloat32, floatToBfloat16 as float32ToBfloat16Bits, floatToHalf as float32ToFloat16Bits } from '../onnx/fp16.ts';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
const MAX_HEADER = 100_000_000;

/** A tensor to write: float32 values, row-major in `shape`. */
export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A tensor read back, decoded to float32. */
export interface ReadTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, ReadTensor>;
  metadata: Record<string, string>;
}

/** Serialise tensors (stored as `dtype`, default F32) with optional string metadata. */
export function writeSafetensors(tensors: TensorToWrite[], options: { dtype?: SafetensorsDtype; metadata?: Record<string, string> } = {}): Uint8Array {
  const dtype = options.dtype ?? 'F32';
  if (!(dtype in BYTES)) throw new Error(`writeSafetensors: dtype must be F32, F16 or BF16, got ${dtype}`);
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (!t.name || t.name === '__metadata__' || names.has(t.name)) throw new Error(`writeSafetensors: tensor name ${JSON.stringify(t.name)} is empty, reserved or repeated`);
    names.add(t.name);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`writeSafetensors: tensor ${t.name} has ${t.data.length} values but shape [${t.shape}] needs ${count}`);
    const size = count * BYTES[dtype];
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hbytes = enc.encode(json);
  const padded = Math.ceil(hbytes.length / 8) * 8;
  json += ' '.repeat(padded - hbytes.length);
  hbytes = enc.encode(json);
  const out = new Uint8Array(8 + hbytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let p = 8 + hbytes.length;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++) {
      if (dtype === 'F32') { view.setFloat32(p, t.data[i], true); p += 4; }
      else { view.setUint16(p, dtype === 'F16' ? float32ToFloat16Bits(t.data[i]) : float32ToBfloat16Bits(t.data[i]), true); p += 2; }
    }
  }
  return out;
}

/** Parse and validate a safetensors file, decoding every tensor to float32. */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8) throw new Error(`safetensors: file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > MAX_HEADER || 8 + n > bytes.length) throw new Error(`safetensors: header length ${n} does not fit in a ${bytes.length}-byte file (truncated or not a safetensors file)`);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(8, 8 + n));
  if (!text.startsWith('{')) throw new Error('safetensors: header does not start with "{" (not a safetensors file)');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new Error(`safetensors: header is not valid JSON (${(e as Error).message})`);
  }
  const bufferStart = 8 + n, bufferLength = bytes.length - bufferStart;
  const metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  const tensors = new Map<string, ReadTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object') throw new Error('safetensors: __metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new Error(`safetensors: __metadata__.${k} must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object') throw new Error(`safetensors: entry ${name} must be an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in BYTES)) throw new Error(`safetensors: tensor ${name} has unsupported dtype ${JSON.stringify(e.dtype)} (F32, F16 and BF16 can be read)`);
    const dtype = e.dtype as SafetensorsDtype;
    if (!Array.isArray(e.shape) || !e.shape.every((s) => Number.isInteger(s) && s >= 0)) throw new Error(`safetensors: tensor ${name} has an invalid shape ${JSON.stringify(e.shape)}`);
    const shape = e.shape as number[];
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isInteger(x) && x >= 0) || off[1] < off[0]) {
      throw new Error(`safetensors: tensor ${name} has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES[dtype]) throw new Error(`safetensors: tensor ${name} spans ${end - begin} bytes but shape [${shape}] of ${dtype} needs ${count * BYTES[dtype]}`);
    if (end > bufferLength) throw new Error(`safetensors: tensor ${name} ends at byte ${end}, past the ${bufferLength}-byte data buffer (truncated file)`);
    spans.push({ name, begin, end });
    const data = new Float32Array(count);
    const base = bufferStart + begin;
    for (let i = 0; i < count; i++) {
      if (dtype === 'F32') data[i] = view.getFloat32(base + 4 * i, true);
      else if (dtype === 'F16') data[i] = float16BitsToFloat32(view.getUint16(base + 2 * i, true));
      else data[i] = bfloat16BitsToFloat32(view.getUint16(base + 2 * i, true));
    }
    tensors.set(name, { dtype, shape, data });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const s of spans) {
    if (s.begin !== expected) throw new Error(`safetensors: tensor ${s.name} starts at byte ${s.begin}, expected ${expected} (overlapping or gapped data_offsets)`);
    expected = s.end;
  }
  if (expected !== bufferLength) throw new Error(`safetensors: tensors cover ${expected} bytes but the data buffer has ${bufferLength}`);
  return { tensors, metadata };
}
