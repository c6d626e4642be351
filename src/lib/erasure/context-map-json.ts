/**
 * JSON (de)serialisation of context maps. Format (version 1):
 *   { "format": "erasure-lab/context-map", "version": 1, "d": 768, "kind": "lowrank",
 *     "dtype": "float64" | "float32", "rank": k, "ut": "<base64>", "vt": "<base64>",
 *     "provenance": {...} }                       (dense: "matrix"; identity: no arrays)
 * Arrays are little-endian IEEE floats, base64-encoded (no Node Buffer: runs in browsers too).
 */
import { denseMap, identityMap, lowRankMap, type ContextMap, type Provenance } from './context-map.ts';

export const CONTEXT_MAP_FORMAT = 'erasure-lab/context-map';
export const CONTEXT_MAP_VERSION = 1;

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < B64.length; i++) t[B64.charCodeAt(i)] = i;
  return t;
})();

/** Standard base64 (with padding) of a byte array. */
export function bytesToBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i], b = bytes[i + 1] ?? 0, c = bytes[i + 2] ?? 0;
    const n = (a << 16) | (b << 8) | c;
    chunk += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] +
      (i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < bytes.length ? B64[n & 63] : '=');
    if (chunk.length >= 65536) { parts.push(chunk); chunk = ''; }
  }
  parts.push(chunk);
  return parts.join('');
}

/** Decode standard base64; throws naming `what` on bad characters or length. */
export function base64ToBytes(s: string, what = 'base64 data'): Uint8Array {
  if (s.length % 4 !== 0) throw new Error(`${what}: base64 length ${s.length} is not a multiple of 4`);
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const ch = s.charCodeAt(i + j);
      let v: number;
      if (ch === 61 /* '=' */ && i + j >= s.length - pad) v = 0;
      else {
        v = ch < 128 ? B64_INDEX[ch] : -1;
        if (v < 0) throw new Error(`${what}: invalid base64 character ${JSON.stringify(s[i + j])} at position ${i + j}`);
      }
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

function encodeFloats(a: Float64Array, dtype: 'float32' | 'float64'): string {
  const width = dtype === 'float64' ? 8 : 4;
  const bytes = new Uint8Array(a.length * width);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < a.length; i++) {
    if (dtype === 'float64') view.setFloat64(i * 8, a[i], true);
    else view.setFloat32(i * 4, a[i], true);
  }
  return bytesToBase64(bytes);
}

function decodeFloats(s: unknown, count: number, dtype: 'float32' | 'float64', what: string): Float64Array {
  if (typeof s !== 'string') throw new Error(`context map JSON: "${what}" must be a base64 string`);
  const bytes = base64ToBytes(s, `context map JSON "${what}"`);
  const width = dtype === 'float64' ? 8 : 4;
  if (bytes.length !== count * width) {
    throw new Error(`context map JSON: "${what}" holds ${bytes.length} bytes, expected ${count} ${dtype} values (${count * width} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = dtype === 'float64' ? view.getFloat64(i * 8, true) : view.getFloat32(i * 4, true);
    if (!Number.isFinite(out[i])) throw new Error(`context map JSON: "${what}" contains a non-finite value at index ${i}`);
  }
  return out;
}

/** Serialise a map to a JSON string. float32 halves the size at ~1e-7 relative precision. */
export function serializeContextMap(map: ContextMap, dtype: 'float32' | 'float64' = 'float64'): string {
  const base = { format: CONTEXT_MAP_FORMAT, version: CONTEXT_MAP_VERSION, d: map.d, kind: map.kind, dtype, provenance: map.provenance };
  if (map.kind === 'identity') return JSON.stringify(base);
  if (map.kind === 'dense') return JSON.stringify({ ...base, matrix: encodeFloats(map.matrix, dtype) });
  return JSON.stringify({ ...base, rank: map.rank, ut: encodeFloats(map.ut, dtype), vt: encodeFloats(map.vt, dtype) });
}

/** Parse and validate a serialised map; every problem is a clear Error naming the field. */
export function deserializeContextMap(json: string): ContextMap {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json);
  } catch (e) {
    throw new Error(`context map JSON: not valid JSON (${(e as Error).message})`);
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new Error('context map JSON: top level must be an object');
  if (o.format !== CONTEXT_MAP_FORMAT) throw new Error(`context map JSON: "format" must be "${CONTEXT_MAP_FORMAT}", got ${JSON.stringify(o.format)}`);
  if (o.version !== CONTEXT_MAP_VERSION) throw new Error(`context map JSON: unsupported version ${JSON.stringify(o.version)} (this build reads version ${CONTEXT_MAP_VERSION})`);
  const d = o.d;
  if (typeof d !== 'number' || !Number.isInteger(d) || d <= 0 || d > 8192) throw new Error(`context map JSON: "d" must be a positive integer ≤ 8192, got ${JSON.stringify(d)}`);
  const dtype = o.dtype;
  if (dtype !== 'float32' && dtype !== 'float64') throw new Error(`context map JSON: "dtype" must be "float32" or "float64", got ${JSON.stringify(dtype)}`);
  const prov = o.provenance;
  if (prov === null || typeof prov !== 'object' || typeof (prov as Provenance).method !== 'string') {
    throw new Error('context map JSON: "provenance" must be an object with a string "method"');
  }
  const provenance = prov as Provenance;
  switch (o.kind) {
    case 'identity':
      return identityMap(d, provenance);
    case 'dense':
      return denseMap(d, decodeFloats(o.matrix, d * d, dtype, 'matrix'), provenance);
    case 'lowrank': {
      const k = o.rank;
      if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > d * 4) throw new Error(`context map JSON: "rank" must be a non-negative integer, got ${JSON.stringify(k)}`);
      return lowRankMap(d, decodeFloats(o.ut, k * d, dtype, 'ut'), decodeFloats(o.vt, k * d, dtype, 'vt'), provenance);
    }
    default:
      throw new Error(`context map JSON: "kind" must be "identity", "dense" or "lowrank", got ${JSON.stringify(o.kind)}`);
  }
}
