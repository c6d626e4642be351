/**
 * The judge worker's CLIP text similarity in real Chromium: a tiny CLIP-text-shaped model
 * (tools/clip-gen, written into the served build folder) is stored in OPFS by the app's download
 * layer, transformers.js loads it from there (remote loading off) on WASM, and similarities come
 * back through comlink. Random weights: checked are the mechanics (same word → 1, symmetry,
 * range, agreement with the Node path) and decidePresence recording 'clip-similarity' evidence.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { join } from 'node:path';
import { env } from '@huggingface/transformers';
import { launchChromium, recordConsole } from './chromium.ts';
import { writeTinyClipText } from '../../tools/clip-gen/index.ts';
import { ClipTextSimilarity, loadClipText } from '../../workers/judge-clip.ts';

let browser: Browser;
let sizes: Record<string, number>;
const REPO = 'erasure-lab/clip-tiny';

beforeAll(async () => {
  const root = join(inject('distDir'), 'judge-test');
  sizes = writeTinyClipText(join(root, REPO));
  // The same files in Node (onnxruntime-node), for an independent value to compare with.
  env.allowRemoteModels = false;
  env.localModelPath = root + '/';
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const source = () => ({ id: 'clip-tiny', label: 'Tiny CLIP text (test)', repo: REPO, revision: 'main', dtype: 'fp32' as const, sizes });
const baseUrl = () => inject('isolatedUrl') + `judge-test/${REPO}/`;
type H = any; // window.harness inside page.evaluate
const h = <T>(page: Page, fn: (h: H, arg: any) => Promise<T> | T, arg?: unknown): Promise<T> =>
  page.evaluate(([src, a]) => new Function('h', 'a', `return (${src})(h, a)`)((window as any).harness, a), [fn.toString(), arg] as const) as Promise<T>;

describe('judge worker: CLIP text similarity with a tiny model on WASM', () => {
  it('stores the model in OPFS, loads it through transformers.js from there and returns similarities', async () => {
    const context = await browser.newContext();
    const requests: string[] = [];
    context.on('request', (r) => void requests.push(r.url()));
    const page = await context.newPage();
    const log = recordConsole(page);
    await page.goto(inject('isolatedUrl') + 'test/browser/harness/judge-clip.html');
    await page.waitForFunction(() => (window as any).harnessReady === true);

    const before = await h(page, (h) => h.similarity('car', ['boat']));
    expect(before.error.message).toMatch(/no CLIP text model loaded: call loadClip\(\) first/);

    const load = await h(page, (h, a) => h.loadClip(a), { source: source(), baseUrl: baseUrl(), chunkBytes: 1 << 20 });
    expect(load.error, log.join('\n')).toBeUndefined();
    expect(load.result).toMatchObject({ device: 'wasm', dtype: 'fp32', prompt: 'a photo of a {}' });
    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    expect(load.events.filter((e: any) => e.phase === 'download').at(-1).download).toMatchObject({ phase: 'done', loaded: total, total });

    const words = ['car', 'boat', 'red umbrella'];
    const sims = await h(page, (h, a) => h.similarity('car', a), words);
    expect(sims.error, log.join('\n')).toBeUndefined();
    expect(sims.result[0]).toBeCloseTo(1, 5);
    for (const s of sims.result) expect(Math.abs(s)).toBeLessThanOrEqual(1);
    const back = await h(page, (h) => h.similarity('boat', ['car']));
    expect(back.result[0]).toBeCloseTo(sims.result[1], 5);

    // The browser (onnxruntime-web) agrees with Node (onnxruntime-node) on the same files.
    const node = new ClipTextSimilarity(await loadClipText(REPO, { device: 'cpu', dtype: 'fp32' }));
    const expected = await node.similarity('car', words);
    sims.result.forEach((s: number, i: number) => expect(s).toBeCloseTo(expected[i]!, 4));

    // decidePresence with the worker's similarity records a word no concept list has.
    const d = await h(page, (h) => h.decide('car', { caption: 'a contraption on a street' }, { threshold: -1, unsureFrom: -1 }));
    expect(d.error, log.join('\n')).toBeUndefined();
    const e = d.result.evidence.find((x: any) => x.source === 'clip-similarity' && x.text === 'contraption');
    expect(e, JSON.stringify(d.result.evidence)).toBeDefined();
    expect(e.similarity).toBeCloseTo((await node.similarity('car', ['contraption']))[0]!, 4);

    // Nothing but our own origin was asked for anything, each model file once, and no Cache API copy.
    expect(requests.filter((u) => !u.startsWith(inject('isolatedUrl')))).toEqual([]);
    expect(requests.filter((u) => u.includes('/judge-test/')).map((u) => u.slice(baseUrl().length)).sort()).toEqual(Object.keys(sizes).sort());
    expect(await h(page, (h) => h.cacheNames())).toEqual([]);
    await context.close();
  });
});
