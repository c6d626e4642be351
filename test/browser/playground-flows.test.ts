/**
 * The playground's real flows in Chromium with the built-in tiny model on WASM: load, erase,
 * compare, the image dialog, reload persistence, share-link round trip in a fresh context, a
 * lesson, embed mode in an iframe, and bad links. Each test opens the app with a share link made
 * by the codec in Node, carrying a small grid (few prompts, one seed, 2 unguided steps) so the
 * whole file stays within a few minutes on a shared CPU.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { launchChromium, recordConsole } from './chromium.ts';
import { decodePng } from './png.ts';
import { meanAbsDiff } from './page-helpers.ts';
import { encodeShareHash } from '../../src/app/share.ts';
import { defaultState, type PlaygroundState } from '../../src/app/state.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
  mkdirSync('test/output/playground', { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});

const small = (over: Partial<PlaygroundState> = {}): PlaygroundState => ({
  ...defaultState(),
  prompts: [
    { text: 'a photo of a car', relation: 'self' },
    { text: 'a photo of a bus', relation: 'neighbour' },
  ],
  seeds: [7],
  steps: 2,
  guidance: 1,
  engine: 'wasm',
  ...over,
});

async function open(url: string, context?: BrowserContext): Promise<{ page: Page; log: string[] }> {
  const ctx = context ?? (await browser.newContext({ viewport: { width: 1280, height: 900 } }));
  const page = await ctx.newPage();
  const log = recordConsole(page);
  await page.goto(url);
  return { page, log };
}

type Root = Page | Frame;

/** Wait until every grid cell is rendered; fail with the page log if one errors or time runs out. */
async function gridDone(root: Root, log: string[], cells: number, timeout = 150_000) {
  try {
    await root.getByTestId('grid-progress').filter({ hasText: `${cells} of ${cells} images` }).waitFor({ timeout });
  } catch {
    const errors = await root.locator('[data-testid=cell][data-state=error]').allTextContents();
    throw new Error(`grid did not finish: ${await root.getByTestId('grid-progress').textContent()}\n${errors.join('\n')}\n${log.join('\n')}`);
  }
  expect(await root.locator('[data-testid=cell][data-state=error]').count()).toBe(0);
}

/** RGBA of every rendered cell, keyed "prompt|seed|original/erased". */
async function cellPixels(root: Root): Promise<Record<string, number[]>> {
  return root.locator('[data-testid=cell][data-state=done]').evaluateAll((figs) =>
    Object.fromEntries(
      figs.map((f) => {
        const c = f.querySelector('canvas') as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const el = f as HTMLElement;
        return [`${el.dataset.prompt}|${el.dataset.seed}|${el.dataset.edited === 'true' ? 'erased' : 'original'}`, Array.from(d)];
      }),
    ),
  );
}

const std = (rgba: number[]) => {
  let s = 0, q = 0, n = 0;
  for (let i = 0; i < rgba.length; i += 4) for (let k = 0; k < 3; k++) (s += rgba[i + k]!), (q += rgba[i + k]! ** 2), n++;
  return Math.sqrt(q / n - (s / n) ** 2);
};

async function shot(page: Page, name: string, selector?: string) {
  const png = await page.screenshot({ fullPage: !selector, ...(selector ? { clip: (await page.locator(selector).first().boundingBox())! } : {}) });
  writeFileSync(`test/output/playground/${name}.png`, png);
  return decodePng(png);
}

describe('playground', () => {
  let first: Record<string, number[]>;
  let link: string;

  it('loads the model, applies an erasure instantly and fills the compare grid; the dialog shows the settings', async () => {
    const { page, log } = await open(`${inject('isolatedUrl')}#${await encodeShareHash(small())}`);
    await gridDone(page, log, 4);
    expect(await page.getByTestId('loaded-engine').textContent()).toMatch(/wasm/i);
    // The edit was applied with its diagnostics shown.
    const summary = await page.getByTestId('erase-summary').textContent();
    expect(summary).toMatch(/Applied in \d+ ms/);
    expect(summary).toMatch(/Rank of M − I\s*1/);
    first = await cellPixels(page);
    const car = (k: string) => first[`a photo of a car|7|${k}`]!;
    expect(Object.keys(first)).toHaveLength(4);
    for (const px of Object.values(first)) expect(std(px)).toBeGreaterThan(10);
    // Same seed and noise; only the edit differs: the erased concept's image changed.
    expect(meanAbsDiff(car('original'), car('erased'))).toBeGreaterThan(2);

    // The screenshot shows a grid of images (not flat) and the erase summary.
    const main = await shot(page, 'main');
    const box = (await page.getByTestId('compare-grid').locator('.rows').boundingBox())!;
    expect(main.crop(Math.round(box.x), Math.round(box.y), Math.round(box.width), Math.round(box.height)).std()).toBeGreaterThan(20);

    // A new edit: only the erased column re-renders; originals are kept as they were.
    await page.getByRole('button', { name: 'Remove car' }).click();
    const concepts = page.getByRole('textbox', { name: 'Concepts to erase' });
    await concepts.fill('bus');
    await concepts.press('Enter');
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    await page.getByRole('button', { name: 'Apply again' }).waitFor();
    expect(await page.getByTestId('grid-progress').textContent()).not.toMatch(/4 of 4/);
    await gridDone(page, log, 4);
    const second = await cellPixels(page);
    expect(meanAbsDiff(second['a photo of a car|7|original']!, car('original'))).toBe(0);
    expect(meanAbsDiff(second['a photo of a bus|7|erased']!, first['a photo of a bus|7|erased']!)).toBeGreaterThan(0.5);

    // Enlarge an image: the dialog names the prompt, seed and settings; Escape closes it.
    await page.getByRole('button', { name: /Enlarge: a photo of a car — seed 7 — erased/ }).click();
    const dialog = page.getByTestId('image-dialog');
    await dialog.getByTestId('dialog-erased').waitFor();
    const settings = await dialog.getByTestId('dialog-settings').textContent();
    expect(settings).toMatch(/Prompta photo of a car/);
    expect(settings).toMatch(/Seed7/);
    expect(settings).toMatch(/Steps · guidance2 · 1/);
    expect(settings).toMatch(/UCE erasing bus/);
    const d = await shot(page, 'dialog', '[data-testid=image-dialog]');
    expect(d.std()).toBeGreaterThan(20);
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.isVisible()).toBe(false);

    // Keep the link for the round trip (the copied link, as a user would paste it).
    await page.getByRole('button', { name: 'Copy link' }).click();
    link = await page.getByTestId('share-link').inputValue();
    expect(link).toMatch(/#v=1&s=[\w-]+$/);

    // Reload: the session (edit, prompts) and the images come back from storage, unchanged.
    await page.reload();
    await gridDone(page, log, 4, 60_000);
    expect(await page.getByRole('list', { name: 'Concepts to erase' }).textContent()).toMatch(/bus/);
    const restored = await cellPixels(page);
    for (const k of Object.keys(second)) expect(meanAbsDiff(restored[k]!, second[k]!), k).toBe(0);
    await page.context().close();
  });

  it('a copied link opened in a fresh browser context gives the same images, pixel for pixel', async () => {
    expect(link).toBeTruthy();
    const { page, log } = await open(link);
    await gridDone(page, log, 4);
    const again = await cellPixels(page);
    expect(Object.keys(again).sort()).toEqual(Object.keys(first).sort());
    expect(await page.getByRole('list', { name: 'Concepts to erase' }).textContent()).toMatch(/bus/);
    expect(meanAbsDiff(again['a photo of a car|7|original']!, first['a photo of a car|7|original']!)).toBe(0);
    // The link's hash is replaced by the page's own session once opened.
    expect(new URL(page.url()).hash).toBe('');
    await page.context().close();
  });

  it('a malformed or hostile link shows a message and runs nothing; an unknown Hub model asks first', async () => {
    const cases: [string, RegExp][] = [
      ['#v=1&s=%%%not-base64', /damaged/],
      [`#v=1&s=${deflateRawSync(Buffer.from(JSON.stringify({ ...small(), model: { kind: 'builtin', id: 'evil' } }))).toString('base64url')}`, /'model.id' must be one of/],
      ['#v=9&s=abc', /newer version/],
    ];
    const ctx = await browser.newContext();
    for (const [hash, message] of cases) {
      const { page } = await open(`${inject('isolatedUrl')}${hash}`, ctx);
      const alert = page.getByTestId('link-error');
      await alert.waitFor();
      expect(await alert.textContent()).toMatch(message);
      expect(await alert.textContent()).toMatch(/Nothing from it was run/);
      await page.waitForTimeout(1500);
      expect(await page.getByTestId('model-status').textContent()).toBe('');
      expect(await page.getByTestId('loaded-engine').count()).toBe(0);
      expect(await page.locator('[data-testid=cell][data-state=done]').count()).toBe(0);
      await page.close();
    }
    // Nothing was stored by any of them.
    const { page } = await open(inject('isolatedUrl') + '#v=1&s=%%');
    expect(await page.evaluate(async () => {
      const dir = (await navigator.storage.getDirectory()) as unknown as { keys(): AsyncIterator<string> };
      return (await dir.keys().next()).done;
    })).toBe(true);

    const hub = await encodeShareHash(small({ model: { kind: 'hub', repo: 'stranger/mystery-model', revision: 'main' } }));
    await page.close();
    const { page: hubPage } = await open(`${inject('isolatedUrl')}#${hub}`, ctx);
    const consent = hubPage.getByTestId('model-consent');
    await consent.waitFor();
    expect(await consent.textContent()).toMatch(/stranger\/mystery-model.*unknown source|unknown source[\s\S]*stranger\/mystery-model/);
    await hubPage.waitForTimeout(1000);
    expect(await hubPage.getByTestId('loaded-engine').count()).toBe(0);
    await ctx.close();
  });
});
