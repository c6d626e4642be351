/**
 * The WGSL kernels (shaders/) in real Chromium on its SwiftShader WebGPU adapter, against the
 * TypeScript reference (src/lib/attention) computed here in Node. Tolerance: 1e-5 absolute on
 * probability sums ≤ 2 and on aggregated maps (float32 exp and summation order only).
 *
 * (Node + Dawn, the `webgpu` package, was tried first: with Chromium's SwiftShader ICD it
 * crashes at random in this environment, even on trivial compute shaders.)
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, recordConsole } from './chromium.ts';
import { accumulateProbabilities, aggregateTokenMaps, keysPerHeadTransposed, type AttentionMaps } from '../../src/lib/attention/index.ts';
import { floatToHalf, halfToFloat } from '../../src/lib/onnx/index.ts';
import { maxAbsDiff, randomValues } from '../unit/onnx-helpers.ts';

const TOLERANCE = 1e-5;
type H = any; // window.harness inside page.evaluate
let browser: Browser;
let page: Page;
let consoleLines: string[];

beforeAll(async () => {
  browser = await launchChromium();
  page = await browser.newPage();
  consoleLines = recordConsole(page);
  await page.goto(inject('isolatedUrl') + 'test/browser/harness/attention.html');
  await page.waitForFunction(() => (window as any).harnessReady === true);
});
afterAll(async () => {
  await browser?.close();
});

const run = <T>(name: 'runProbs' | 'runAggregate', arg: unknown) =>
  page.evaluate(([n, a]) => ((window as any).harness as H)[n](a), [name, arg] as const).catch((e: Error) => {
    throw new Error(`${e.message}\nconsole:\n${consoleLines.join('\n')}`);
  }) as Promise<T>;

describe('attention-probs kernel vs accumulateProbabilities', () => {
  for (const [heads, headSize, pixels] of [[8, 4, 256], [8, 160, 32], [5, 64, 37]]) {
    it(`f32 Q, ${heads} heads × ${headSize}, ${pixels} pixels, two steps on batch index 1`, async () => {
      const tokens = 77;
      const shape = { heads, headSize, pixels, tokens };
      const inner = heads * headSize;
      const kT = keysPerHeadTransposed(randomValues(tokens * inner, 7, 2), shape);
      const expected = new Float32Array(heads * pixels * tokens);
      const steps = [0, 1].map((step) => {
        const q = randomValues(2 * pixels * inner, 20 + step, 2);
        accumulateProbabilities(expected, q, pixels * inner, kT, shape);
        return { q: Array.from(q), qOffset: pixels * inner };
      });
      const got = await run<number[]>('runProbs', { ...shape, kT: Array.from(kT), steps, format: 'f32' });
      expect(maxAbsDiff(got, expected)).toBeLessThan(TOLERANCE);
      expect(got.reduce((a, v) => Math.max(a, v), 0)).toBeGreaterThan(0.1); // a peaked, non-empty result
    });
  }

  it('f16 Q (packed halves read with unpack2x16float, odd element offset)', async () => {
    const [heads, headSize, pixels, tokens] = [8, 8, 64, 77];
    const shape = { heads, headSize, pixels, tokens };
    const inner = heads * headSize;
    const kT = keysPerHeadTransposed(randomValues(tokens * inner, 3, 2), shape);
    const halves = Array.from(randomValues(1 + 2 * pixels * inner, 9, 2), (v) => floatToHalf(v)); // one leading element: odd offset
    const expected = new Float32Array(heads * pixels * tokens);
    accumulateProbabilities(expected, Float32Array.from(halves, (h) => halfToFloat(h)), 1 + pixels * inner, kT, shape);
    const got = await run<number[]>('runProbs', { ...shape, kT: Array.from(kT), steps: [{ q: halves, qOffset: 1 + pixels * inner }], format: 'f16' });
    expect(maxAbsDiff(got, expected)).toBeLessThan(TOLERANCE);
  });
});

describe('attention-aggregate kernel vs aggregateTokenMaps', () => {
  it('upsample, clamp at 0 and mean over layers × heads (all heads, and a subset)', async () => {
    const tokens = 77;
    const captured: AttentionMaps = { latentHeight: 16, latentWidth: 16, tokens, steps: [0], layers: [] };
    [16, 8, 4].forEach((g, level) => {
      // Signed values so that the clamp matters.
      captured.layers.push({ name: `layer${level}`, level, heads: 8, height: g, width: g, sums: randomValues(8 * g * g * tokens, 40 + level, 1) });
    });
    const layers = captured.layers.map((l) => ({ heads: l.heads, height: l.height, width: l.width, tokens, sums: Array.from(l.sums) }));
    const pick = [0, 1, 5, 76];
    for (const heads of [undefined, [2, 7]]) {
      const ref = aggregateTokenMaps(captured, { tokens: pick, height: 24, width: 24, heads });
      const got = await run<number[]>('runAggregate', { layers, tokens: pick, outH: 24, outW: 24, heads });
      expect(maxAbsDiff(got, ref.maps)).toBeLessThan(TOLERANCE);
      expect(ref.maps.reduce((a, v) => Math.max(a, v), 0)).toBeGreaterThan(0.01);
    }
  });
});
