/**
 * Incremental SHA-256 (FIPS 180-4) whose running state can be saved and restored.
 *
 * Why not Web Crypto: `crypto.subtle.digest` takes the whole message at once, so hashing a
 * 1.7 GB UNet with it means holding all of it in one ArrayBuffer (over Chrome's ~2 GB limit for
 * the larger exports, and a second copy beside the stored file). Hashing while the bytes stream
 * in costs no extra read of the file, and saving the state at every committed storage chunk
 * (see download.ts) lets a resumed download continue the hash instead of re-reading gigabytes
 * from disk. The state is 8 words + at most 63 pending bytes + the length.
 */

/** The running state at a byte offset: what must be kept to continue hashing later. */
export interface Sha256State {
  /** H0..H7 as unsigned 32-bit integers. */
  h: number[];
  /** Bytes after the last full 64-byte block (0–63 bytes). */
  tail: Uint8Array;
  /** Message bytes hashed so far (tail included). */
  length: number;
}

// Round constants: first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const H_INIT = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** Incremental SHA-256: `update` any number of times, then `digestHex` once. */
export class Sha256 {
  private readonly h = new Int32Array(8);
  private readonly w = new Int32Array(64);
  private readonly block = new Uint8Array(64);
  private blockFill = 0;
  private total = 0;
  private finished = false;

  /** A fresh hash, or one continuing from a state saved with {@link Sha256.state}. */
  constructor(state?: Sha256State) {
    if (!state) {
      this.h.set(H_INIT);
      return;
    }
    if (state.h.length !== 8 || state.tail.length >= 64 || state.length % 64 !== state.tail.length) {
      throw new Error(
        `Saved SHA-256 state is inconsistent (h has ${state.h.length} words, tail ${state.tail.length} bytes, ` +
          `length ${state.length}); discard it and hash from the start.`,
      );
    }
    this.h.set(state.h.map((x) => x | 0));
    this.block.set(state.tail);
    this.blockFill = state.tail.length;
    this.total = state.length;
  }

  /** Bytes hashed so far. */
  get length(): number {
    return this.total;
  }

  /** Feed more bytes (any length). */
  update(data: Uint8Array): this {
    if (this.finished) throw new Error('Sha256.update after digest: start a new Sha256.');
    let i = 0;
    const n = data.length;
    this.total += n;
    if (this.blockFill > 0) {
      const take = Math.min(64 - this.blockFill, n);
      this.block.set(data.subarray(0, take), this.blockFill);
      this.blockFill += take;
      i = take;
      if (this.blockFill < 64) return this;
      this.compress(this.block, 0);
      this.blockFill = 0;
    }
    for (; i + 64 <= n; i += 64) this.compress(data, i);
    if (i < n) {
      this.block.set(data.subarray(i), 0);
      this.blockFill = n - i;
    }
    return this;
  }

  /** A copy of the running state (structured-clonable, e.g. for idb-keyval). */
  state(): Sha256State {
    return { h: Array.from(this.h, (x) => x >>> 0), tail: this.block.slice(0, this.blockFill), length: this.total };
  }

  /** Finish and return the digest as 64 lower-case hex characters. */
  digestHex(): string {
    if (this.finished) throw new Error('Sha256.digestHex called twice: start a new Sha256.');
    const bitsHi = Math.floor(this.total / 0x20000000); // total·8 / 2³²
    const bitsLo = (this.total * 8) >>> 0;
    const pad = new Uint8Array(((this.blockFill < 56 ? 56 : 120) - this.blockFill) + 8);
    pad[0] = 0x80;
    const view = new DataView(pad.buffer);
    view.setUint32(pad.length - 8, bitsHi);
    view.setUint32(pad.length - 4, bitsLo);
    const total = this.total;
    this.update(pad);
    this.total = total;
    this.finished = true;
    return Array.from(this.h, (x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
  }

  /** One 64-byte block at `data[offset..offset+64)`. */
  private compress(data: Uint8Array, offset: number): void {
    const w = this.w;
    for (let t = 0; t < 16; t++) {
      const j = offset + 4 * t;
      w[t] = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!;
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15]!;
      const y = w[t - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) | 0;
    }
    const h = this.h;
    let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, k = h[7]!;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (k + S1 + ch + K[t]! + w[t]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      k = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = (h[0]! + a) | 0;
    h[1] = (h[1]! + b) | 0;
    h[2] = (h[2]! + c) | 0;
    h[3] = (h[3]! + d) | 0;
    h[4] = (h[4]! + e) | 0;
    h[5] = (h[5]! + f) | 0;
    h[6] = (h[6]! + g) | 0;
    h[7] = (h[7]! + k) | 0;
  }
}

/** SHA-256 of a Blob read in windows of `windowBytes` (never the whole file in memory). */
export async function sha256OfBlob(blob: Blob, windowBytes = 16 << 20): Promise<string> {
  const hash = new Sha256();
  for (let start = 0; start < blob.size; start += windowBytes) {
    hash.update(new Uint8Array(await blob.slice(start, start + windowBytes).arrayBuffer()));
  }
  return hash.digestHex();
}

/** True for 64 hex characters (either case): the form of a SHA-256 digest and of an LFS oid. */
export function isSha256Hex(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9a-fA-F]{64}$/.test(s);
}
