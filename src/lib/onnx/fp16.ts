/**
 * IEEE 754 binary16 ⇄ binary32 conversion (fp16 weights are stored as uint16 bit patterns).
 * Exact for every half value, including subnormals, ±0, ±inf and NaN; float→half rounds to
 * nearest, ties to even, overflowing to ±inf.
 */

/** Decodes one binary16 bit pattern to a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals: frac · 2^-14 / 2^10
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Encodes a number as the nearest binary16 bit pattern (round to nearest even). */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN (quiet)
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    // Subnormal half (or zero): shift the mantissa with its implicit 1 into place.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e; // 13 + (1 - e)
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // may carry into the exponent: still correct (→ inf at the top)
  return sign | h;
}

/** Converts little-endian binary16 bytes to float32 values. `bytes.length` must be even. */
export function halfBytesToFloat32(bytes: Uint8Array, out = new Float32Array(bytes.length >> 1)): Float32Array {
  const table = halfTable();
  for (let i = 0, j = 0; i < out.length; i++, j += 2) out[i] = table[bytes[j] | (bytes[j + 1] << 8)];
  return out;
}

/** Encodes float32 values as little-endian binary16 bytes. */
export function float32ToHalfBytes(values: Float32Array, out = new Uint8Array(values.length * 2)): Uint8Array {
  for (let i = 0, j = 0; i < values.length; i++, j += 2) {
    const h = floatToHalf(values[i]);
    out[j] = h & 0xff;
    out[j + 1] = h >> 8;
  }
  return out;
}

let table: Float32Array | null = null;
/** All 65536 half values as float32 (256 KB), built once: decoding is then one lookup. */
function halfTable(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = halfToFloat(h);
  }
  return table;
}

/** Encodes float32 values as binary16 bit patterns (round to nearest even). */
export function float32ToHalfBits(values: Float32Array, out = new Uint16Array(values.length)): Uint16Array {
  for (let i = 0; i < values.length; i++) out[i] = floatToHalf(values[i]);
  return out;
}

/** Encodes a number as bfloat16 bits: the upper half of its float32, rounded to nearest even. */
export function floatToBfloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40; // keep NaN a NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Decodes bfloat16 bits to a number. */
export function bfloat16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}
