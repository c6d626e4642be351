/**
 * Diffusion math for Stable Diffusion in the browser: schedulers (diffusers' names and numbers),
 * seeded noise, classifier-free guidance and latent → image conversion. Pure TypeScript, no
 * inference: the worker runs the UNet and VAE and calls these between runs.
 */
import { DDIM, type DDIMOptions } from './ddim.ts';
import { DPMSolverMultistep } from './dpm-solver.ts';
import { EulerAncestralDiscrete, EulerDiscrete } from './euler.ts';
import type { Scheduler, SchedulerConfig, SchedulerName } from './scheduler.ts';
import { defaultSpacing, SD1_SCHEDULER_CONFIG } from './scheduler.ts';

export * from './schedule.ts';
export * from './scheduler.ts';
export { EulerDiscrete, EulerAncestralDiscrete, ancestralSigmas } from './euler.ts';
export { DDIM, type DDIMOptions } from './ddim.ts';
export { DPMSolverMultistep, vpCoefficients } from './dpm-solver.ts';
export { TorchCpuGenerator, Mt19937, randn, checkSeed, shapeSize, portableLog, portableSinCos } from './noise.ts';
export { guideSeparate, guideBatched } from './guidance.ts';
export { SD_VAE_SCALING_FACTOR, latentsToVaeInput, vaeOutputToRgba, vaeValueToByte } from './image.ts';

/** Every sampler name, for menus. */
export const SCHEDULER_NAMES: readonly SchedulerName[] = ['EulerDiscrete', 'EulerAncestralDiscrete', 'DDIM', 'DPMSolverMultistep'];

/**
 * Creates a sampler for `numInferenceSteps` steps. Unset config fields come from SD 1.x's
 * config, with the spacing diffusers resolves for that sampler (DDIM "leading", others
 * "linspace"); pass SD_TURBO_SCHEDULER_CONFIG for SD-Turbo.
 * @param name diffusers class name
 * @param numInferenceSteps integer in [1, 1000]
 * @param config overrides of the schedule (e.g. { timestepSpacing: 'trailing' })
 * @param options DDIM's eta
 */
export function createScheduler(name: SchedulerName, numInferenceSteps: number, config: Partial<SchedulerConfig> = {}, options: DDIMOptions = {}): Scheduler {
  const full: SchedulerConfig = { ...SD1_SCHEDULER_CONFIG, timestepSpacing: defaultSpacing(name), ...config };
  switch (name) {
    case 'EulerDiscrete': return new EulerDiscrete(numInferenceSteps, full);
    case 'EulerAncestralDiscrete': return new EulerAncestralDiscrete(numInferenceSteps, full);
    case 'DDIM': return new DDIM(numInferenceSteps, full, options);
    case 'DPMSolverMultistep': return new DPMSolverMultistep(numInferenceSteps, full);
    default: throw new Error(`unknown scheduler "${name as string}"; choose one of ${SCHEDULER_NAMES.join(', ')}`);
  }
}

/**
 * Initial latents: unit Gaussian noise × the scheduler's initNoiseSigma.
 * @param noise Float32Array [latent shape], e.g. generator.randn([1, 4, 64, 64])
 * @returns a new Float32Array
 */
export function initialLatents(noise: Float32Array, scheduler: Pick<Scheduler, 'initNoiseSigma'>): Float32Array {
  const out = new Float32Array(noise.length);
  for (let k = 0; k < noise.length; k++) out[k] = noise[k] * scheduler.initNoiseSigma;
  return out;
}
export { SD1_LATENT_RGB_FACTORS, latentPreview } from './preview.ts';
