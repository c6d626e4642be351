/**
 * The generated UNet as the app holds it (bytes in memory, external data by location) and the
 * inputs of one denoising step. Node-only (node:fs).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import type { SessionSource } from '../../workers/ort-runtime.ts';
import { randn } from '../../src/lib/diffusion/index.ts';
import type { Sd15Files } from './sd15.ts';

/** A whole file as one Uint8Array, read in 1 GiB pieces (readFileSync stops at 2 GiB; weights.pb is 3.4 GB). */
export function readBytes(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const out = new Uint8Array(size);
    for (let off = 0; off < size; ) {
      const n = readSync(fd, out, off, Math.min(2 ** 30, size - off), off);
      if (n === 0) throw new Error(`${path}: file ended at byte ${off} of ${size}; regenerate it (delete its folder).`);
      off += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** The UNet bytes (and external data keyed by its location, e.g. 'weights.pb'), as the worker's SessionSource. */
export function loadUnetSource(files: Sd15Files): SessionSource {
  const source: SessionSource = { model: readBytes(files.unet) };
  if (files.unetExternalData) source.externalData = { [basename(files.unetExternalData)]: readBytes(files.unetExternalData) };
  return source;
}

/** Inputs of one UNet step, as plain arrays: sample [B,4,L,L] and context [B,77,d] (seeded N(0,1)), timestep 500. */
export interface StepInputs {
  batch: number;
  latent: number;
  d: number;
  sample: Float32Array;
  context: Float32Array;
  timestep: number;
}

/** Seeded inputs for batch B at latent size L (the latent is image size / 8). */
export function stepInputs(batch: number, latent: number, d = 768): StepInputs {
  return {
    batch,
    latent,
    d,
    sample: randn(1, [batch, 4, latent, latent]),
    context: randn(2, [batch, 77, d]),
    timestep: 500,
  };
}
