/**
 * DPM-Solver++(2M) (Lu et al. 2022, arXiv:2211.01095) as diffusers' DPMSolverMultistepScheduler
 * with its defaults: algorithm "dpmsolver++", solver_order 2, solver_type "midpoint",
 * lower_order_final, final_sigmas_type "zero", epsilon prediction.
 *
 * Variance-preserving form: x_t = α_t·x0 + σ_t·ε with α_t = 1/√(σ²+1), σ_t = σ·α_t,
 * λ_t = log α_t − log σ_t. Each step converts ε to x0 and integrates in λ:
 *   first order (DDIM):  x_t = (σ_t/σ_s)·x − α_t·(e^{−h} − 1)·D0,                h = λ_t − λ_s
 *   second order (2M):   … − ½·α_t·(e^{−h} − 1)·D1,  D1 = (D0 − m1)/r0,  r0 = h_prev/h
 * The first step has no history (first order); the last step goes to σ = 0 and is first order
 * (diffusers: final_sigmas_type "zero" forces it, whatever the step count).
 *
 * Multistep means state: this object remembers the previous x0 prediction, so `step` must be
 * called with step indices 0, 1, 2, … in order; step 0 starts a new trajectory.
 */
import { dpmSolverTimesteps, inferenceSigmas, trainingSchedule } from './schedule.ts';
import type { Scheduler, SchedulerConfig } from './scheduler.ts';
import { checkSameLength, checkStepIndex, SD1_SCHEDULER_CONFIG } from './scheduler.ts';

/** α_t, σ_t and λ_t of a noise level σ (λ = +∞ at σ = 0). */
export function vpCoefficients(sigma: number): { alpha: number; sigmaT: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const sigmaT = sigma * alpha;
  return { alpha, sigmaT, lambda: Math.log(alpha) - Math.log(sigmaT) };
}

/** DPM-Solver++ 2M sampler (stateful across consecutive steps, see file comment). */
export class DPMSolverMultistep implements Scheduler {
  readonly name = 'DPMSolverMultistep' as const;
  readonly numInferenceSteps: number;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma = 1;
  readonly needsNoise = false;
  /** x0 prediction of the previous step (m1), or null before the first step. */
  private previousX0: Float32Array | null = null;
  /** Index of the last completed step, −1 when none. */
  private lastStepIndex = -1;

  /**
   * @param numInferenceSteps number of denoising steps n
   * @param config schedule and spacing (default: SD 1.x, "linspace")
   */
  constructor(numInferenceSteps: number, config: SchedulerConfig = SD1_SCHEDULER_CONFIG) {
    this.numInferenceSteps = numInferenceSteps;
    this.timesteps = dpmSolverTimesteps(numInferenceSteps, config.timestepSpacing, config.numTrainTimesteps, config.stepsOffset);
    this.sigmas = inferenceSigmas(this.timesteps, trainingSchedule(config).sigmas);
  }

  /** DPM-Solver works on unscaled VP latents; returns a copy. */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(this.name, stepIndex, this.numInferenceSteps);
    return Float32Array.from(sample);
  }

  /** Whether step `stepIndex` uses the second-order update (diffusers' order selection). */
  usesSecondOrder(stepIndex: number): boolean {
    const isLast = stepIndex === this.numInferenceSteps - 1;
    return stepIndex >= 1 && !isLast;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): Float32Array {
    checkStepIndex(this.name, stepIndex, this.numInferenceSteps);
    checkSameLength(this.name, sample, { modelOutput });
    if (stepIndex !== 0 && stepIndex !== this.lastStepIndex + 1) {
      throw new Error(
        `DPMSolverMultistep.step must be called with step indices 0, 1, 2, … in order (it keeps the previous prediction); ` +
          `got ${stepIndex} after ${this.lastStepIndex}. Start again from step 0.`,
      );
    }
    if (stepIndex === 0) this.previousX0 = null;

    const s0 = vpCoefficients(this.sigmas[stepIndex]);
    const t = vpCoefficients(this.sigmas[stepIndex + 1]);
    const h = t.lambda - s0.lambda;
    const ratio = t.sigmaT / s0.sigmaT; // σ_t/σ_s (0 at the final σ = 0)
    const phi = t.alpha * (Math.exp(-h) - 1); // α_t·(e^{−h} − 1)

    // Convert ε to the data prediction D0 = x0 = (x − σ_s·ε)/α_s.
    const x0 = new Float32Array(sample.length);
    for (let k = 0; k < sample.length; k++) x0[k] = (sample[k] - s0.sigmaT * modelOutput[k]) / s0.alpha;

    const out = new Float32Array(sample.length);
    if (this.usesSecondOrder(stepIndex) && this.previousX0) {
      const s1 = vpCoefficients(this.sigmas[stepIndex - 1]);
      const r0 = (s0.lambda - s1.lambda) / h;
      const m1 = this.previousX0;
      for (let k = 0; k < sample.length; k++) {
        const d1 = (x0[k] - m1[k]) / r0;
        out[k] = ratio * sample[k] - phi * x0[k] - 0.5 * phi * d1;
      }
    } else {
      for (let k = 0; k < sample.length; k++) out[k] = ratio * sample[k] - phi * x0[k];
    }
    this.previousX0 = x0;
    this.lastStepIndex = stepIndex;
    return out;
  }
}
