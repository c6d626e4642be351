import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { decodePng } from './png.ts';
import { launchChromium, recordConsole } from './chromium.ts';
import { canvasStats, meanAbsDiff } from './page-helpers.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { encodeShareHash } from '../../src/app/share.ts';
import { defaultState } from '../../src/app/state.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

async function openApp(url: string): Promise<{ page: Page; log: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const log = recordConsole(page);
  // The playground opens with a one-image grid, so its own worker barely competes with the engine check.
  const quiet = await encodeShareHash({ ...defaultState(), prompts: [{ text: 'a photo of a car', relation: 'self' }], seeds: [1], steps: 1, guidance: 1, engine: 'wasm' });
  await page.goto(`${url}#${quiet}`);
  await page.getByTestId('cap-webgpu').waitFor();
  return { page, log };
}

async function generateWith(page: Page, engine: 'wasm' | 'webgpu', log: string[], steps = 4, guidance = 7.5) {
  // The engine check (its own worker) inside the playground page.
  const check = page.getByTestId('tiny-generator');
  await check.getByLabel('Engine').selectOption(engine);
  await check.getByLabel('Seed').fill('7');
  await check.getByLabel('Steps').fill(String(steps));
  await check.getByLabel('Guidance').fill(String(guidance));
  await check.getByRole('button', { name: 'Generate' }).click();
  try {
    await page.getByTestId('status').filter({ hasText: /in \d+ ms on/ }).waitFor({ timeout: 240_000 });
  } catch (e) {
    const err = await page.getByTestId('error').textContent().catch(() => '');
    throw new Error(`generation on ${engine} did not finish: ${err}\n${log.join('\n')}`);
  }
  return canvasStats(page);
}

describe('app shell', () => {
  it('reports WebGPU (SwiftShader, no shader-f16) and isolation from server headers', async () => {
    const { page } = await openApp(inject('isolatedUrl'));
    await expect.poll(() => page.getByTestId('cap-webgpu').textContent()).toMatch(/available[\s\S]*swiftshader/i);
    expect(await page.getByTestId('cap-f16').textContent()).toMatch(/no/);
    expect(await page.getByTestId('cap-isolated').textContent()).toMatch(/yes \(via server headers\)/);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await page.context().close();
  });

  it('becomes cross-origin isolated through its service worker on a host without headers', async () => {
    const { page } = await openApp(inject('plainUrl'));
    await expect.poll(() => page.evaluate(() => crossOriginIsolated), { timeout: 30_000 }).toBe(true);
    await page.getByTestId('cap-isolated').filter({ hasText: 'service worker' }).waitFor({ timeout: 30_000 });
    await page.context().close();
  });

  it('runs the built-in tiny model in a worker on WASM and on WebGPU, same seed → same picture', async () => {
    const { page, log } = await openApp(inject('isolatedUrl'));
    const wasm = await generateWith(page, 'wasm', log);
    expect(await page.getByTestId('engine-reason').textContent()).toMatch(/wasm.*You chose WASM/i);
    expect(wasm.width).toBe(256);
    expect(wasm.height).toBe(256);
    // An image, not a blank or a flat colour: noise from random weights has spread.
    expect(wasm.std).toBeGreaterThan(10);
    expect(wasm.distinct).toBeGreaterThan(1000);

    const again = await generateWith(page, 'wasm', log);
    expect(meanAbsDiff(again.rgba, wasm.rgba)).toBe(0);

    // SwiftShader compiles every shader on first use (about two minutes for this pipeline), so
    // the cross-engine comparison uses one unguided step: the same graphs, fewer dispatches.
    const wasmOneStep = await generateWith(page, 'wasm', log, 1, 1);
    const gpu = await generateWith(page, 'webgpu', log, 1, 1);
    expect(await page.getByTestId('engine-reason').textContent()).toMatch(/webgpu/i);
    expect(await page.getByTestId('status').textContent()).toMatch(/on webgpu/);
    expect(gpu.std).toBeGreaterThan(10);
    // Same model, seed and noise on another engine: equal up to float rounding.
    expect(meanAbsDiff(gpu.rgba, wasmOneStep.rgba)).toBeLessThan(2);
    expect(meanAbsDiff(wasmOneStep.rgba, wasm.rgba)).toBeGreaterThan(5);

    // The screenshot shows the page as a person sees it: title, capabilities and the image.
    mkdirSync('test/output', { recursive: true });
    const shot = await page.screenshot({ fullPage: true });
    writeFileSync('test/output/app-shell.png', shot);
    const png = await decodePng(shot);
    const box = (await page.getByTestId('image').boundingBox())!;
    const region = png.crop(Math.round(box.x), Math.round(box.y), Math.round(box.width), Math.round(box.height));
    expect(region.std()).toBeGreaterThan(10);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Erasure Lab');
    await page.context().close();
  });
});
