/**
 * "Use your own model" in Chromium on WASM, with a tiny generated pipeline folder: (a) a folder
 * picked from this computer (and a folder that is not a diffusers layout, refused with what is
 * missing); (b) a Hub repo, where the Hub's listing and resolve/ URLs are answered from that
 * folder so the real listing, download, checksum and load code runs against the Hub's URL scheme.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, recordConsole } from './chromium.ts';
import { encodeShareHash } from '../../src/app/share.ts';
import { defaultState } from '../../src/app/state.ts';
import { writePipeline } from '../../tools/sdgen/index.ts';

let browser: Browser;
let tmp: string;
let modelDir: string;
/** Paths of the pipeline folder, relative, '/'-separated. */
const PATHS = ['pipeline.json', 'text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx'];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'custom-model-'));
  modelDir = join(tmp, 'my-tiny-sd');
  writePipeline(modelDir, { size: 'tiny', seed: 0, latentSize: 32 });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The built-in tiny model, no edit, two prompts: two cells, so switching models is quick. */
async function open(): Promise<{ ctx: BrowserContext; page: Page; log: string[] }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const log = recordConsole(page);
  const state = {
    ...defaultState(),
    edit: null,
    prompts: [
      { text: 'a photo of a car', relation: 'self' as const },
      { text: 'a photo of a bus', relation: 'neighbour' as const },
    ],
    seeds: [7],
    steps: 2,
    guidance: 1,
    engine: 'wasm' as const,
  };
  await page.goto(`${inject('isolatedUrl')}#${await encodeShareHash(state)}`);
  await page.getByTestId('loaded-engine').waitFor({ timeout: 60_000 });
  await page.getByTestId('custom-model').locator('summary').click();
  return { ctx, page, log };
}

/**
 * A custom model starts with its defaults (25 steps, CFG 7.5: minutes on a tiny model at 64×64
 * latents). Set 2 steps and no guidance while it is stored and loaded (the grid waits then).
 */
async function smallSettings(page: Page) {
  await page.getByTestId('custom-current').waitFor();
  for (const [name, value] of [['Steps', '2'], ['Guidance', '1']] as const) {
    const input = page.getByTestId('compare-grid').getByRole('spinbutton', { name, exact: true });
    await input.fill(value);
    await input.press('Tab');
  }
}

/** The custom model loads on WASM and both cells render as pictures at 2 steps. */
async function renderSmallGrid(page: Page, log: string[]) {
  const loaded = page.getByTestId('loaded-engine');
  try {
    await loaded.waitFor({ timeout: 60_000 });
  } catch {
    throw new Error(`model did not load: ${await page.getByTestId('model-panel').textContent()}\n${log.join('\n')}`);
  }
  expect(await loaded.textContent()).toMatch(/wasm/i);
  try {
    await page.getByTestId('grid-progress').filter({ hasText: '2 of 2 images' }).waitFor({ timeout: 60_000 });
  } catch {
    throw new Error(`grid did not finish: ${await page.getByTestId('grid-progress').textContent()}\n${log.join('\n')}`);
  }
  const cells = page.locator('[data-testid=cell][data-state=done]');
  expect(await cells.count()).toBe(2);
  // Each image is a picture, not a flat fill: pixel standard deviation over RGB.
  const stds = await cells.evaluateAll((figs) =>
    figs.map((f) => {
      const c = f.querySelector('canvas') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let s = 0, q = 0, n = 0;
      for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) (s += d[i + k]!), (q += d[i + k]! ** 2), n++;
      return Math.sqrt(q / n - (s / n) ** 2);
    }),
  );
  for (const s of stds) expect(s).toBeGreaterThan(5);
}

describe('use your own model', () => {
  it('refuses a folder that is not a diffusers ONNX layout, then stores and runs a picked model folder', async () => {
    const { ctx, page, log } = await open();
    const folder = page.getByTestId('model-folder');

    // No vae_decoder/: the error names what is missing.
    const partial = join(tmp, 'no-vae');
    cpSync(join(modelDir, 'text_encoder'), join(partial, 'text_encoder'), { recursive: true });
    cpSync(join(modelDir, 'unet'), join(partial, 'unet'), { recursive: true });
    await folder.setInputFiles(partial);
    const problems = page.getByTestId('local-problems');
    await problems.waitFor();
    expect(await problems.textContent()).toMatch(/missing vae_decoder\/model\.onnx/);
    expect(await page.getByTestId('loaded-engine').count()).toBe(1); // the built-in model is still loaded

    // The whole folder: Playwright gives each file its webkitRelativePath ('my-tiny-sd/unet/model.onnx').
    await folder.setInputFiles(modelDir);
    await smallSettings(page);
    await renderSmallGrid(page, log);
    expect(await page.getByTestId('local-problems').count()).toBe(0);
    expect(await page.getByTestId('custom-current').textContent()).toMatch(/Model from your files/);
    // A link cannot carry files from this computer: the share panel says so and what to do.
    await page.getByRole('button', { name: 'Copy link' }).click();
    await expect.poll(() => page.getByTestId('share-note').textContent()).toMatch(/files from your computer, which a link cannot carry/);
    expect(await page.getByTestId('share-link').count()).toBe(0);
    // The files are in browser storage under the local model, byte for byte.
    const stored = await page.evaluate(async () => {
      const sizes: Record<string, number> = {};
      const walk = async (dir: FileSystemDirectoryHandle, prefix: string) => {
        for await (const [name, h] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
          if (h.kind === 'directory') await walk(h as FileSystemDirectoryHandle, `${prefix}${name}/`);
          else sizes[`${prefix}${name}`] = (await (h as FileSystemFileHandle).getFile()).size;
        }
      };
      await walk(await navigator.storage.getDirectory(), '');
      return sizes;
    });
    const total = (sizes: Record<string, number>, id: string) => Object.entries(sizes).filter(([p]) => p.startsWith(`erasure-lab-models/${id}/`)).reduce((s, [, n]) => s + n, 0);
    const onDisk = PATHS.reduce((s, p) => s + statSync(join(modelDir, p)).size, 0);
    expect(total(stored, 'local')).toBe(onDisk);
    await ctx.close();
  });

  it('lists a Hub repo, shows its files and size, downloads it from resolve/ URLs and runs it', async () => {
    const { ctx, page, log } = await open();
    const sha = (p: string) => createHash('sha256').update(readFileSync(join(modelDir, p))).digest('hex');
    const listing = PATHS.map((path) => {
      const size = statSync(join(modelDir, path)).size;
      return path.endsWith('.onnx') ? { type: 'file', path, size, oid: 'x', lfs: { oid: sha(path), size, pointerSize: 134 } } : { type: 'file', path, size, oid: 'x' };
    });
    const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': '*', 'Access-Control-Expose-Headers': '*' };
    const requested: string[] = [];
    await ctx.route('https://huggingface.co/**', async (route: Route) => {
      const req = route.request();
      const url = new URL(req.url());
      requested.push(url.pathname);
      if (req.method() === 'OPTIONS') return route.fulfill({ status: 204, headers: { ...cors, 'Access-Control-Allow-Methods': 'GET, HEAD' } });
      if (url.pathname === '/api/models/someone/tiny-sd/tree/main') return route.fulfill({ status: 200, headers: cors, contentType: 'application/json', body: JSON.stringify([{ type: 'directory', path: 'unet', size: 0, oid: 'y' }, ...listing]) });
      if (url.pathname === '/api/models/someone/not-sd/tree/main') return route.fulfill({ status: 200, headers: cors, contentType: 'application/json', body: JSON.stringify(listing.filter((e) => !e.path.startsWith('vae_decoder/'))) });
      const m = /^\/someone\/tiny-sd\/resolve\/main\/(.+)$/.exec(url.pathname);
      if (!m || !PATHS.includes(decodeURIComponent(m[1]!))) return route.fulfill({ status: 404, headers: cors, body: 'not found' });
      const body = readFileSync(join(modelDir, decodeURIComponent(m[1]!)));
      const range = /^bytes=(\d+)-$/.exec(req.headers()['range'] ?? '');
      if (range) {
        const from = Number(range[1]);
        return route.fulfill({ status: 206, headers: { ...cors, 'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}`, 'Content-Length': String(body.length - from) }, body: body.subarray(from) });
      }
      return route.fulfill({ status: 200, headers: { ...cors, 'Content-Length': String(body.length) }, body });
    });

    // A repo without vae_decoder/: the listing is refused, naming what is missing.
    await page.getByRole('textbox', { name: 'Repo', exact: true }).fill('someone/not-sd');
    await page.getByRole('button', { name: 'List files' }).click();
    const hubProblems = page.getByTestId('hub-problems');
    await hubProblems.waitFor();
    expect(await hubProblems.textContent()).toMatch(/not laid out like a diffusers ONNX export: missing vae_decoder\/model\.onnx/);

    await page.getByRole('textbox', { name: 'Repo', exact: true }).fill('someone/tiny-sd');
    await page.getByRole('button', { name: 'List files' }).click();
    const preview = page.getByTestId('hub-preview');
    await preview.waitFor();
    const text = (await preview.textContent())!;
    for (const p of PATHS) expect(text).toContain(p);
    // The size shown is the listing's total, formatted by the app's own formatter.
    const onDisk = PATHS.reduce((s, p) => s + statSync(join(modelDir, p)).size, 0);
    const shown = (await page.getByTestId('hub-size').textContent())!;
    const mb = Number(/([\d.]+)\s*MB/.exec(shown)?.[1]);
    expect(Math.abs(mb * 1e6 - onDisk) / onDisk, shown).toBeLessThan(0.05);

    await preview.getByRole('button', { name: /^Download .* and load$/ }).click();
    await smallSettings(page);
    await renderSmallGrid(page, log);
    // Every file came from its resolve/ URL (checksums from the listing's lfs.oid were checked on the way).
    for (const p of PATHS) expect(requested).toContain(`/someone/tiny-sd/resolve/main/${p}`);
    expect(await page.getByTestId('custom-current').textContent()).toMatch(/someone\/tiny-sd \(main\)/);
    await ctx.close();
  });
});
