/**
 * What one child process measures on the sd15 UNet (bench/lib/unet-child.ts), and what it reports.
 * Plain data: the parent (bench/diffusion.ts) builds jobs, the child runs one.
 */
import type { RepPolicy, Timing } from './stats.ts';
import type { Sd15Files, Sd15Variant } from './sd15.ts';

/** onnxruntime-web in Node (the WASM engine the browser runs) or onnxruntime-node (native CPU, the anchor). */
export type Engine = 'web' | 'node';

/** Session options of a bare session; 'app' means the worker's own createSession (workers/ort-runtime.ts). */
export interface BareSettings {
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  /** onnxruntime-web passes `!!enableCpuMemArena`: off unless set. onnxruntime-node: on by default. */
  enableCpuMemArena?: boolean;
  enableMemPattern?: boolean;
  /** Pass a preallocated output tensor (`run(feeds, fetches)`), the CPU form of IO binding. */
  preallocateOutput?: boolean;
}
export type SessionSettings = 'app' | BareSettings;

/** One timed shape: batch B at latent L (image 8L × 8L). */
export interface StepCase extends RepPolicy {
  latent: number;
  batch: number;
}

/** The app's step (runPipeline, one step per call) interleaved with a bare run on the same session. */
export interface AppCase extends RepPolicy {
  latent: number;
  batch: 1 | 2;
}

export interface UnetJob {
  label: string;
  engine: Engine;
  threads: number;
  variant: Sd15Variant;
  files: Sd15Files;
  settings: SessionSettings;
  cases: StepCase[];
  app?: AppCase;
  /** After the steps: patch all 32 to_k/to_v with W·M and create the session again (web only). */
  recreatePatched?: boolean;
}

export interface StepResult {
  latent: number;
  batch: number;
  /** Absent when the step failed (e.g. out of wasm memory at 512²); see error. */
  timing?: Timing;
  error?: string;
}

export interface AppResult {
  latent: number;
  batch: number;
  /** Bare `session.run` + reading the output, on the same session, interleaved with the app's step. */
  bare: Timing;
  /** The app's step inside runPipeline (see app-step.ts): feeds from metadata, run, readFloat32, guidance, scheduler; wall and CPU. */
  app: Timing;
  /** runPipeline's own timings.denoiseMs of the same calls (wall). */
  denoiseMs: Timing;
  /** Median over pairs of app/bare wall times (each pair measured back to back). */
  pairedRatio: number;
  /** Median app CPU time / median bare CPU time (robust to load with 1 thread). */
  cpuRatio: number;
}

export interface RecreateResult {
  /** Read the 32 projections, W·M, patch them into the bytes in place (ms). */
  patchMs: number;
  /** InferenceSession.create on the patched bytes (ms). */
  createMs: number;
  /** Max |Δ| of a patched weight against W·M computed again (checks the patch landed). */
  checkMaxAbs: number;
}

export interface UnetJobResult {
  label: string;
  engine: Engine;
  threads: number;
  variant: Sd15Variant;
  settings: SessionSettings;
  /** Session creation wall time (ms), bytes already in memory; null when it failed. */
  createMs: number | null;
  /** Why creation failed (e.g. wasm memory), when it did. */
  createError?: string;
  rssGiBAfterCreate?: number;
  steps: StepResult[];
  app?: AppResult;
  recreate?: RecreateResult;
}

/** Short text for a settings choice, for tables: "app createSession (basic on WASM)", "all +arena +mempattern". */
export function describeSettings(s: SessionSettings): string {
  if (s === 'app') return 'app createSession (basic on WASM)';
  return [s.graphOptimizationLevel, s.enableCpuMemArena ? '+arena' : '', s.enableMemPattern ? '+mempattern' : '', s.preallocateOutput ? '+prealloc out' : '']
    .filter(Boolean)
    .join(' ');
}
