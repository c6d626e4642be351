/**
 * The judge worker's whole Florence-2 path in real Chromium: a tiny Florence-2-shaped model
 * (tools/florence-gen, written into the served build folder) is downloaded by the app's own
 * download layer into OPFS, transformers.js loads it from there, and `<OD>`, a caption and
 * grounding run on an image, returning typed results. The text is noise (random weights); what
 * is checked is the plumbing: progress, storage, no other network or cache use, and results that
 * agree with the raw text they were parsed from.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { join } from 'node:path';
import { launchChromium, recordConsole } from './chromium.ts';
import { writeTinyFlorence } from '../../tools/florence-gen/index.ts';

let browser: Browser;
let sizes: Record<string, number>;
const MiB = 1 << 20;

beforeAll(async () => {
  sizes = writeTinyFlorence(join(inject('distDir'), 'judge-test', 'florence-tiny'));
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const source = () => ({ id: 'florence-tiny', label: 'Tiny Florence-2 (test)', repo: 'erasure-lab/florence-2-tiny', revision: 'main', sizes });
const baseUrl = () => inject('isolatedUrl') + 'judge-test/florence-tiny/';
type H = any; // window.harness inside page.evaluate
const h = <T>(page: Page, fn: (h: H, arg: any) => Promise<T> | T, arg?: unknown): Promise<T> =>
  page.evaluate(([src, a]) => new Function('h', 'a', `return (${src})(h, a)`)((window as any).harness, a), [fn.toString(), arg] as const) as Promise<T>;

async function openHarness(): Promise<{ page: Page; log: string[]; requests: string[] }> {
  const context = await browser.newContext();
  const requests: string[] = [];
  context.on('request', (r) => void requests.push(r.url()));
  const page = await context.newPage();
  const log = recordConsole(page);
  await page.goto(inject('isolatedUrl') + 'test/browser/harness/judge.html');
  await page.waitForFunction(() => (window as any).harnessReady === true);
  return { page, log, requests };
}

/** Boxes in the raw text, counted independently of the parser: optional label, four location tokens. */
const boxGroups = (raw: string) => raw.replace(/<\/?s>|<pad>/g, '').match(/([^<]+)?<loc_\d+><loc_\d+><loc_\d+><loc_\d+>/g)?.length ?? 0;

describe('judge worker with a tiny Florence-2 on WASM', () => {
  it('downloads into OPFS with progress, loads through transformers.js from there, warms up and judges an image', async () => {
    const { page, log, requests } = await openHarness();
    const load = await h(page, (h, a) => h.load(a), { source: source(), baseUrl: baseUrl(), preference: 'wasm', chunkBytes: MiB });
    expect(load.error, log.join('\n')).toBeUndefined();
    expect(load.result).toMatchObject({ device: 'wasm', dtype: { embed_tokens: 'fp32', vision_encoder: 'fp32', encoder_model: 'q4', decoder_model_merged: 'q4' }, imageSize: [32, 32] });
    expect(load.result.reason).toMatch(/WASM because WASM was requested; fp32 vision tower \(WASM has no fp16 kernels\), 4-bit encoder and decoder/);

    // Progress: download reports up to every byte of the manifest, then loading, warm-up, ready.
    const phases = load.events.map((e: any) => e.phase);
    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    const downloads = load.events.filter((e: any) => e.phase === 'download').map((e: any) => e.download);
    expect(downloads.at(-1)).toMatchObject({ phase: 'done', loaded: total, total });
    expect(phases.indexOf('loading')).toBeGreaterThan(phases.lastIndexOf('download'));
    expect(phases.slice(-2)).toEqual(['warming-up', 'ready']);
    const loadedFiles = new Set(load.events.filter((e: any) => e.phase === 'loading').map((e: any) => e.file));
    expect([...loadedFiles]).toEqual(expect.arrayContaining(['onnx/decoder_model_merged_q4.onnx', 'onnx/embed_tokens.onnx', 'onnx/encoder_model_q4.onnx', 'onnx/vision_encoder.onnx']));

    const judged = await h(page, (h, a) => h.judge(64, 48, a), [
      { task: '<OD>', maxNewTokens: 16 },
      { task: '<MORE_DETAILED_CAPTION>', maxNewTokens: 8 },
      { task: '<CAPTION_TO_PHRASE_GROUNDING>', text: 'a red car', maxNewTokens: 8 },
    ]);
    expect(judged.error, log.join('\n')).toBeUndefined();
    const [od, caption, grounding] = judged.result.results;
    for (const r of [od, caption, grounding]) {
      expect(r.raw.startsWith('</s><s>')).toBe(true); // decoder start, then the forced BOS
      expect(r.tokens).toBeGreaterThan(2);
    }
    expect(od.result).toMatchObject({ kind: 'boxes', task: '<OD>' });
    expect(od.result.bboxes).toHaveLength(boxGroups(od.raw));
    expect(od.result.labels).toHaveLength(od.result.bboxes.length);
    for (const [x1, y1, x2, y2] of [...od.result.bboxes, ...grounding.result.bboxes]) {
      for (const x of [x1, x2]) expect(x).toBeGreaterThan(0), expect(x).toBeLessThan(64);
      for (const y of [y1, y2]) expect(y).toBeGreaterThan(0), expect(y).toBeLessThan(48);
    }
    expect(caption.result).toEqual({ kind: 'text', task: '<MORE_DETAILED_CAPTION>', text: caption.raw.replace(/<\/?s>|<pad>/g, '').trim() });
    expect(grounding.result).toMatchObject({ kind: 'boxes', task: '<CAPTION_TO_PHRASE_GROUNDING>' });
    expect(grounding.result.bboxes).toHaveLength(boxGroups(grounding.raw));
    expect(judged.result.timings.totalMs).toBeGreaterThan(0);

    // Only our own origin was asked for anything (no Hub, no CDN for onnxruntime's .wasm) …
    const foreign = requests.filter((u) => !u.startsWith(inject('isolatedUrl')));
    expect(foreign).toEqual([]);
    const modelRequests = requests.filter((u) => u.includes('/judge-test/'));
    expect(modelRequests.map((u) => u.slice(baseUrl().length)).sort()).toEqual(Object.keys(sizes).sort());
    // … and transformers.js kept no second copy in the Cache API.
    expect(await h(page, (h) => h.cacheNames())).toEqual([]);

    // A second load (page reloaded, fresh worker) comes from OPFS: nothing is fetched.
    requests.length = 0;
    await page.reload();
    await page.waitForFunction(() => (window as any).harnessReady === true);
    const again = await h(page, (h, a) => h.load(a), { source: source(), baseUrl: baseUrl(), preference: 'wasm', chunkBytes: MiB, skipWarmup: true });
    expect(again.error, log.join('\n')).toBeUndefined();
    expect(requests.filter((u) => u.includes('/judge-test/'))).toEqual([]);
    expect(again.events.filter((e: any) => e.phase === 'download' && e.download.phase === 'cached')).toHaveLength(Object.keys(sizes).length);
    await page.context().close();
  });

  it('runs on the WebGPU engine too (SwiftShader here: no shader-f16, so the fp32 towers)', async () => {
    const { page, log } = await openHarness();
    const load = await h(page, (h, a) => h.load(a), { source: { ...source(), id: 'florence-tiny-gpu' }, baseUrl: baseUrl(), preference: 'webgpu', chunkBytes: MiB });
    expect(load.error, log.join('\n')).toBeUndefined();
    expect(load.result).toMatchObject({ device: 'webgpu', dtype: { embed_tokens: 'fp32', vision_encoder: 'fp32', encoder_model: 'q4', decoder_model_merged: 'q4' } });
    expect(load.result.reason).toMatch(/fp32 vision tower \(the adapter has no shader-f16\)/);
    const judged = await h(page, (h) => h.judge(40, 40, [{ task: '<OD>', maxNewTokens: 12 }]));
    expect(judged.error, log.join('\n')).toBeUndefined();
    const [od] = judged.result.results;
    expect(od.raw.startsWith('</s><s>')).toBe(true);
    expect(od.result.bboxes).toHaveLength(boxGroups(od.raw));
    await page.context().close();
  });

  it('says what is wrong when a file of the model is missing on the server', async () => {
    const { page } = await openHarness();
    const broken = { ...source(), id: 'florence-missing', sizes: undefined };
    const r = await h(page, (h, a) => h.load(a), { source: broken, baseUrl: inject('isolatedUrl') + 'judge-test/nowhere/', preference: 'wasm' });
    expect(r.error.message).toMatch(/judge-test\/nowhere\/config.json does not exist \(HTTP 404\)/);
    await page.context().close();
  });
});
