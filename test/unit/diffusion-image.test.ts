import { describe, it, expect } from 'vitest';
import {
  guideSeparate,
  guideBatched,
  latentsToVaeInput,
  vaeOutputToRgba,
  vaeValueToByte,
  SD_VAE_SCALING_FACTOR,
} from '../../src/lib/diffusion/index.ts';

describe('classifier-free guidance', () => {
  const uncond = Float32Array.from([1, -2, 0.5, 0]);
  const cond = Float32Array.from([3, -2, -0.5, 1]);
  it('computes uncond + g·(cond − uncond)', () => {
    expect(Array.from(guideSeparate(uncond, cond, 7.5))).toEqual([16, -2, -7, 7.5]);
    expect(guideSeparate(uncond, cond, 1)).toEqual(cond);
    expect(guideSeparate(uncond, cond, 0)).toEqual(uncond);
  });
  it('splits a batched [2, …] output as [uncond, cond]', () => {
    const batched = new Float32Array(8);
    batched.set(uncond, 0);
    batched.set(cond, 4);
    expect(guideBatched(batched, 7.5)).toEqual(guideSeparate(uncond, cond, 7.5));
  });
  it('rejects mismatched shapes and a non-finite scale', () => {
    expect(() => guideSeparate(uncond, cond.subarray(1), 7.5)).toThrow(/\(4 values\) and conditional \(3 values\)/);
    expect(() => guideBatched(new Float32Array(7), 7.5)).toThrow(/even number of values, got 7/);
    expect(() => guideSeparate(uncond, cond, Number.NaN)).toThrow(/finite number/);
  });
});

describe('latents to VAE input', () => {
  it('divides by 0.18215', () => {
    const z = Float32Array.from([0.18215, -0.3643, 0]);
    expect(SD_VAE_SCALING_FACTOR).toBe(0.18215);
    const out = latentsToVaeInput(z);
    [1, -2, 0].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
    expect(() => latentsToVaeInput(z, 0)).toThrow(/positive number, got 0/);
  });
});

describe('VAE output to RGBA', () => {
  it('maps −1 → 0, 1 → 255, clamps outside [−1, 1] and rounds half to even like numpy', () => {
    expect([-1, 1, -5, 5, Infinity, -Infinity].map(vaeValueToByte)).toEqual([0, 255, 0, 255, 255, 0]);
    expect(vaeValueToByte(0)).toBe(128); // 127.5 → 128 (even)
    // inputs whose float32 value·255 is exactly k + ½: numpy rounds to the even neighbour
    for (const [k, expected] of [[126.5, 126], [128.5, 128], [253.5, 254], [254.5, 254]] as const) {
      const x = Math.fround((2 * k) / 255 - 1);
      const v = Math.fround(Math.fround(x * 0.5) + 0.5);
      expect(Math.fround(v * 255)).toBe(k); // the premise: an exact tie
      expect(vaeValueToByte(x)).toBe(expected);
    }
  });
  it('interleaves planar RGB into RGBA with opaque alpha', () => {
    const [w, h] = [3, 2];
    const plane = w * h;
    const sample = new Float32Array(3 * plane);
    for (let p = 0; p < plane; p++) {
      sample[p] = -1 + p * 0.1; // R
      sample[plane + p] = 1; // G
      sample[2 * plane + p] = -1; // B
    }
    const rgba = vaeOutputToRgba(sample, w, h);
    expect(rgba).toBeInstanceOf(Uint8ClampedArray);
    expect(rgba.length).toBe(plane * 4);
    for (let p = 0; p < plane; p++) {
      const r = ((-1 + p * 0.1) / 2 + 0.5) * 255;
      expect(Math.abs(rgba[p * 4] - r)).toBeLessThanOrEqual(0.5);
      expect([rgba[p * 4 + 1], rgba[p * 4 + 2], rgba[p * 4 + 3]]).toEqual([255, 0, 255]);
    }
  });
  it('names the problem on a wrong size or NaN output', () => {
    expect(() => vaeOutputToRgba(new Float32Array(10), 2, 2)).toThrow(/has 10 values; a \[1, 3, 2, 2\] image needs 12/);
    const bad = new Float32Array(12);
    bad[5] = Number.NaN;
    expect(() => vaeOutputToRgba(bad, 2, 2)).toThrow(/1 NaN values .* fp32 VAE/);
  });
});
