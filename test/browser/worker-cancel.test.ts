/**
 * A cancel reaches a running generation on WASM: onnxruntime-web's WASM runs resolve through
 * microtasks only, so the worker must yield to its event loop between steps for the message to
 * arrive before the image is finished.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './chromium.ts';
import { openHarness } from './page-helpers.ts';

let browser: Browser;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium();
  ({ page } = await openHarness(browser, inject('isolatedUrl'), 'worker'));
});
afterAll(async () => {
  await browser?.close();
});

describe('cancelling a generation', () => {
  it('stops a running WASM generation within a step', async () => {
    const out = await page.evaluate(async () => {
      const { api, getManifest, baseUrl, Comlink } = (window as any).harness;
      const manifest = getManifest('tiny');
      await api.download({ manifest, baseUrl });
      await api.load({ manifest, baseUrl, preference: 'wasm' });
      let steps = 0;
      let cancelledAt = 0;
      const running = api.generate(
        { prompt: 'a photo of a red car', seed: 1, steps: 40, guidance: 5 },
        Comlink.proxy((p: { step: number }) => {
          steps = p.step;
          if (p.step === 2 && !cancelledAt) {
            cancelledAt = p.step;
            void api.cancel();
          }
        }),
      );
      try {
        await running;
        return { error: '', steps };
      } catch (e) {
        return { error: (e as Error).name + ': ' + (e as Error).message, steps };
      }
    });
    expect(out.error).toMatch(/Generation cancelled/);
    expect(out.steps).toBeLessThan(6);
  });
});
