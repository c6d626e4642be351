/**
 * The classroom and the blog-post embed, in Chromium with the built-in tiny model on WASM: a
 * lesson from its first step to the end (one click sets edit, prompts and seeds; a step changes
 * the edit), and the embed widget inside an iframe of another page, from the "copy embed code"
 * snippet.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { launchChromium, recordConsole } from './chromium.ts';
import { decodePng } from './png.ts';
import { encodeShareHash } from '../../src/app/share.ts';
import { defaultState } from '../../src/app/state.ts';
import { getLesson } from '../../src/app/lessons.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
  mkdirSync('test/output/playground', { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});

/** One prompt, one seed, one unguided step: the cheapest grid. */
const tinyLink = async (prompts = [{ text: 'a photo of a car', relation: 'self' as const }]) =>
  `#${await encodeShareHash({ ...defaultState(), prompts, seeds: [3], steps: 1, guidance: 1, engine: 'wasm' })}`;

describe('classroom', () => {
  it('runs the Van Gogh lesson from start to end: setup, explanations, a step that changes the edit', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const log = recordConsole(page);
    await page.goto(inject('isolatedUrl') + (await tinyLink()));
    await page.getByTestId('loaded-engine').waitFor({ timeout: 120_000 });

    const lesson = getLesson('van-gogh');
    await page.getByRole('button', { name: `Start lesson: ${lesson.title}` }).click();
    const title = page.getByTestId('lesson-step-title');
    await expect.poll(() => title.textContent()).toBe(lesson.steps[0]!.title);
    // One click set the prompts, seeds and the edit (artists map to 'art').
    await expect.poll(() => page.getByTestId('grid-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.prompt))).toEqual(lesson.prompts.map((p) => p.text));
    await expect.poll(() => page.getByRole('textbox', { name: 'Target' }).inputValue()).toBe('art');
    expect(await page.getByRole('list', { name: 'Concepts to erase' }).textContent()).toMatch(/Van Gogh/);
    await page.getByTestId('erase-summary').filter({ hasText: /Applied in \d+ ms/ }).waitFor();
    const focused = () => page.locator('[data-testid=grid-row].focus').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.prompt));

    for (let i = 1; i < lesson.steps.length; i++) {
      await page.getByRole('button', { name: 'Next' }).click();
      await expect.poll(() => title.textContent()).toBe(lesson.steps[i]!.title);
      expect(await page.getByTestId('lesson-step-text').textContent()).toBe(lesson.steps[i]!.text);
      expect(await focused()).toEqual(lesson.steps[i]!.focus ?? []);
    }
    // The last step also preserves Monet and Picasso: the edit was recomputed with them.
    const preserve = page.getByRole('list', { name: 'Concepts to preserve' });
    await expect.poll(() => preserve.textContent(), { timeout: 30_000 }).toMatch(/Monet.*Picasso/);
    await expect.poll(() => page.getByTestId('erase-summary').textContent()).toMatch(/Preserved vectors moved/);
    expect(await page.getByRole('button', { name: 'Next' }).count()).toBe(0);

    // The projector view of this step: large text, the explanation readable, images arriving.
    await page.getByLabel('Projector mode (large text)').check();
    expect(await page.evaluate(() => getComputedStyle(document.documentElement).fontSize)).toBe('22px');
    await page.locator('[data-testid=cell][data-state=done]').first().waitFor({ timeout: 120_000 });
    writeFileSync('test/output/playground/lesson-projector.png', await page.screenshot({ fullPage: true }));
    const panel = await decodePng(await page.getByTestId('lesson-panel').screenshot());
    expect(panel.std()).toBeGreaterThan(10); // text on a card, not a blank box
    expect(await page.getByTestId('lesson-panel').textContent()).toContain(lesson.steps.at(-1)!.text);

    // Back undoes the step's edit; Finish returns to the lesson list.
    await page.getByRole('button', { name: 'Back' }).click();
    await expect.poll(() => preserve.textContent(), { timeout: 30_000 }).not.toMatch(/Monet/);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Finish lesson' }).click();
    await page.getByRole('button', { name: /Start lesson: Erase “car”/ }).waitFor();
    expect(log.filter((l) => l.startsWith('[pageerror]'))).toEqual([]);
    await context.close();
  });
});

describe('embed', () => {
  it('the copied embed code shows a compact erase-and-compare widget inside another page', async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    // The full page makes the snippet.
    const full = await context.newPage();
    await full.goto(inject('plainUrl') + (await tinyLink()));
    await full.getByRole('button', { name: 'Copy embed code' }).click();
    const snippet = await full.getByTestId('embed-code').inputValue();
    await full.close();
    const src = /<iframe src="([^"]+)"/.exec(snippet)![1]!.replace(/&amp;/g, '&');
    expect(src).toMatch(/\?embed#v=1&s=/);
    expect(snippet).toMatch(/width="720" height="560"/);

    // A blog post on another origin embeds it.
    const html = `<!doctype html><title>Blog</title><h1>My post about concept erasure</h1><p>Try it:</p>${snippet}`;
    const server = createServer((_, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(html));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as AddressInfo).port;

    // On another site, this Chromium refuses storage to the embedded page: the worker keeps the
    // model in memory for the visit instead, and the widget still runs.
    const thirdParty = await context.newPage();
    const thirdLog = recordConsole(thirdParty);
    await thirdParty.goto(`http://localhost:${port}/post.html`);
    const third = thirdParty.frameLocator('iframe');
    await third.getByTestId('embed-widget').waitFor({ timeout: 60_000 });
    try {
      await third.getByTestId('grid-progress').filter({ hasText: '2 of 2 images' }).waitFor({ timeout: 150_000 });
    } catch {
      throw new Error(`cross-site embed did not fill its grid: ${await third.locator('body').innerText()}\n${thirdLog.join('\n')}`);
    }
    await thirdParty.close();

    // On the same site (another port), storage is allowed and the widget runs.
    const blog = await context.newPage();
    const log = recordConsole(blog);
    await blog.goto(`http://127.0.0.1:${port}/post.html`);
    const frame = blog.frameLocator('iframe');
    await frame.getByTestId('embed-widget').waitFor({ timeout: 60_000 });
    try {
      await frame.getByTestId('grid-progress').filter({ hasText: '2 of 2 images' }).waitFor({ timeout: 150_000 });
    } catch {
      throw new Error(`embed grid did not fill: ${await frame.getByTestId('grid-progress').textContent()}\n${log.join('\n')}`);
    }
    // Compact: no full-page panels, and nothing wider than the iframe.
    expect(await frame.getByTestId('model-panel').count()).toBe(0);
    expect(await frame.getByTestId('share-panel').count()).toBe(0);
    expect(await frame.locator('html').evaluate((h) => h.scrollWidth <= window.innerWidth)).toBe(true);

    // Erase something else from inside the widget: the erased image is rendered again.
    await frame.getByRole('button', { name: 'Remove car' }).click();
    const concepts = frame.getByRole('textbox', { name: 'Concepts to erase' });
    await concepts.fill('photo');
    await concepts.press('Enter');
    await frame.getByRole('button', { name: 'Apply', exact: true }).click();
    await frame.getByRole('button', { name: 'Apply again' }).waitFor();
    await frame.getByTestId('grid-progress').filter({ hasText: '2 of 2 images' }).waitFor({ timeout: 120_000 });

    const shot = await blog.screenshot();
    writeFileSync('test/output/playground/embed.png', shot);
    const png = await decodePng(shot);
    const box = (await blog.locator('iframe').boundingBox())!;
    expect(box.width).toBe(722); // 720 + the snippet's 1px border
    const grid = (await frame.getByTestId('compare-grid').locator('.rows').boundingBox())!;
    expect(png.crop(Math.round(grid.x), Math.round(grid.y), Math.round(grid.width), Math.round(grid.height)).std()).toBeGreaterThan(20);
    await context.close();
    server.close();
  });
});
