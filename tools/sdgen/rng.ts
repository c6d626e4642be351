/**
 * Deterministic random weights. Every parameter draws from its own stream, seeded by
 * hash(seed, state-dict name), so a weight's values depend only on the seed and its name, never
 * on the order in which the graph builder asks for it. That is what makes the plain, fused and
 * packed-KV exports of one seed carry identical weights.
 */

/** 32-bit FNV-1a hash of a string, mixed with a seed. */
export function hashName(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** xoshiro128** PRNG: uint32 and uniform [0, 1) draws. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // splitmix32 expands one 32-bit seed into the 128-bit state (never all zero).
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
  }

  /** Next uint32. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in (0, 1): never exactly 0, so log() in Box-Muller stays finite. */
  uniform(): number {
    return (this.uint32() + 0.5) / 4294967296;
  }

  /** Fills `out` with N(mean, std²) samples (Box-Muller, both values of each pair used). */
  fillNormal(out: Float32Array, std: number, mean = 0): Float32Array {
    const n = out.length;
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(this.uniform())) * std;
      const theta = 2 * Math.PI * this.uniform();
      out[i] = mean + r * Math.cos(theta);
      if (i + 1 < n) out[i + 1] = mean + r * Math.sin(theta);
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** `count` samples of N(mean, std²) from the stream of parameter `name` under `seed`. */
export function normalFor(seed: number, name: string, count: number, std: number, mean = 0): Float32Array {
  return new Rng(hashName(seed, name)).fillNormal(new Float32Array(count), std, mean);
}
