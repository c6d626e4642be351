/**
 * The training noise schedule of Stable Diffusion and the timestep spacings of diffusers.
 *
 * Arithmetic follows diffusers exactly where it matters for the tables:
 * - `betas`, `alphas`, `alphas_cumprod` and the training sigmas are torch float32 tensors
 *   (torch.linspace in float32, cumprod accumulated in double and stored as float32);
 * - timesteps and interpolated sigmas are numpy float64, cast to float32 at the end.
 * Every float32 rounding is written as `Math.fround`. torch's vectorised linspace can differ
 * from the scalar formula used here by one float32 ulp (≈ 6e-8 relative) for some betas.
 */

/** How inference timesteps are picked from the 1000 training steps (arXiv:2305.08891, Table 2). */
export type TimestepSpacing = 'linspace' | 'leading' | 'trailing';

/** The training noise schedule (diffusers' scheduler_config.json fields). */
export interface NoiseScheduleConfig {
  /** num_train_timesteps: 1000 for every Stable Diffusion. */
  numTrainTimesteps: number;
  /** beta_start of the scaled_linear schedule: 0.00085. */
  betaStart: number;
  /** beta_end of the scaled_linear schedule: 0.012. */
  betaEnd: number;
}

/** Stable Diffusion 1.x / 2.x / SD-Turbo training schedule (scaled_linear 0.00085 → 0.012). */
export const SD_NOISE_SCHEDULE: Readonly<NoiseScheduleConfig> = Object.freeze({
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
});

const f32 = Math.fround;

/**
 * scaled_linear betas: torch.linspace(√β_start, √β_end, N, dtype=float32) ** 2.
 * torch's linspace fills the first half forwards from start and the second half backwards from
 * end with a float32 step, which is reproduced here.
 * @returns Float32Array [N], β_t for t = 0..N−1
 */
export function scaledLinearBetas(config: NoiseScheduleConfig = SD_NOISE_SCHEDULE): Float32Array {
  const n = config.numTrainTimesteps;
  if (!Number.isInteger(n) || n < 2) throw new Error(`numTrainTimesteps must be an integer ≥ 2, got ${n}`);
  if (!(config.betaStart > 0 && config.betaEnd > config.betaStart && config.betaEnd < 1)) {
    throw new Error(`need 0 < betaStart < betaEnd < 1, got ${config.betaStart} and ${config.betaEnd}`);
  }
  const start = f32(Math.sqrt(config.betaStart));
  const end = f32(Math.sqrt(config.betaEnd));
  const step = f32((end - start) / (n - 1));
  const halfway = Math.floor(n / 2);
  const betas = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const root = i < halfway ? f32(start + f32(step * i)) : f32(end - f32(step * (n - i - 1)));
    betas[i] = f32(root * root);
  }
  return betas;
}

/**
 * ᾱ_t = Π_{s≤t} (1 − β_s). torch's CPU cumprod accumulates float32 inputs in double.
 * @returns Float32Array [N]
 */
export function alphasCumprod(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let product = 1;
  for (let i = 0; i < betas.length; i++) {
    product *= f32(1 - betas[i]);
    out[i] = product;
  }
  return out;
}

/**
 * Training noise levels σ_t = √((1 − ᾱ_t) / ᾱ_t) (float32 tensor ops, as diffusers).
 * @returns Float32Array [N] indexed by timestep, increasing (σ_999 ≈ 14.6146 for SD)
 */
export function trainingSigmas(alphasCumprodF32: Float32Array): Float32Array {
  const out = new Float32Array(alphasCumprodF32.length);
  for (let t = 0; t < out.length; t++) {
    const a = alphasCumprodF32[t];
    out[t] = Math.sqrt(f32(f32(1 - a) / a));
  }
  return out;
}

/** numpy's round(): half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * numpy.linspace(start, stop, num) in float64: k·step + start, last value set to stop exactly.
 * @returns number[num]
 */
export function numpyLinspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, k) => k * step + start);
  out[num - 1] = stop;
  return out;
}

/**
 * The first `count` values of numpy.arange(start, stop, step) for a float step: numpy stores
 * start and start + step, then fills start + i·delta with delta = (start + step) − start.
 */
function numpyArangeHead(start: number, step: number, count: number): number[] {
  const delta = start + step - start;
  return Array.from({ length: count }, (_, i) => (i === 0 ? start : i === 1 ? start + step : start + i * delta));
}

function checkSteps(numInferenceSteps: number, numTrainTimesteps: number): void {
  if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > numTrainTimesteps) {
    throw new Error(`the number of inference steps must be an integer in [1, ${numTrainTimesteps}], got ${numInferenceSteps}`);
  }
}

/**
 * Timesteps of EulerDiscrete / EulerAncestralDiscrete (diffusers `set_timesteps`), float32.
 * linspace: linspace(0, N−1, n) reversed (non-integer for most n; 1 step gives [0]);
 * leading: (arange(n)·(N div n)) reversed + stepsOffset; trailing: round(arange(N, 0, −N/n)) − 1.
 * @returns number[n], decreasing model timesteps
 */
export function eulerTimesteps(numInferenceSteps: number, spacing: TimestepSpacing, numTrainTimesteps: number, stepsOffset: number): number[] {
  checkSteps(numInferenceSteps, numTrainTimesteps);
  const n = numInferenceSteps;
  let t: number[];
  if (spacing === 'linspace') t = numpyLinspace(0, numTrainTimesteps - 1, n).map(f32).reverse();
  else if (spacing === 'leading') {
    const ratio = Math.floor(numTrainTimesteps / n);
    t = Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + stepsOffset);
  } else if (spacing === 'trailing') t = numpyArangeHead(numTrainTimesteps, -numTrainTimesteps / n, n).map((x) => roundHalfEven(x) - 1);
  else throw new Error(`timestep spacing "${spacing}" is not one of linspace, leading, trailing`);
  return t.map(f32);
}

/**
 * Timesteps of DPMSolverMultistep (integers): linspace takes n+1 points and drops the last,
 * so it differs from Euler's (20 steps: 999, 949, 899, … not 999, 946.74, …).
 * @returns number[n], decreasing integer timesteps
 */
export function dpmSolverTimesteps(numInferenceSteps: number, spacing: TimestepSpacing, numTrainTimesteps: number, stepsOffset: number): number[] {
  checkSteps(numInferenceSteps, numTrainTimesteps);
  const n = numInferenceSteps;
  if (spacing === 'linspace') return numpyLinspace(0, numTrainTimesteps - 1, n + 1).map(roundHalfEven).reverse().slice(0, n);
  if (spacing === 'leading') {
    const ratio = Math.floor(numTrainTimesteps / (n + 1));
    return Array.from({ length: n }, (_, i) => (n - i) * ratio + stepsOffset);
  }
  if (spacing === 'trailing') return numpyArangeHead(numTrainTimesteps, -numTrainTimesteps / n, n).map((x) => roundHalfEven(x) - 1);
  throw new Error(`timestep spacing "${spacing}" is not one of linspace, leading, trailing`);
}

/**
 * Timesteps of DDIM (integers). leading with stepsOffset 1 and 50 steps: 981, 961, …, 1.
 * @returns number[n], decreasing integer timesteps
 */
export function ddimTimesteps(numInferenceSteps: number, spacing: TimestepSpacing, numTrainTimesteps: number, stepsOffset: number): number[] {
  checkSteps(numInferenceSteps, numTrainTimesteps);
  const n = numInferenceSteps;
  if (spacing === 'linspace') return numpyLinspace(0, numTrainTimesteps - 1, n).map(roundHalfEven).reverse();
  if (spacing === 'leading') {
    const ratio = Math.floor(numTrainTimesteps / n);
    return Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + stepsOffset);
  }
  if (spacing === 'trailing') return numpyArangeHead(numTrainTimesteps, -numTrainTimesteps / n, n).map((x) => roundHalfEven(x) - 1);
  throw new Error(`timestep spacing "${spacing}" is not one of linspace, leading, trailing`);
}

/**
 * numpy.interp(x, arange(len(fp)), fp) in float64 (fp given as float32 values).
 * @returns the interpolated value (float64)
 */
export function interpTrainingSigma(t: number, sigmasByTimestep: Float32Array): number {
  const last = sigmasByTimestep.length - 1;
  if (t <= 0) return sigmasByTimestep[0];
  if (t >= last) return sigmasByTimestep[last];
  const j = Math.floor(t);
  if (j === t) return sigmasByTimestep[j];
  const slope = sigmasByTimestep[j + 1] - sigmasByTimestep[j];
  return slope * (t - j) + sigmasByTimestep[j];
}

/**
 * Inference sigmas: σ interpolated at each timestep, then a final 0, cast to float32.
 * @returns number[n + 1], decreasing, last 0
 */
export function inferenceSigmas(timesteps: readonly number[], sigmasByTimestep: Float32Array): number[] {
  return [...timesteps.map((t) => f32(interpTrainingSigma(t, sigmasByTimestep))), 0];
}

/** Training-schedule tables shared by every scheduler. */
export interface TrainingSchedule {
  /** β_t, float32 [N]. */
  betas: Float32Array;
  /** ᾱ_t, float32 [N]. */
  alphasCumprod: Float32Array;
  /** σ_t = √((1 − ᾱ_t)/ᾱ_t), float32 [N]. */
  sigmas: Float32Array;
}

/** Builds β, ᾱ and σ for a scaled_linear schedule. */
export function trainingSchedule(config: NoiseScheduleConfig = SD_NOISE_SCHEDULE): TrainingSchedule {
  const betas = scaledLinearBetas(config);
  const ac = alphasCumprod(betas);
  return { betas, alphasCumprod: ac, sigmas: trainingSigmas(ac) };
}
