import { describe, expect, it } from 'vitest';
import { latentPreview, SD1_LATENT_RGB_FACTORS } from '../../src/lib/diffusion/index.ts';

describe('latent preview', () => {
  it('maps each latent pixel through the 4×3 factors, channel-major input', () => {
    // 1×2 latent: pixel 0 = (1, 0, 0, 0), pixel 1 = (0, 0, 0, -1).
    const latents = Float32Array.of(1, 0, 0, 0, 0, 0, 0, -1);
    const rgba = latentPreview(latents, 1, 2);
    const byte = (v: number) => Math.min(255, Math.max(0, Math.round(((v + 1) / 2) * 255)));
    expect(Array.from(rgba.subarray(0, 4))).toEqual([...SD1_LATENT_RGB_FACTORS[0]!.map(byte), 255]);
    expect(Array.from(rgba.subarray(4, 8))).toEqual([...SD1_LATENT_RGB_FACTORS[3]!.map((v) => byte(-v)), 255]);
  });

  it('clamps and refuses a latent of the wrong size', () => {
    // Every factor column sums to a positive number (R 0.18, G 0.64, B 0.11): ±10 saturates both ways.
    expect(Array.from(latentPreview(new Float32Array(4).fill(10), 1, 1))).toEqual([255, 255, 255, 255]);
    expect(Array.from(latentPreview(new Float32Array(4).fill(-10), 1, 1))).toEqual([0, 0, 0, 255]);
    expect(() => latentPreview(new Float32Array(12), 2, 2)).toThrow(/12 values is not \[1, 4, 2, 2\]/);
  });
});
