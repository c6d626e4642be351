/**
 * A UNet exported with packed-KV MultiHeadAttention (ORT's fusion for WebGPU) runs on no
 * onnxruntime-web 1.30 engine as it is ("Packed KV not implemented for CPU" / "…for webgpu"), so the
 * app unpacks it on load: it then runs on WASM and on WebGPU (SwiftShader here) and draws the same
 * picture as the plain export of the same weights.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { join } from 'node:path';
import { writePipeline } from '../../tools/sdgen/index.ts';
import { launchChromium } from './chromium.ts';
import { meanAbsDiff, openHarness } from './page-helpers.ts';

let browser: Browser;
let page: Page;
let log: string[];

beforeAll(async () => {
  // Same seed and size as the built-in tiny model: same weights, another export style.
  writePipeline(join(inject('distDir'), 'models-test/tiny-packed'), { size: 'tiny', style: 'fused-packed-kv', seed: 0, latentSize: 32 });
  browser = await launchChromium();
  ({ page, log } = await openHarness(browser, inject('isolatedUrl'), 'worker'));
});
afterAll(async () => {
  await browser?.close();
});

type Harness = { harness: { api: any; getManifest: (id: string) => any; generatePixels: (r: object) => Promise<{ rgba: number[]; provider: string }>; baseUrl: string } };

describe('packed-KV export', () => {
  it('is unpacked on load and matches the plain export on WASM and on WebGPU', async () => {
    const outcome = await page.evaluate(async () => {
      const { api, getManifest, generatePixels, baseUrl } = (window as unknown as Harness).harness;
      const packed = { ...getManifest('tiny'), id: 'tiny-packed', label: 'tiny packed KV', source: { kind: 'builtin', path: 'models-test/tiny-packed/' } };
      await api.download({ manifest: packed, baseUrl });
      const request = { prompt: 'a photo of a red car', seed: 7, steps: 1, guidance: 1 };
      await api.load({ manifest: packed, baseUrl, preference: 'wasm' });
      const wasm = await generatePixels(request);
      const gpuLoad = await api.load({ manifest: packed, baseUrl, preference: 'webgpu' });
      const gpu = await generatePixels(request);

      const plain = getManifest('tiny');
      await api.download({ manifest: plain, baseUrl });
      await api.load({ manifest: plain, baseUrl, preference: 'wasm' });
      const cpu = await generatePixels(request);
      return { wasm, gpu, cpu, gpuReason: gpuLoad.reason as string };
    });
    expect(outcome.wasm.provider).toBe('wasm');
    expect(outcome.gpu.provider).toBe('webgpu');
    // Unpacked packed-KV vs plain, same engine: the same arithmetic up to MHA's summation order.
    expect(meanAbsDiff(outcome.wasm.rgba, outcome.cpu.rgba), log.join('\n')).toBeLessThan(0.5);
    // On WebGPU it runs and draws a picture. It is NOT compared with the plain export: ORT-web
    // 1.30's WebGPU MultiHeadAttention is wrong on SwiftShader (subgroup size 4) for head sizes
    // divisible by 4 and 32+ queries (test/browser/mha-engines.test.ts; README, "Known issues").
    // The load-time probe catches it and, WebGPU being forced here, warns instead of switching.
    expect(outcome.gpuReason).toMatch(/You chose WebGPU.*Warning: onnxruntime-web's WebGPU MultiHeadAttention gives wrong results on this adapter/);
    const spread = Math.sqrt(outcome.gpu.rgba.reduce((s, x, i) => (i % 4 === 3 ? s : s + (x - 128) ** 2), 0) / (outcome.gpu.rgba.length * 0.75));
    expect(spread).toBeGreaterThan(10);
  });
});
