/**
 * DDIM (Song et al. 2021) as diffusers' DDIMScheduler with Stable Diffusion's settings:
 * epsilon prediction, clip_sample off, set_alpha_to_one = false (the step after timestep 1
 * lands on ᾱ_0, not 1), eta = 0 by default (deterministic).
 * Latents are in the variance-preserving form x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε, so the initial
 * noise has std 1 and the UNet input is not rescaled.
 */
import { ddimTimesteps, trainingSchedule } from './schedule.ts';
import type { Scheduler, SchedulerConfig } from './scheduler.ts';
import { checkSameLength, checkStepIndex, SD1_SCHEDULER_CONFIG } from './scheduler.ts';

/** Options for {@link DDIM}. */
export interface DDIMOptions {
  /** η: 0 = deterministic DDIM, 1 = DDPM-like ancestral noise. Default 0. */
  eta?: number;
}

/** Deterministic (η = 0) or stochastic DDIM sampler. */
export class DDIM implements Scheduler {
  readonly name = 'DDIM' as const;
  readonly numInferenceSteps: number;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma = 1;
  readonly needsNoise: boolean;
  /** η of the sampler. */
  readonly eta: number;
  private readonly alphasCumprod: Float32Array;
  /** Timestep decrement per step: N div n (diffusers uses it for every spacing). */
  private readonly stride: number;

  /**
   * @param numInferenceSteps number of denoising steps n
   * @param config schedule; pass `timestepSpacing: 'leading'` for SD 1.x (diffusers' DDIM default there)
   * @param options η
   */
  constructor(numInferenceSteps: number, config: SchedulerConfig = { ...SD1_SCHEDULER_CONFIG, timestepSpacing: 'leading' }, options: DDIMOptions = {}) {
    const eta = options.eta ?? 0;
    if (!(eta >= 0 && eta <= 1)) throw new Error(`DDIM eta must be in [0, 1], got ${eta}`);
    this.eta = eta;
    this.needsNoise = eta > 0;
    this.numInferenceSteps = numInferenceSteps;
    this.timesteps = ddimTimesteps(numInferenceSteps, config.timestepSpacing, config.numTrainTimesteps, config.stepsOffset);
    this.alphasCumprod = trainingSchedule(config).alphasCumprod;
    this.stride = Math.floor(config.numTrainTimesteps / numInferenceSteps);
    const sigmaOf = (a: number) => Math.fround(Math.sqrt((1 - a) / a));
    this.sigmas = [...this.timesteps.map((t) => sigmaOf(this.alphasCumprod[t])), sigmaOf(this.alphaCumprodBefore(this.numInferenceSteps - 1))];
  }

  /** ᾱ at the timestep the step `stepIndex` goes to (ᾱ_0 past the start: set_alpha_to_one = false). */
  private alphaCumprodBefore(stepIndex: number): number {
    const prev = this.timesteps[stepIndex] - this.stride;
    return prev >= 0 ? this.alphasCumprod[prev] : this.alphasCumprod[0];
  }

  /** DDIM does not rescale the UNet input; returns a copy. */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(this.name, stepIndex, this.numInferenceSteps);
    return Float32Array.from(sample);
  }

  /**
   * x0 = (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t;  σ_t = η·√((1−ᾱ_prev)/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_prev));
   * x_prev = √ᾱ_prev·x0 + √(1−ᾱ_prev−σ_t²)·ε + σ_t·noise.
   */
  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): Float32Array {
    checkStepIndex(this.name, stepIndex, this.numInferenceSteps);
    if (this.needsNoise && !noise) throw new Error(`DDIM with eta ${this.eta} needs unit Gaussian noise of the latent shape at every step`);
    checkSameLength(this.name, sample, { modelOutput, noise: this.needsNoise ? noise : undefined });
    const alphaT = this.alphasCumprod[this.timesteps[stepIndex]];
    const alphaPrev = this.alphaCumprodBefore(stepIndex);
    const betaT = 1 - alphaT;
    const variance = ((1 - alphaPrev) / betaT) * (1 - alphaT / alphaPrev);
    const stdDev = this.eta * Math.sqrt(variance);
    const directionScale = Math.sqrt(1 - alphaPrev - stdDev * stdDev);
    const sqrtAlphaT = Math.sqrt(alphaT);
    const sqrtBetaT = Math.sqrt(betaT);
    const sqrtAlphaPrev = Math.sqrt(alphaPrev);
    const out = new Float32Array(sample.length);
    for (let k = 0; k < sample.length; k++) {
      const x0 = (sample[k] - sqrtBetaT * modelOutput[k]) / sqrtAlphaT;
      let x = sqrtAlphaPrev * x0 + directionScale * modelOutput[k];
      if (stdDev > 0) x += stdDev * noise![k];
      out[k] = x;
    }
    return out;
  }
}
