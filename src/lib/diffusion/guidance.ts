/**
 * Classifier-free guidance (Ho & Salimans 2022): ε = ε_uncond + g·(ε_cond − ε_uncond).
 * g = 1 gives the conditional prediction alone; SD 1.x commonly uses 7.5; SD-Turbo uses none.
 */

/**
 * Combines separate unconditional and conditional noise predictions.
 * @param uncond ε_uncond [latent shape]
 * @param cond ε_cond [latent shape]
 * @param guidanceScale g
 * @returns Float32Array [latent shape]
 */
export function guideSeparate(uncond: Float32Array, cond: Float32Array, guidanceScale: number): Float32Array {
  if (uncond.length !== cond.length) {
    throw new Error(`guidance: unconditional (${uncond.length} values) and conditional (${cond.length} values) predictions must have the same shape`);
  }
  checkScale(guidanceScale);
  const out = new Float32Array(cond.length);
  for (let k = 0; k < out.length; k++) out[k] = uncond[k] + guidanceScale * (cond[k] - uncond[k]);
  return out;
}

/**
 * Combines a batched UNet output [2, …] whose first half is the unconditional prediction and
 * second half the conditional one (diffusers' order: the context batch is [negative, prompt]).
 * @param batched Float32Array [2 · latent size]
 * @param guidanceScale g
 * @returns Float32Array [latent size]
 */
export function guideBatched(batched: Float32Array, guidanceScale: number): Float32Array {
  if (batched.length % 2 !== 0) throw new Error(`guidance: a batched [2, …] output must have an even number of values, got ${batched.length}`);
  const half = batched.length / 2;
  return guideSeparate(batched.subarray(0, half), batched.subarray(half), guidanceScale);
}

function checkScale(guidanceScale: number): void {
  if (!Number.isFinite(guidanceScale)) throw new Error(`guidance scale must be a finite number, got ${guidanceScale}`);
}
