/**
 * An honest first guess of how long one image takes here, before anything has run, and what the
 * guess is based on. Work per image = text encoder + steps × UNet (× 2 with classifier-free
 * guidance) + VAE decoder, in FLOPs; speed per engine from measured or published figures. Once
 * an image has been made the UI shows the measured time instead.
 */
import type { Capabilities } from '../lib/models/capabilities.ts';
import { wasmThreads } from '../lib/models/provider.ts';

/** Work of one pass of each part at the model's native size, in GFLOP (2 × multiply-adds). */
export interface ModelCost {
  textEncoder: number;
  unetPerStep: number;
  vaeDecoder: number;
}

/**
 * SD 1.x and SD 2.x-base / SD-Turbo at 512×512 (64² latent): UNet ≈ 0.4 T multiply-adds per
 * pass, VAE decoder ≈ 1.25 T, CLIP text encoder ≈ 7 G. Order-of-magnitude figures, not
 * measurements of these files.
 */
export const SD_512_COST: ModelCost = { textEncoder: 14, unetPerStep: 800, vaeDecoder: 2500 };

/** Sustained speeds, GFLOP/s. */
export const SPEEDS = {
  /** ORT's WASM MatMul on one thread (a 1024³ MatMul measured at 33.6 GFLOP/s in headless Chromium). */
  wasmPerThread: 30,
  /** SwiftShader's software WebGPU (the same MatMul at 0.85 GFLOP/s). */
  swiftShader: 0.85,
  /** A hardware GPU under WebGPU: SD-Turbo's demo spends about 1 s per image on a laptop GPU (ORT issue #21964). */
  hardwareGpu: 3300,
};

export interface SpeedEstimate {
  /** Seconds per image: a range, because the figures behind it are rough. */
  low: number;
  high: number;
  /** What the estimate rests on, in a sentence. */
  basis: string;
}

/** GFLOP for one image: text encoder (twice with guidance), UNet per step (×2 with guidance), VAE. */
export function imageWork(cost: ModelCost, steps: number, guidance: number): number {
  const branches = guidance > 1 ? 2 : 1;
  return cost.textEncoder * branches + cost.unetPerStep * steps * branches + cost.vaeDecoder;
}

/**
 * Estimate seconds per image for a model of `cost` on the engine this browser would use.
 * `cost` null = unknown model size (the tiny built-in): says so instead of guessing.
 */
export function estimateSeconds(caps: Capabilities, cost: ModelCost | null, steps: number, guidance: number, needsF16: boolean): SpeedEstimate | null {
  if (!cost) return null;
  const work = imageWork(cost, steps, guidance);
  const gpu = caps.gpu;
  const gpuUsable = gpu.adapter && !(needsF16 && !gpu.shaderF16);
  if (gpuUsable && !gpu.isFallbackAdapter) {
    const s = work / SPEEDS.hardwareGpu;
    return { low: s / 2, high: s * 4, basis: `WebGPU on ${gpu.description || gpu.vendor || 'this GPU'}: SD-Turbo's ORT demo takes about 1 s per image on a laptop GPU; older or integrated GPUs are several times slower.` };
  }
  const threads = wasmThreads(caps);
  const wasm = work / (SPEEDS.wasmPerThread * threads * 0.8);
  const why = !gpu.adapter ? 'no WebGPU adapter' : gpu.isFallbackAdapter ? `the only WebGPU adapter is a software one (${gpu.architecture || gpu.vendor}, about ${SPEEDS.swiftShader} GFLOP/s)` : 'the GPU lacks shader-f16';
  return {
    low: wasm / 2,
    high: wasm * 2,
    basis: `WASM on ${threads} CPU thread${threads === 1 ? '' : 's'} (${why}): about ${SPEEDS.wasmPerThread} GFLOP/s per thread for ≈${(work / 1000).toFixed(1)} TFLOP per image.`,
  };
}

/** "about 12 s", "2–5 minutes", "about 1 hour". */
export function formatDuration(low: number, high: number): string {
  const unit = (s: number) => (s < 90 ? { v: s, u: 's' } : s < 5400 ? { v: s / 60, u: 'minutes' } : { v: s / 3600, u: 'hours' });
  const a = unit(low);
  const b = unit(high);
  const r = (v: number) => (v < 10 ? Math.max(0.1, Number(v.toPrecision(1))) : Math.round(v));
  if (a.u === b.u) return r(a.v) === r(b.v) ? `about ${r(a.v)} ${a.u}` : `${r(a.v)}–${r(b.v)} ${a.u}`;
  return `${r(a.v)} ${a.u} – ${r(b.v)} ${b.u}`;
}
