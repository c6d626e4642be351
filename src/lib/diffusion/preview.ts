/**
 * A cheap preview of latents during denoising: each latent pixel's 4 channels mapped to RGB by a
 * fixed linear approximation of the SD 1.x VAE decoder (the 4×3 "latent RGB factors" that
 * ComfyUI and A1111 use for live previews), at latent resolution — no VAE run.
 */

/** RGB ≈ Σ_c latent_c · factors[c] (rows: latent channels 0–3; columns: R, G, B). */
export const SD1_LATENT_RGB_FACTORS: readonly (readonly [number, number, number])[] = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];

/**
 * RGBA preview of latents [1, 4, h, w] (unscaled, as the scheduler holds them).
 * @returns Uint8ClampedArray [h · w · 4], values (rgb + 1)/2 · 255 clamped, alpha 255
 */
export function latentPreview(latents: Float32Array, height: number, width: number, factors = SD1_LATENT_RGB_FACTORS): Uint8ClampedArray {
  const hw = height * width;
  if (latents.length !== 4 * hw) throw new Error(`latentPreview: ${latents.length} values is not [1, 4, ${height}, ${width}]`);
  const out = new Uint8ClampedArray(hw * 4);
  for (let p = 0; p < hw; p++) {
    for (let k = 0; k < 3; k++) {
      let v = 0;
      for (let c = 0; c < 4; c++) v += latents[c * hw + p]! * factors[c]![k]!;
      out[p * 4 + k] = ((v + 1) / 2) * 255; // Uint8ClampedArray rounds and clamps
    }
    out[p * 4 + 3] = 255;
  }
  return out;
}
