/**
 * DAAM aggregation against hand-computed cases: PyTorch bicubic (values derived by hand from
 * Keys' kernel with A = −0.75, align_corners=False; they match torch's F.interpolate of
 * [0, 1] to 4 samples: −0.1055, 0.2266, 0.7734, 1.1055), clamping after the 2-D upsample, the
 * equal-weight mean over layers × heads, level/layer/head selection, word merging, mass shares,
 * display scales and colours.
 */
import { describe, expect, it } from 'vitest';
import {
  aggregateTokenMaps, colorLut, cubicTaps, massShift, minMaxScale, normalize, overlayHeatmap, resizeBicubic,
  sharedScale, tokenMap, wordMassShares, wordMaps, type AttentionMaps, type TokenMaps,
} from '../../src/lib/attention/index.ts';

/** [0, 1] upsampled to 4 samples, by hand: 1.10546875·a − 0.10546875·b, 0.7734375·a + 0.2265625·b, … */
const UP_0_1 = [-0.10546875, 0.2265625, 0.7734375, 1.10546875];
const UP_1_0 = [...UP_0_1].reverse();

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, eps = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i]), `index ${i}: ${actual[i]} vs ${expected[i]}`).toBeLessThan(eps);
}

describe('bicubic resize (PyTorch semantics)', () => {
  it('upsamples [0, 1] to 4 samples as torch does (undershoot included)', () => {
    close(resizeBicubic([0, 1], 1, 2, 1, 4), UP_0_1);
  });

  it('is separable in 2-D: [[0,1],[2,3]] → 2·f(y) + f(x)', () => {
    const expected = [];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) expected.push(2 * UP_0_1[y] + UP_0_1[x]);
    close(resizeBicubic([0, 1, 2, 3], 2, 2, 4, 4), expected);
  });

  it('is the identity at equal size and keeps constants at any size', () => {
    const m = [3, -1, 4, 1, 5, 9];
    close(resizeBicubic(m, 2, 3, 2, 3), m);
    close(resizeBicubic(new Array(12).fill(2.5), 3, 4, 7, 5), new Array(35).fill(2.5));
    const taps = cubicTaps(3, 8);
    for (let o = 0; o < 8; o++) expect(Math.abs(taps.weight.slice(o * 4, o * 4 + 4).reduce((a, b) => a + b) - 1)).toBeLessThan(1e-6);
  });

  it('rejects a map of the wrong size', () => {
    expect(() => resizeBicubic([1, 2, 3], 2, 2, 4, 4)).toThrow(/3 values, not 2×2/);
  });
});

/** Sums [heads, pixels, tokens] from per-head, per-token maps given as [head][token][pixel]. */
function sums(maps: number[][][]): Float32Array {
  const heads = maps.length, tokens = maps[0].length, pixels = maps[0][0].length;
  const out = new Float32Array(heads * pixels * tokens);
  for (let h = 0; h < heads; h++) for (let t = 0; t < tokens; t++) for (let p = 0; p < pixels; p++) out[(h * pixels + p) * tokens + t] = maps[h][t][p];
  return out;
}

// Latent 2×2: level 0 is 2×2, level 1 is 1×1, level 3 (mid) 1×1. Two tokens.
const captured: AttentionMaps = {
  latentHeight: 2, latentWidth: 2, tokens: 2, steps: [0, 1, 2],
  layers: [
    { name: 'down_blocks.0.attentions.0.transformer_blocks.0', level: 0, heads: 1, height: 2, width: 2, sums: sums([[[0, 1, 0, 0], [1, 1, 1, 1]]]) },
    { name: 'down_blocks.1.attentions.0.transformer_blocks.0', level: 1, heads: 2, height: 1, width: 1, sums: sums([[[0.5], [2]], [[1.5], [4]]]) },
    { name: 'mid_block.attentions.0.transformer_blocks.0', level: 3, heads: 1, height: 1, width: 1, sums: sums([[[100], [100]]]) },
  ],
};

describe('aggregateTokenMaps (DAAM)', () => {
  it('upsamples each (layer, head) map, clamps the 2-D result at 0, averages over layers × heads, drops level 3', () => {
    const m = aggregateTokenMaps(captured, { height: 4, width: 4 });
    expect(m.averaged).toBe(3);
    expect(m.steps).toBe(3);
    // Token 0, level 0: [[0,1],[0,0]] → f_rows [1,0] ⊗ f_cols [0,1], clamped per pixel (x=0,y=3 is (−)(−) > 0: kept).
    const expected = [];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) expected.push((Math.max(0, UP_1_0[y] * UP_0_1[x]) + 0.5 + 1.5) / 3);
    close(tokenMap(m, 0), expected);
    close(tokenMap(m, 1), new Array(16).fill((1 + 2 + 4) / 3));
  });

  it('restricts to levels, layers and heads', () => {
    close(tokenMap(aggregateTokenMaps(captured, { levels: [0, 1, 2, 3] }), 1), new Array(4).fill((1 + 2 + 4 + 100) / 4));
    close(tokenMap(aggregateTokenMaps(captured, { layers: ['down_blocks.1.attentions.0.transformer_blocks.0'] }), 1), new Array(4).fill(3));
    close(tokenMap(aggregateTokenMaps(captured, { heads: [1] }), 1), new Array(4).fill(4));
    expect(() => aggregateTokenMaps(captured, { levels: [2] })).toThrow(/no captured layer matches levels \[2\]/);
  });

  it('defaults to the latent size and computes only the requested tokens', () => {
    const m = aggregateTokenMaps(captured, { tokens: [1] });
    expect([m.height, m.width, m.tokens]).toEqual([2, 2, [1]]);
    expect(() => tokenMap(m, 0)).toThrow(/not aggregated/);
    expect(() => aggregateTokenMaps(captured, { tokens: [2] })).toThrow(/outside 0…1/);
  });
});

function fixedMaps(values: number[][]): TokenMaps {
  return { height: 1, width: 2, tokens: values.map((_, i) => i), maps: Float32Array.from(values.flat()), averaged: 1, steps: 1 };
}

describe('words and mass', () => {
  // Tokens: 0 BOS, 1 "a", 2-3 "bench" (two pieces), 4 EOS.
  const words = [{ text: 'a', tokenIndices: [1] }, { text: 'bench', tokenIndices: [2, 3] }];
  const before = fixedMaps([[9, 9], [1, 1], [2, 4], [4, 6], [5, 5]]);
  const after = fixedMaps([[9, 9], [3, 3], [1, 1], [1, 1], [5, 5]]);

  it('a word map is the mean of its sub-word tokens', () => {
    const [a, bench] = wordMaps(before, words);
    close(a.map, [1, 1]);
    close(bench.map, [3, 5]);
  });

  it('mass shares exclude BOS/EOS and sum to 1; the shift flags lost and gained words', () => {
    close(wordMassShares(before, words), [2 / 18, 16 / 18]);
    const shift = massShift(before, after, words);
    close(shift.map((s) => s.after), [6 / 10, 4 / 10]);
    expect(shift.map((s) => s.change)).toEqual(['gained', 'lost']);
    close([shift[1].delta], [4 / 10 - 16 / 18]);
  });
});

describe('display', () => {
  it('min-max per map, or one absolute scale shared by before and after', () => {
    expect(minMaxScale([2, 5, 3])).toEqual({ min: 2, max: 5 });
    expect(sharedScale([[1, 2], [0.5, 4]])).toEqual({ min: 0, max: 4 });
    close(normalize([2, 5, 3.5], { min: 2, max: 5 }), [0, 1, 0.5]);
    close(normalize([1, 2], { min: 0, max: 4 }), [0.25, 0.5]);
    close(normalize([7, 7], { min: 7, max: 7 }), [0, 0]);
  });

  it('the inferno colour map runs from near-black to pale yellow', () => {
    const lut = colorLut('inferno');
    expect([...lut.slice(0, 3)]).toEqual([0, 0, 4]); // d3: #000004
    expect([...lut.slice(255 * 3)]).toEqual([252, 255, 164]); // d3: #fcffa4
    expect(() => colorLut('jet' as never)).toThrow(/unknown colour map "jet"/);
  });

  it('overlay blends with the opacity: 0 leaves the image, 1 shows the colour of each scaled value', () => {
    const image = new Uint8ClampedArray([10, 20, 30, 255, 40, 50, 60, 255]);
    expect([...overlayHeatmap(image, 2, 1, [0, 1], 1, 2, { opacity: 0 })]).toEqual([...image]);
    const lut = colorLut('viridis');
    const full = overlayHeatmap(image, 2, 1, [0, 1], 1, 2, { opacity: 1, lut });
    expect([...full]).toEqual([lut[0], lut[1], lut[2], 255, lut[765], lut[766], lut[767], 255]);
    const half = overlayHeatmap(image, 2, 1, [0, 1], 1, 2, { opacity: 0.5, lut, scale: { min: 0, max: 2 } });
    const mid = Math.round(0.5 * 255) * 3;
    expect(Math.abs(half[4] - (0.5 * 40 + 0.5 * lut[mid]))).toBeLessThanOrEqual(0.5); // Uint8Clamped rounds half to even
    expect(() => overlayHeatmap(image, 2, 2, [0, 1], 1, 2)).toThrow(/expected RGBA 2×2/);
  });
});
