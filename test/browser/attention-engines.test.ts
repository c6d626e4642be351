/**
 * Attention maps captured by the diffusion worker during generation: on WASM (Q read back, summed
 * in TypeScript) and on WebGPU (Q kept on the GPU as gpu-buffer outputs, summed by the WGSL
 * kernels on ORT's own device) — the same maps from the same model, seed and prompt.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './chromium.ts';
import { openHarness } from './page-helpers.ts';

let browser: Browser;
let page: Page;
let log: string[];

beforeAll(async () => {
  browser = await launchChromium();
  ({ page, log } = await openHarness(browser, inject('isolatedUrl'), 'worker'));
});
afterAll(async () => {
  await browser?.close();
});

describe('attention capture in the worker', () => {
  it('gives the same per-word maps on WASM and on WebGPU', async () => {
    const out = await page.evaluate(async () => {
      const { api, getManifest, baseUrl } = (window as any).harness;
      const manifest = getManifest('tiny');
      await api.download({ manifest, baseUrl });
      const request = { prompt: 'a red car', seed: 3, steps: 1, guidance: 1, attention: true };
      const run = async (preference: string) => {
        await api.load({ manifest, baseUrl, preference });
        const r = await api.generate(request);
        return { provider: r.provider, words: r.attention.words.map((w: any) => w.text), tokens: r.attention.maps.tokens, h: r.attention.maps.height, maps: Array.from(r.attention.maps.maps as Float32Array) };
      };
      return { cpu: await run('wasm'), gpu: await run('webgpu') };
    });
    expect(out.cpu.provider).toBe('wasm');
    expect(out.gpu.provider).toBe('webgpu');
    expect(out.gpu.words).toEqual(['a', 'red', 'car']);
    expect(out.gpu.tokens).toEqual(out.cpu.tokens);
    expect(out.gpu.h).toBe(32);
    const scale = Math.max(...out.cpu.maps);
    const worst = Math.max(...out.cpu.maps.map((x, i) => Math.abs(x - out.gpu.maps[i]!)));
    expect(scale).toBeGreaterThan(0);
    expect(worst / scale, log.join('\n')).toBeLessThan(1e-3);
  });
});
