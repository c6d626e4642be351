import { describe, expect, it } from 'vitest';
import { castFloats, requireInput, resolveShape, staticBatch, toFloat32 } from '../../src/lib/models/io.ts';

const unet = [
  { name: 'sample', type: 'float32', shape: ['batch', 4, 'height', 'width'] },
  { name: 'timestep', type: 'int64', shape: [1] },
  { name: 'encoder_hidden_states', type: 'float16', shape: [2, 77, 768] },
];

describe('inputs from a session’s metadata', () => {
  it('fills symbolic dimensions and refuses a conflicting static one', () => {
    expect(resolveShape(unet[0]!, [2, 4, 64, 64], 'UNet')).toEqual([2, 4, 64, 64]);
    expect(() => resolveShape(unet[2]!, [1, 77, 768], 'UNet')).toThrow(/static size 2 at axis 0.*needs 1/);
    expect(() => resolveShape(unet[1]!, [1, 1], 'UNet')).toThrow(/rank 1 \[1\].*rank 2/);
    expect(staticBatch(unet[2]!)).toBe(2);
    expect(staticBatch(unet[0]!)).toBeNull();
  });

  it('names the inputs a model does have when one is missing', () => {
    expect(() => requireInput(unet, 'latent_sample', 'VAE decoder')).toThrow(/has no input 'latent_sample' \(it has 'sample', 'timestep', 'encoder_hidden_states'\)/);
  });

  it('casts values to the input type: int64 truncates like numpy, fp16 rounds to nearest even', () => {
    expect(Array.from(castFloats(Float32Array.of(946.42, 0.9), 'int64') as BigInt64Array)).toEqual([946n, 0n]);
    const half = castFloats(Float32Array.of(1, -2.5, 65504, 1e-8, 70000), 'float16') as Uint16Array;
    expect(Array.from(half)).toEqual([0x3c00, 0xc100, 0x7bff, 0, 0x7c00]);
    expect(() => castFloats(Float32Array.of(1), 'string')).toThrow(/'string' is not supported/);
  });

  it('reads fp16 outputs given as raw bits or as numbers', () => {
    expect(Array.from(toFloat32(Uint16Array.of(0x3c00, 0xc000), 'float16'))).toEqual([1, -2]);
    expect(Array.from(toFloat32([0.5, 0.25], 'float16'))).toEqual([0.5, 0.25]);
  });
});
