/**
 * Test helpers of the ONNX layer tests: sources of a generated model, a seeded PRNG, a float64
 * reference matmul, and the tiny UNet's feeds.
 */
import type { ModelSources } from '../../src/lib/onnx/index.ts';

interface Generated {
  model: Uint8Array;
  externalData?: { location: string; bytes: Uint8Array };
}

/** ModelSources of a generated model (a copy, so patching leaves the original intact). */
export function sourcesOf(gen: Generated, copy = false): ModelSources {
  const c = (b: Uint8Array) => (copy ? b.slice() : b);
  return { model: c(gen.model), externalData: gen.externalData ? { [gen.externalData.location]: c(gen.externalData.bytes) } : undefined };
}

/** mulberry32: deterministic uniform [0, 1) draws (the one in erasure-helpers). */
export { rng as prng } from './erasure-helpers.ts';
import { rng as prng } from './erasure-helpers.ts';

/** n values uniform in [-scale, scale). */
export function randomValues(n: number, seed: number, scale = 1): Float32Array {
  const r = prng(seed);
  return Float32Array.from({ length: n }, () => (2 * r() - 1) * scale);
}

/** C = A · B in float64, A [n, k], B [k, m], row-major. */
export function matmulF64(a: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number, m: number): Float64Array {
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t] * b[t * m + j];
      c[i * m + j] = s;
    }
  }
  return c;
}

/** Largest |a − b| over all elements. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Largest |x|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Raw inputs of the tiny UNet (batch 1, latent `size`², context width `d`). */
export function unetInputs(d: number, seed: number, size = 32): { sample: Float32Array; context: Float32Array; dims: { sample: number[]; context: number[] } } {
  return {
    sample: randomValues(4 * size * size, seed),
    context: randomValues(77 * d, seed + 1),
    dims: { sample: [1, 4, size, size], context: [1, 77, d] },
  };
}

/** A Blob of byte arrays (typed for lib.dom's BlobPart). */
export function blobOf(...parts: Uint8Array[]): Blob {
  return new Blob(parts as Uint8Array<ArrayBuffer>[]);
}
