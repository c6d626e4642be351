import { afterAll, beforeAll, inject } from 'vitest';
import type { Page } from 'playwright-core';

/** Pixel statistics of the page's generated image (read back from the canvas). */
export interface ImageStats {
  width: number;
  height: number;
  /** Mean and standard deviation over R, G, B (0–255). */
  mean: number;
  std: number;
  /** Distinct RGB colours (capped count, for "not flat"). */
  distinct: number;
  rgba: number[];
}

export async function canvasStats(page: Page, testId = 'image'): Promise<ImageStats> {
  return page.getByTestId(testId).evaluate((el) => {
    const c = el as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    let sq = 0;
    let n = 0;
    const colours = new Set<number>();
    for (let i = 0; i < d.length; i += 4) {
      for (let k = 0; k < 3; k++) {
        sum += d[i + k]!;
        sq += d[i + k]! ** 2;
        n++;
      }
      if (colours.size < 5000) colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
    }
    const mean = sum / n;
    return { width: c.width, height: c.height, mean, std: Math.sqrt(sq / n - mean * mean), distinct: colours.size, rgba: Array.from(d) };
  });
}

/** Mean absolute difference of two RGBA arrays over RGB (0–255). */
export function meanAbsDiff(a: number[], b: number[]): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < a.length; i += 4) {
    for (let k = 0; k < 3; k++) {
      s += Math.abs(a[i + k]! - b[i + k]!);
      n++;
    }
  }
  return s / n;
}

/**
 * Open a harness page (test/browser/harness/NAME.html) on the app's origin and wait until it has
 * put its modules on `window.harness`. Returns the page and its console log.
 */
export async function openHarness(browser: import('playwright-core').Browser, appUrl: string, name: string): Promise<{ page: Page; log: string[] }> {
  const { recordConsole } = await import('./chromium.ts');
  const page = await browser.newPage();
  const log = recordConsole(page);
  await page.goto(`${appUrl}test/browser/harness/${name}.html`);
  await page.waitForFunction(() => (window as unknown as { harnessReady?: boolean }).harnessReady === true);
  return { page, log };
}

/**
 * For a test file that drives one harness page: launches Chromium (with `flags`) before the
 * file's tests, opens test/browser/harness/<name>.html on the isolated server, closes it after.
 * Read `page` and `log` inside tests (they are set in beforeAll).
 */
export function useHarness(name: string, flags: string[] = []): { page: Page; log: string[] } {
  const opened = { page: undefined as unknown as Page, log: [] as string[] };
  let browser: import('playwright-core').Browser | undefined;
  beforeAll(async () => {
    const { launchChromium } = await import('./chromium.ts');
    browser = await launchChromium(flags);
    Object.assign(opened, await openHarness(browser, inject('isolatedUrl'), name));
  });
  afterAll(async () => {
    await browser?.close();
  });
  return opened;
}
