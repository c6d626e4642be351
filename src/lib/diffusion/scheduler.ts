/**
 * What every sampler exposes (diffusers' scheduler API, index-based).
 *
 * Tensors are flat Float32Arrays of the latent shape (e.g. [1, 4, 64, 64] → 16384 values);
 * arithmetic is done in float64 and stored as float32. All schedulers assume an
 * epsilon-predicting UNet (every Stable Diffusion 1.x / 2.x-base / SD-Turbo).
 *
 * The denoising loop (diffusers' StableDiffusionPipeline):
 *   latents = noise · initNoiseSigma
 *   for i in 0..n−1:
 *     eps = unet(scaleModelInput(latents, i), timesteps[i], context)   (with guidance)
 *     latents = step(eps, i, latents, noiseForStep?)
 */
import type { NoiseScheduleConfig, TimestepSpacing } from './schedule.ts';
import { SD_NOISE_SCHEDULE } from './schedule.ts';

/** Names of the available samplers (diffusers class names). */
export type SchedulerName = 'EulerDiscrete' | 'EulerAncestralDiscrete' | 'DDIM' | 'DPMSolverMultistep';

/** Full scheduler configuration (diffusers scheduler_config.json, camelCased). */
export interface SchedulerConfig extends NoiseScheduleConfig {
  /** timestep_spacing. */
  timestepSpacing: TimestepSpacing;
  /** steps_offset: added to "leading" timesteps (1 for SD 1.x). */
  stepsOffset: number;
}

/** A sampler prepared for a fixed number of inference steps. */
export interface Scheduler {
  /** diffusers class name. */
  readonly name: SchedulerName;
  /** Number of denoising steps n. */
  readonly numInferenceSteps: number;
  /** [n] timestep given to the UNet at each step (float32 values; integers for DDIM/DPM). */
  readonly timesteps: readonly number[];
  /**
   * [n + 1] noise level σ before each step, then after the last step. For DDIM (which has no
   * sigmas in diffusers) these are the equivalent σ = √((1−ᾱ)/ᾱ) of each timestep and of the
   * final ᾱ, for display only.
   */
  readonly sigmas: readonly number[];
  /** Standard deviation of the initial latents: multiply unit Gaussian noise by it. */
  readonly initNoiseSigma: number;
  /** Whether `step` needs fresh unit Gaussian noise (ancestral sampling, DDIM with eta > 0). */
  readonly needsNoise: boolean;
  /**
   * Scales the latents before the UNet (Euler family: x / √(σ²+1); others: identity).
   * @param sample latents [latent shape]
   * @param stepIndex 0-based step
   * @returns a new Float32Array (the input is not modified)
   */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array;
  /**
   * One denoising step.
   * @param modelOutput the UNet's (guided) noise prediction ε [latent shape]
   * @param stepIndex 0-based step
   * @param sample current latents x_t [latent shape]
   * @param noise unit Gaussian noise [latent shape], required when `needsNoise`
   * @returns latents for the next step (a new Float32Array)
   */
  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): Float32Array;
}

/**
 * Defaults for Stable Diffusion 1.x (its PNDM config with steps_offset 1). Loaded into Euler /
 * Euler ancestral / DPM-Solver++ by current diffusers it resolves to "linspace"; DDIM's
 * default is "leading" (see `defaultSpacing`).
 */
export const SD1_SCHEDULER_CONFIG: Readonly<SchedulerConfig> = Object.freeze({
  ...SD_NOISE_SCHEDULE,
  timestepSpacing: 'linspace',
  stepsOffset: 1,
});

/** SD-Turbo: EulerDiscrete with "trailing" spacing (1 step: timestep 999, σ = 14.6146). */
export const SD_TURBO_SCHEDULER_CONFIG: Readonly<SchedulerConfig> = Object.freeze({
  ...SD_NOISE_SCHEDULE,
  timestepSpacing: 'trailing',
  stepsOffset: 1,
});

/** The spacing diffusers ends up with for SD 1.x's shipped config, per scheduler. */
export function defaultSpacing(name: SchedulerName): TimestepSpacing {
  return name === 'DDIM' ? 'leading' : 'linspace';
}

/** Throws unless `stepIndex` is a valid step of a schedule with `n` steps. */
export function checkStepIndex(name: string, stepIndex: number, n: number): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= n) {
    throw new Error(`${name}: step index ${stepIndex} is outside 0..${n - 1} (this schedule has ${n} steps)`);
  }
}

/** Throws unless all tensors have the sample's length. */
export function checkSameLength(name: string, sample: Float32Array, others: Record<string, Float32Array | undefined>): void {
  if (!(sample instanceof Float32Array)) throw new Error(`${name}: sample must be a Float32Array`);
  for (const [label, t] of Object.entries(others)) {
    if (t === undefined) continue;
    if (!(t instanceof Float32Array)) throw new Error(`${name}: ${label} must be a Float32Array`);
    if (t.length !== sample.length) {
      throw new Error(`${name}: ${label} has ${t.length} values but the sample has ${sample.length}; they must have the same latent shape`);
    }
  }
}
