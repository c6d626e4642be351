/**
 * Attention maps in the playground's image dialog, in Chromium with the built-in tiny model on
 * WASM: open a cell, ask for attention maps, and the pair is rendered again with capture. What is
 * checked: the prompt's words appear as chips, choosing one changes the overlay, the overlay of a
 * word is not flat, at opacity 0 each panel is exactly the grid's image (capturing does not change
 * the picture, and it is the same seed), and the mass table lists every word before and after.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
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

const state: PlaygroundState = {
  ...defaultState(),
  prompts: [{ text: 'a photo of a red car', relation: 'composition' }],
  seeds: [11],
  steps: 2,
  guidance: 1,
  engine: 'wasm',
};

/** RGBA of a canvas. */
const pixels = (page: Page, selector: string, i = 0) =>
  page.locator(selector).nth(i).evaluate((c: HTMLCanvasElement) => Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data));

const std = (rgba: number[]) => {
  let s = 0, q = 0, n = 0;
  for (let i = 0; i < rgba.length; i += 4) for (let k = 0; k < 3; k++) (s += rgba[i + k]!), (q += rgba[i + k]! ** 2), n++;
  return Math.sqrt(q / n - (s / n) ** 2);
};

describe('attention maps in the image dialog', () => {
  it('renders the pair again with capture and shows chips, overlays and where the mass went', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
    const log = recordConsole(page);
    await page.goto(`${inject('isolatedUrl')}#${await encodeShareHash(state)}`);
    await page.getByTestId('grid-progress').filter({ hasText: '2 of 2 images' }).waitFor({ timeout: 150_000 }).catch(() => {
      throw new Error(`grid did not finish\n${log.join('\n')}`);
    });
    const grid = {
      original: await pixels(page, '[data-testid=cell][data-edited=false] canvas'),
      erased: await pixels(page, '[data-testid=cell][data-edited=true] canvas'),
    };

    await page.getByRole('button', { name: /Enlarge: a photo of a red car — seed 11 — erased/ }).click();
    const dialog = page.getByTestId('image-dialog');
    await dialog.getByRole('button', { name: 'Show attention maps' }).click();
    await dialog.getByTestId('attention-view').waitFor({ timeout: 120_000 }).catch(async () => {
      throw new Error(`no attention view: ${await dialog.textContent()}\n${log.join('\n')}`);
    });

    // Chips: the prompt's words, as buttons (the first chosen).
    const chips = dialog.getByTestId('attention-chip');
    expect(await chips.allTextContents()).toEqual(['a', 'photo', 'of', 'a', 'red', 'car']);
    expect(await dialog.getByRole('toolbar', { name: 'Words of the prompt' }).getByRole('button').count()).toBe(6);

    // Two panels, original and erased.
    const canvases = dialog.getByTestId('attention-canvas');
    expect(await canvases.count()).toBe(2);
    const firstWord = await pixels(page, '[data-testid=image-dialog] [data-testid=attention-canvas]', 0);
    await chips.nth(5).click(); // "car"
    expect(await chips.nth(5).getAttribute('aria-pressed')).toBe('true');
    const car = await pixels(page, '[data-testid=image-dialog] [data-testid=attention-canvas]', 0);
    expect(meanAbsDiff(car, firstWord)).toBeGreaterThan(0.5); // another word, another overlay

    // At opacity 0 the panels are the grid's own images: same seed, capture changes nothing.
    const opacity = dialog.getByRole('slider', { name: /Opacity/ });
    await opacity.fill('0');
    expect(meanAbsDiff(await pixels(page, '[data-testid=image-dialog] [data-testid=attention-canvas]', 0), grid.original)).toBeLessThan(0.01);
    expect(meanAbsDiff(await pixels(page, '[data-testid=image-dialog] [data-testid=attention-canvas]', 1), grid.erased)).toBeLessThan(0.01);
    // At full opacity the panel is the heat map alone: it is not flat (the map has structure).
    await opacity.fill('1');
    const heat = await pixels(page, '[data-testid=image-dialog] [data-testid=attention-canvas]', 0);
    expect(std(heat)).toBeGreaterThan(5);
    expect(meanAbsDiff(heat, grid.original)).toBeGreaterThan(5);

    // The mass table: every word, before and after, as percentages.
    const rows = dialog.getByTestId('attention-mass-row');
    expect(await rows.count()).toBe(6);
    const texts = await rows.allTextContents();
    ['a', 'photo', 'of', 'a', 'red', 'car'].forEach((w, i) => expect(texts[i]).toMatch(new RegExp(`^${w}\\s*\\d+\\.\\d%\\s*\\d+\\.\\d%\\s*[+−]\\d+\\.\\d%`)));
    const before = texts.map((t) => Number(t.match(/(\d+\.\d)%/)![1]));
    expect(before.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 0);

    // The screenshot of the overlay region shows structure, not a flat field.
    await opacity.fill('0.6');
    const box = (await canvases.first().boundingBox())!;
    const png = await page.screenshot({ clip: box });
    writeFileSync('test/output/playground/attention-dialog.png', await page.getByTestId('image-dialog').screenshot());
    expect((await decodePng(png)).std()).toBeGreaterThan(5);

    // Keyboard: arrow keys move between the chips.
    await chips.nth(5).focus();
    await page.keyboard.press('ArrowLeft');
    expect(await chips.nth(4).getAttribute('aria-pressed')).toBe('true');
    expect(log.filter((l) => l.startsWith('[pageerror]'))).toEqual([]);
    await page.context().close();
  });
});
