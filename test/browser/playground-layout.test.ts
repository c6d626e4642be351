/**
 * The page from a phone to a projector: nothing scrolls sideways on a 390 px phone, every control
 * keeps a label, and projector mode makes the text larger and survives a reload.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { launchChromium } from './chromium.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('layout', () => {
  it('fits a phone without sideways scrolling, and every form control has a name', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    await page.goto(inject('isolatedUrl'));
    await page.getByTestId('cap-webgpu').waitFor();
    await page.waitForTimeout(500);
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: window.innerWidth }));
    expect(widths.scroll).toBeLessThanOrEqual(widths.view);
    // Every input, select and button can be named by assistive technology.
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea, button')]
        .filter((el) => (el as HTMLElement).offsetParent !== null)
        .filter((el) => {
          const e = el as HTMLInputElement;
          const labelled = e.labels?.length || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || e.title;
          return !(labelled || (e.tagName === 'BUTTON' && e.textContent?.trim()));
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(unnamed).toEqual([]);
    // Download progress rows: the bar and the byte counts do not overlap.
    await page.getByTestId('grid-progress').or(page.locator('.files li')).first().waitFor({ timeout: 60_000 }).catch(() => {});
    const overlaps = await page.evaluate(() =>
      [...document.querySelectorAll('.files li')].filter((li) => {
        const bar = li.querySelector('progress')?.getBoundingClientRect();
        const text = li.querySelector('.muted')?.getBoundingClientRect();
        return bar && text && bar.right > text.left + 1 && bar.bottom > text.top + 1 && text.bottom > bar.top + 1;
      }).length,
    );
    expect(overlaps).toBe(0);
    mkdirSync('test/output/playground', { recursive: true });
    writeFileSync('test/output/playground/phone.png', await page.screenshot({ fullPage: false }));
    await context.close();
  });

  it('projector mode enlarges the text and is remembered', async () => {
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    const page = await context.newPage();
    await page.goto(inject('isolatedUrl'));
    await page.getByTestId('cap-webgpu').waitFor();
    const size = () => page.evaluate(() => parseFloat(getComputedStyle(document.querySelector('main') ?? document.body).fontSize));
    const before = await size();
    await page.getByLabel('Projector mode (large text)').check();
    expect(await size()).toBeGreaterThan(before * 1.15);
    await page.reload();
    await page.getByTestId('cap-webgpu').waitFor();
    expect(await page.getByLabel('Projector mode (large text)').isChecked()).toBe(true);
    expect(await size()).toBeGreaterThan(before * 1.15);
    await context.close();
  });
});
