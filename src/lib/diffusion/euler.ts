/**
 * Euler samplers in the σ ("variance exploding") parameterisation of Karras et al. 2022, as
 * diffusers' EulerDiscreteScheduler and EulerAncestralDiscreteScheduler (epsilon prediction,
 * s_churn = 0): the latents are x = x0 + σ·ε, the UNet sees x / √(σ²+1).
 */
import { eulerTimesteps, inferenceSigmas, trainingSchedule } from './schedule.ts';
import type { Scheduler, SchedulerConfig, SchedulerName } from './scheduler.ts';
import { checkSameLength, checkStepIndex, SD1_SCHEDULER_CONFIG } from './scheduler.ts';

/** Shared σ schedule and input scaling of both Euler samplers. */
abstract class EulerBase implements Scheduler {
  abstract readonly name: SchedulerName;
  abstract readonly needsNoise: boolean;
  readonly numInferenceSteps: number;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma: number;

  /**
   * @param numInferenceSteps number of denoising steps n
   * @param config schedule and spacing (default: SD 1.x, "linspace")
   */
  constructor(numInferenceSteps: number, config: SchedulerConfig = SD1_SCHEDULER_CONFIG) {
    const train = trainingSchedule(config);
    this.numInferenceSteps = numInferenceSteps;
    this.timesteps = eulerTimesteps(numInferenceSteps, config.timestepSpacing, config.numTrainTimesteps, config.stepsOffset);
    this.sigmas = inferenceSigmas(this.timesteps, train.sigmas);
    const sigmaMax = Math.max(...this.sigmas);
    // diffusers: σ_max for linspace/trailing, √(σ_max² + 1) for leading (float32 tensor math).
    this.initNoiseSigma = config.timestepSpacing === 'leading' ? Math.fround(Math.sqrt(Math.fround(sigmaMax * sigmaMax + 1))) : sigmaMax;
  }

  /** x / √(σ_i² + 1): the UNet was trained on unit-variance inputs. */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(this.name, stepIndex, this.numInferenceSteps);
    checkSameLength(this.name, sample, {});
    const sigma = this.sigmas[stepIndex];
    const scale = 1 / Math.sqrt(sigma * sigma + 1);
    const out = new Float32Array(sample.length);
    for (let k = 0; k < sample.length; k++) out[k] = sample[k] * scale;
    return out;
  }

  abstract step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): Float32Array;
}

/**
 * Deterministic Euler: x0 = x − σ_i·ε, x_{i+1} = x + (x − x0)/σ_i · (σ_{i+1} − σ_i).
 * With ε exact, one step from any σ lands on x0 when σ_{i+1} = 0.
 */
export class EulerDiscrete extends EulerBase {
  readonly name = 'EulerDiscrete' as const;
  readonly needsNoise = false;

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): Float32Array {
    checkStepIndex(this.name, stepIndex, this.numInferenceSteps);
    checkSameLength(this.name, sample, { modelOutput });
    const sigma = this.sigmas[stepIndex];
    const dt = this.sigmas[stepIndex + 1] - sigma;
    const out = new Float32Array(sample.length);
    for (let k = 0; k < sample.length; k++) {
      const x0 = sample[k] - sigma * modelOutput[k];
      const derivative = (sample[k] - x0) / sigma;
      out[k] = sample[k] + derivative * dt;
    }
    return out;
  }
}

/**
 * Euler ancestral: a deterministic Euler step down to σ_down, then fresh noise of std σ_up,
 * where σ_up = √(σ_to²(σ_from² − σ_to²)/σ_from²) and σ_down = √(σ_to² − σ_up²).
 * Needs unit Gaussian `noise` each step (diffusers draws it from the pipeline's generator).
 */
export class EulerAncestralDiscrete extends EulerBase {
  readonly name = 'EulerAncestralDiscrete' as const;
  readonly needsNoise = true;

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): Float32Array {
    checkStepIndex(this.name, stepIndex, this.numInferenceSteps);
    if (!noise) throw new Error('EulerAncestralDiscrete.step needs unit Gaussian noise of the latent shape (e.g. generator.randn(shape)) at every step');
    checkSameLength(this.name, sample, { modelOutput, noise });
    const { sigmaUp, sigmaDown } = ancestralSigmas(this.sigmas[stepIndex], this.sigmas[stepIndex + 1]);
    const sigma = this.sigmas[stepIndex];
    const dt = sigmaDown - sigma;
    const out = new Float32Array(sample.length);
    for (let k = 0; k < sample.length; k++) {
      const x0 = sample[k] - sigma * modelOutput[k];
      const derivative = (sample[k] - x0) / sigma;
      out[k] = sample[k] + derivative * dt + noise[k] * sigmaUp;
    }
    return out;
  }
}

/**
 * Splits the move σ_from → σ_to of an ancestral step into a deterministic part and added noise
 * (σ_down² + σ_up² = σ_to²).
 */
export function ancestralSigmas(sigmaFrom: number, sigmaTo: number): { sigmaUp: number; sigmaDown: number } {
  const sigmaUp = Math.sqrt((sigmaTo * sigmaTo * (sigmaFrom * sigmaFrom - sigmaTo * sigmaTo)) / (sigmaFrom * sigmaFrom));
  // Exactly σ_to²/σ_from; the clamp only guards float64 rounding below zero.
  const sigmaDown = Math.sqrt(Math.max(0, sigmaTo * sigmaTo - sigmaUp * sigmaUp));
  return { sigmaUp, sigmaDown };
}
