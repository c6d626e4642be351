/**
 * AttentionView in real Chromium with hand-made maps whose answers are known: word chips are
 * keyboard-accessible buttons; the chosen word's map is blended over the image (its hot corner
 * ends up brightest); absolute scale makes a weaker "after" map darker than its own min-max
 * would; the mass table flags the word that lost attention and the one that gained it.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, recordConsole } from './chromium.ts';

let browser: Browser;
let page: Page;
let consoleLines: string[];
const N = 8; // image and map size

/** A token map [N, N] that is 1 in one quadrant (qx, qy) and 0 elsewhere, times `k`. */
function quadrant(qx: number, qy: number, k: number): number[] {
  return Array.from({ length: N * N }, (_, i) => (Math.floor((i % N) / (N / 2)) === qx && Math.floor(i / N / (N / 2)) === qy ? k : 0));
}

// Tokens: 0 BOS, 1 "red", 2 "car", 3 EOS. Before: "car" strong top-left, "red" weak bottom-right.
// After: "car" much weaker (same place), "red" moved to the top-left and stronger.
const words = [{ text: 'red', tokenIndices: [1] }, { text: 'car', tokenIndices: [2] }];
const maps = (red: number[], car: number[]) => ({ height: N, width: N, tokens: [0, 1, 2, 3], maps: [...new Array(N * N).fill(5), ...red, ...car, ...new Array(N * N).fill(1)], averaged: 1, steps: 1 });
const grey = { width: N, height: N, rgba: Array.from({ length: N * N * 4 }, (_, i) => (i % 4 === 3 ? 255 : 128)) };
const panels = [
  { label: 'Original', image: grey, maps: maps(quadrant(1, 1, 0.2), quadrant(0, 0, 1)) },
  { label: 'Erased', image: grey, maps: maps(quadrant(0, 0, 0.6), quadrant(0, 0, 0.1)) },
];

beforeAll(async () => {
  browser = await launchChromium();
  page = await browser.newPage();
  consoleLines = recordConsole(page);
  await page.goto(inject('isolatedUrl') + 'test/browser/harness/attention.html');
  await page.waitForFunction(() => (window as any).harnessReady === true);
  await page.evaluate((p) => (window as any).harness.mountView(p), { words, panels });
});
afterAll(async () => {
  await browser?.close();
});

/** Mean RGB brightness of a quadrant of the i-th canvas. */
const brightness = (i: number, qx: number, qy: number) =>
  page.getByTestId('attention-canvas').nth(i).evaluate((c: HTMLCanvasElement, [qx, qy, n]) => {
    const d = c.getContext('2d')!.getImageData((qx * n) / 2, (qy * n) / 2, n / 2, n / 2).data;
    let s = 0;
    for (let k = 0; k < d.length; k += 4) s += d[k] + d[k + 1] + d[k + 2];
    return s / (d.length / 4) / 3;
  }, [qx, qy, N] as const);

describe('AttentionView', () => {
  it('shows the words as buttons and overlays the chosen word where it attends', async () => {
    const chips = page.getByTestId('attention-chip');
    expect(await chips.allTextContents()).toEqual(['red', 'car']);
    expect(await chips.first().getAttribute('aria-pressed')).toBe('true');
    // "red" in the original attends bottom-right.
    expect(await brightness(0, 1, 1)).toBeGreaterThan((await brightness(0, 0, 0)) + 40);
    await chips.nth(1).click();
    expect(await chips.nth(1).getAttribute('aria-pressed')).toBe('true');
    expect(await brightness(0, 0, 0)).toBeGreaterThan((await brightness(0, 1, 1)) + 40);
    // (The harness page has no favicon: Chromium logs its 404 as an error; that one is not ours.)
    expect(consoleLines.filter((l) => (l.startsWith('[error]') && !l.includes('Failed to load resource')) || l.startsWith('[pageerror]'))).toEqual([]);
  });

  it('moves between chips with the arrow keys', async () => {
    await page.getByTestId('attention-chip').nth(1).focus();
    await page.keyboard.press('ArrowRight'); // wraps to the first
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('red');
    expect(await page.getByTestId('attention-chip').first().getAttribute('aria-pressed')).toBe('true');
  });

  it('absolute scale: the weaker "after" map of "car" is darker than with its own min-max', async () => {
    await page.getByTestId('attention-chip').nth(1).click();
    const toggle = page.getByRole('checkbox', { name: /same scale/i });
    expect(await toggle.isChecked()).toBe(true);
    const shared = await brightness(1, 0, 0);
    await toggle.uncheck();
    const own = await brightness(1, 0, 0);
    expect(own).toBeGreaterThan(shared + 30);
    await toggle.check();
  });

  it('the mass table flags the word that lost attention and the one that gained it', async () => {
    const rows = page.getByTestId('attention-mass-row');
    expect(await rows.count()).toBe(2);
    // Shares over the word tokens: before red 0.2·16 / (0.2·16 + 16) = 1/6, after 0.6/0.7.
    expect(await rows.nth(0).textContent()).toMatch(/red\s*16\.7%\s*85\.7%\s*\+69\.0% gained/);
    expect(await rows.nth(1).getAttribute('class')).toMatch(/lost/);
  });
});
