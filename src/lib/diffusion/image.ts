/**
 * Latents ↔ VAE ↔ pixels, as diffusers' StableDiffusionPipeline and VaeImageProcessor.
 */

/** Stable Diffusion's VAE latent scaling factor (SD 1.x, 2.x and SD-Turbo alike). */
export const SD_VAE_SCALING_FACTOR = 0.18215;

/**
 * Undoes the latent scaling before the VAE decoder: latents / scalingFactor.
 * @param latents [1, 4, h, w] denoised latents
 * @returns Float32Array of the same shape, the VAE decoder's `latent_sample`
 */
export function latentsToVaeInput(latents: Float32Array, scalingFactor = SD_VAE_SCALING_FACTOR): Float32Array {
  if (!(scalingFactor > 0) || !Number.isFinite(scalingFactor)) throw new Error(`the VAE scaling factor must be a positive number, got ${scalingFactor}`);
  const out = new Float32Array(latents.length);
  for (let k = 0; k < latents.length; k++) out[k] = latents[k] / scalingFactor;
  return out;
}

/** numpy's round(): half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * One VAE output value in [−1, 1] to an 8-bit channel exactly as diffusers: float32
 * clamp(x·0.5 + 0.5, 0, 1), then numpy (v·255).round() (half to even), as uint8.
 */
export function vaeValueToByte(x: number): number {
  const f32 = Math.fround;
  const v = Math.min(1, Math.max(0, f32(f32(x * 0.5) + 0.5)));
  return roundHalfEven(f32(v * 255));
}

/**
 * Converts the VAE decoder output [1, 3, H, W] (planar RGB in [−1, 1]) to interleaved RGBA
 * bytes for ImageData / canvas, alpha 255.
 * @param sample Float32Array [3·H·W] (batch 1)
 * @param width W in pixels
 * @param height H in pixels
 * @returns Uint8ClampedArray [H·W·4]
 * @throws when the size does not match or the output has NaN (an overflowing fp16 VAE)
 */
export function vaeOutputToRgba(sample: Float32Array, width: number, height: number): Uint8ClampedArray {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`image size must be positive integers, got ${width}×${height}`);
  }
  const plane = width * height;
  if (sample.length !== 3 * plane) {
    throw new Error(`VAE output has ${sample.length} values; a [1, 3, ${height}, ${width}] image needs ${3 * plane}`);
  }
  const rgba = new Uint8ClampedArray(plane * 4);
  let nans = 0;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const x = sample[c * plane + p];
      if (Number.isNaN(x)) nans++;
      rgba[p * 4 + c] = vaeValueToByte(x);
    }
    rgba[p * 4 + 3] = 255;
  }
  if (nans > 0) {
    throw new Error(`the VAE output has ${nans} NaN values (an fp16 VAE overflowed); use an fp32 VAE decoder or run it in fp32`);
  }
  return rgba;
}
