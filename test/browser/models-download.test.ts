/**
 * The download-and-cache layer in real Chromium (OPFS + IndexedDB), against files served on
 * loopback: the lead's static server (Range support) for most cases, and a throttled server of
 * our own where timing matters (speed, reload mid-download). Expected contents are checked with
 * Node's SHA-256 of the served files, an independent computation.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { launchChromium, recordConsole } from './chromium.ts';
import type { ModelManifest } from '../../src/lib/models/manifests.ts';

const MiB = 1 << 20;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sizes: Record<string, number> = { 'pipeline.json': 0, 'text_encoder/model.onnx': 3_000_000, 'unet/model.onnx': 5 * MiB + 12_345, 'vae_decoder/model.onnx': 1_000_000 };
/** Bytes of the config file and text encoder, stored before the UNet starts. */
const BEFORE_UNET = () => bytesOf['pipeline.json']!.length + 3_000_000;
const TOTAL = () => Object.values(bytesOf).reduce((s, b) => s + b.length, 0);
const bytesOf: Record<string, Uint8Array> = {};
let root: string; // served folder of the test model
let browser: Browser;
let throttled: { url: string; server: Server; requests: { path: string; range: string | null }[] };

/** A manifest for the test files (sizes/checksums unknown unless given). */
function manifest(id: string, extra: Partial<Record<string, { size?: number; sha256?: string }>> = {}): ModelManifest {
  const files = Object.keys(sizes).map((path) => ({
    path,
    role: path === 'pipeline.json' ? ('config' as const) : (path.split('/')[0] as 'unet'),
    size: extra[path]?.size ?? ('unknown' as const),
    approxSize: bytesOf[path]!.length,
    sha256: extra[path]?.sha256 ?? 'unknown',
  }));
  return {
    id, label: `Test model ${id}`, source: { kind: 'local' }, about: 'test', files,
    tokenizer: { path: 'tokenizers/clip/', padTokenId: 49407, maxLength: 77 },
    scheduler: { name: 'EulerDiscrete', betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012, numTrainTimesteps: 1000, stepsOffset: 1, timestepSpacing: 'linspace' },
    defaults: { steps: 4, guidance: 7.5 }, contextWidth: 32, latentSize: 32, vaeScalingFactor: 0.18215, weights: 'float32',
    requires: { shaderF16: false }, approxDownloadBytes: files.reduce((s, f) => s + f.approxSize, 0), warnings: [],
  };
}

/** Serve `dir` slowly (about 4 MB/s) with Range and CORS, logging each request's Range header. */
async function serveThrottled(dir: string) {
  const requests: { path: string; range: string | null }[] = [];
  const server = createServer((req, res) => {
    const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': 'Range, Authorization', 'Access-Control-Expose-Headers': 'Content-Range, ETag', 'Cross-Origin-Resource-Policy': 'cross-origin' };
    if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end();
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname).slice(1);
    requests.push({ path, range: req.headers.range ?? null });
    let body: Buffer;
    try {
      body = readFileSync(join(dir, path));
    } catch {
      return void res.writeHead(404, cors).end();
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const startAt = m ? Number(m[1]) : 0;
    res.writeHead(m ? 206 : 200, { ...cors, 'Content-Length': body.length - startAt, ...(m ? { 'Content-Range': `bytes ${startAt}-${body.length - 1}/${body.length}` } : {}) });
    let pos = startAt;
    const tick = setInterval(() => {
      if (res.destroyed) return clearInterval(tick);
      const end = Math.min(body.length, pos + 64 * 1024);
      res.write(body.subarray(pos, end));
      pos = end;
      if (pos >= body.length) {
        clearInterval(tick);
        res.end();
      }
    }, 16);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server, requests };
}

function writeTestFiles(dir: string, seed: string): void {
  for (const [path, n] of Object.entries(sizes)) {
    const bytes = path === 'pipeline.json' ? new TextEncoder().encode(JSON.stringify({ seed })) : new Uint8Array(randomBytes(n));
    bytesOf[path] = bytes;
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), bytes);
  }
}

beforeAll(async () => {
  root = join(inject('distDir'), 'models-test', 'a');
  writeTestFiles(root, 'a');
  browser = await launchChromium();
  throttled = await serveThrottled(root);
});
afterAll(async () => {
  await browser?.close();
  await new Promise((ok) => throttled?.server.close(ok));
});

const harnessUrl = () => inject('isolatedUrl') + 'test/browser/harness/models.html';
const baseUrl = () => inject('isolatedUrl') + 'models-test/a/';

/** A fresh browser context (empty storage) on the harness page. */
async function openHarness(): Promise<{ page: Page; log: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = recordConsole(page);
  await page.goto(harnessUrl());
  await page.waitForFunction(() => (window as unknown as { harnessReady?: boolean }).harnessReady === true);
  return { page, log };
}

type H = any; // window.harness inside page.evaluate
const h = <T>(page: Page, fn: (h: H, arg: any) => Promise<T> | T, arg?: unknown): Promise<T> =>
  page.evaluate(([src, a]) => new Function('h', 'a', `return (${src})(h, a)`)((window as any).harness, a), [fn.toString(), arg] as const) as Promise<T>;

/** Range headers of the requests for one file, in order. */
function watchRequests(page: Page, path: string): (string | null)[] {
  const seen: (string | null)[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith(path)) seen.push(r.headers()['range'] ?? null);
  });
  return seen;
}

describe('downloadModel into OPFS', () => {
  it('stores every file with progress that adds up, then serves them from storage without the network', async () => {
    const { page } = await openHarness();
    const m = manifest('full', { 'unet/model.onnx': { size: bytesOf['unet/model.onnx']!.length, sha256: sha(bytesOf['unet/model.onnx']!) } });
    const r = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk }), { m, base: baseUrl(), chunk: MiB });
    expect(r.error).toBeUndefined();
    const deltas = r.events.reduce((s: number, e: any) => s + e.delta, 0);
    expect(deltas).toBe(TOTAL());
    const last = r.events.at(-1);
    expect(last).toMatchObject({ phase: 'done', loaded: TOTAL(), total: TOTAL(), received: TOTAL() });
    for (const path of Object.keys(sizes)) {
      const fileEvents = r.events.filter((e: any) => e.file === path && e.phase === 'downloading').map((e: any) => e.fileLoaded);
      expect(fileEvents, path).toEqual([...fileEvents].sort((x, y) => x - y));
      expect(r.events.some((e: any) => e.file === path && e.phase === 'file-done' && e.fileLoaded === bytesOf[path]!.length)).toBe(true);
      expect(await h(page, (h, a) => h.stored('full', a), path)).toEqual({ size: bytesOf[path]!.length, sha256: sha(bytesOf[path]!) });
    }
    const list = await h(page, (h) => h.list());
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: 'full', label: 'Test model full', bytes: TOTAL(), complete: true });
    expect(list[0].files.map((f: any) => [f.path, f.complete, f.sha256])).toEqual(Object.keys(sizes).sort().map((p) => [p, true, sha(bytesOf[p]!)]));
    // Second call: everything is cached, nothing is requested.
    const requested: string[] = [];
    page.on('request', (req) => void (req.url().includes('models-test') && requested.push(req.url())));
    const again = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk }), { m, base: baseUrl(), chunk: MiB });
    expect(again.ok).toBe(true);
    expect(requested).toEqual([]);
    expect(again.events.filter((e: any) => e.phase === 'cached')).toHaveLength(4);
    await page.context().close();
  });

  it('reports speed and ETA while bytes flow (throttled server)', async () => {
    const { page } = await openHarness();
    const r = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk, progressIntervalMs: 50 }), { m: manifest('speed'), base: throttled.url, chunk: MiB });
    expect(r.error).toBeUndefined();
    const timed = r.events.filter((e: any) => e.phase === 'downloading' && e.bytesPerSecond !== null);
    expect(timed.length).toBeGreaterThan(5);
    // The server sends 64 KiB every 16 ms (≤ 4 MB/s); loopback cannot be faster than that.
    for (const e of timed) expect(e.bytesPerSecond).toBeLessThan(6e6);
    expect(timed.some((e: any) => e.bytesPerSecond > 5e5)).toBe(true);
    const mid = timed[Math.floor(timed.length / 2)];
    expect(mid.etaSeconds).toBeCloseTo((mid.total - mid.loaded) / mid.bytesPerSecond, 6);
    await page.context().close();
  });

  it('resumes after an abort and a page reload with Range: only the missing bytes travel', async () => {
    const { page } = await openHarness();
    const m = manifest('resume');
    const stopAt = 3_000_000 + 2 * MiB + 5000; // text encoder done, unet part-way (not on a chunk boundary)
    const first = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk, abortAtBytes: a.stop }), { m, base: baseUrl(), chunk: MiB, stop: stopAt });
    expect(first.error?.name).toBe('AbortError');
    const rec = await h(page, (h) => h.record('resume', 'unet/model.onnx'));
    expect(rec.complete).toBe(false);
    expect(rec.bytes).toBeGreaterThanOrEqual(2 * MiB);
    expect(rec.bytes).toBeLessThan(bytesOf['unet/model.onnx']!.length);
    expect(await h(page, (h) => h.stored('resume', 'unet/model.onnx'))).toMatchObject({ error: { name: 'PartialFileError', action: { kind: 'resume' } } });

    await page.reload();
    await page.waitForFunction(() => (window as any).harnessReady === true);
    const unetRanges = watchRequests(page, 'unet/model.onnx');
    const teRanges = watchRequests(page, 'text_encoder/model.onnx');
    const second = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk }), { m, base: baseUrl(), chunk: MiB });
    expect(second.error).toBeUndefined();
    expect(teRanges).toEqual([]);
    expect(unetRanges).toEqual([`bytes=${rec.bytes}-`]);
    const received = second.events.at(-1).received;
    expect(received).toBe(TOTAL() - BEFORE_UNET() - rec.bytes);
    expect(await h(page, (h) => h.stored('resume', 'unet/model.onnx'))).toEqual({ size: bytesOf['unet/model.onnx']!.length, sha256: sha(bytesOf['unet/model.onnx']!) });
    await page.context().close();
  });

  it('survives a reload in the middle of a chunk: resumes from the last committed chunk', async () => {
    const { page } = await openHarness();
    const m = manifest('reload');
    throttled.requests.length = 0;
    await h(page, (h, a) => h.start(a.m, { baseUrl: a.base, chunkBytes: a.chunk }), { m, base: throttled.url, chunk: MiB });
    await expect.poll(async () => (await h(page, (h) => h.record('reload', 'unet/model.onnx')))?.bytes ?? 0, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(2 * MiB);
    await page.reload(); // no abort: the chunk being written is lost, committed chunks stay
    await page.waitForFunction(() => (window as any).harnessReady === true);
    const rec = await h(page, (h) => h.record('reload', 'unet/model.onnx'));
    expect(rec.complete).toBe(false);
    expect(rec.bytes % MiB).toBe(0);
    const r = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk }), { m, base: throttled.url, chunk: MiB });
    expect(r.error).toBeUndefined();
    expect(throttled.requests.filter((q) => q.path === 'unet/model.onnx').at(-1)).toEqual({ path: 'unet/model.onnx', range: `bytes=${rec.bytes}-` });
    expect(await h(page, (h) => h.stored('reload', 'unet/model.onnx'))).toEqual({ size: bytesOf['unet/model.onnx']!.length, sha256: sha(bytesOf['unet/model.onnx']!) });
    await page.context().close();
  });

  it('keeps what arrived when the connection drops mid-file, and a retry resumes there', async () => {
    const { page } = await openHarness();
    const unet = bytesOf['unet/model.onnx']!;
    const cut = 2_500_000;
    await page.route('**/models-test/a/unet/model.onnx', (route) =>
      route.fulfill({ status: 206, headers: { 'Content-Range': `bytes 0-${unet.length - 1}/${unet.length}` }, body: Buffer.from(unet.subarray(0, cut)) }),
    );
    const m = manifest('drop');
    const first = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk, retries: 0 }), { m, base: baseUrl(), chunk: MiB });
    expect(first.error).toMatchObject({ name: 'NetworkError', action: { kind: 'retry' } });
    expect(first.error.message).toMatch(/connection closed after 2.5 MB of 5.3 MB of unet\/model.onnx.*retry to resume/);
    expect((await h(page, (h) => h.record('drop', 'unet/model.onnx'))).bytes).toBe(cut);
    await page.unroute('**/models-test/a/unet/model.onnx');
    const ranges = watchRequests(page, 'unet/model.onnx');
    const second = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk }), { m, base: baseUrl(), chunk: MiB });
    expect(second.error).toBeUndefined();
    expect(ranges).toEqual([`bytes=${cut}-`]);
    expect(await h(page, (h) => h.stored('drop', 'unet/model.onnx'))).toEqual({ size: unet.length, sha256: sha(unet) });
    await page.context().close();
  });

  it('restarts a file cleanly when the server ignores Range (200 instead of 206)', async () => {
    const { page } = await openHarness();
    const m = manifest('norange');
    await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk, abortAtBytes: a.stop }), { m, base: baseUrl(), chunk: MiB, stop: 3_000_000 + MiB + 77 });
    const partial = (await h(page, (h) => h.record('norange', 'unet/model.onnx'))).bytes;
    expect(partial).toBeGreaterThan(MiB);
    const unet = bytesOf['unet/model.onnx']!;
    const ranges: (string | null)[] = [];
    await page.route('**/models-test/a/unet/model.onnx', (route) => {
      ranges.push(route.request().headers()['range'] ?? null);
      return route.fulfill({ status: 200, body: Buffer.from(unet) });
    });
    const r = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk }), { m, base: baseUrl(), chunk: MiB });
    expect(r.error).toBeUndefined();
    expect(ranges).toEqual([`bytes=${partial}-`]); // one request: the 200 body is used from byte 0
    const restart = r.events.find((e: any) => e.phase === 'restarted');
    expect(restart.note).toMatch(/Restarting unet\/model.onnx from the beginning: the server ignored the Range request/);
    expect(r.events.at(-1).received).toBe(TOTAL() - BEFORE_UNET());
    expect(await h(page, (h) => h.stored('norange', 'unet/model.onnx'))).toEqual({ size: unet.length, sha256: sha(unet) });
    await page.context().close();
  });

  it('rejects a checksum mismatch, leaving nothing corrupt marked complete', async () => {
    const { page } = await openHarness();
    const wrong = sha(new TextEncoder().encode('not the unet'));
    const m = manifest('badsum', { 'unet/model.onnx': { sha256: wrong } });
    const r = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk }), { m, base: baseUrl(), chunk: MiB });
    expect(r.error).toMatchObject({ name: 'ChecksumError', action: { kind: 'redownload' } });
    expect(r.error.message).toContain(`its SHA-256 is ${sha(bytesOf['unet/model.onnx']!)}, the manifest expects ${wrong}. The damaged copy was deleted`);
    const list = await h(page, (h) => h.list());
    expect(list[0].complete).toBe(false);
    expect(list[0].files.map((f: any) => f.path)).toEqual(['pipeline.json', 'text_encoder/model.onnx']); // unet gone, nothing after it started
    expect(await h(page, (h) => h.stored('badsum', 'unet/model.onnx'))).toMatchObject({ error: { name: 'NotStoredError', action: { kind: 'download' } } });
    await page.context().close();
  });

  it('explains a full quota, before downloading and when a write is refused, and resumes once there is room', async () => {
    const { page } = await openHarness();
    const requested: string[] = [];
    page.on('request', (req) => void (req.url().includes('models-test') && requested.push(req.url())));
    await h(page, (h) => h.fakeEstimate(0, 1_000_000));
    const m = manifest('quota');
    const early = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk }), { m, base: baseUrl(), chunk: MiB });
    expect(early.error).toMatchObject({ name: 'QuotaError', neededBytes: TOTAL(), availableBytes: 1_000_000, action: { kind: 'free-space' } });
    expect(early.error.message).toMatch(/needs 9\.3 MB more storage, but this site may store only 1\.0 MB more \(of 1\.0 MB in all\)\. Free disk space.*delete cached models/);
    expect(requested).toEqual([]);

    await h(page, (h) => (h.restoreStorage(), h.failWritesAfter(3_500_000)));
    const mid = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk, retries: 0 }), { m, base: baseUrl(), chunk: MiB });
    expect(mid.error).toMatchObject({ name: 'QuotaError', action: { kind: 'free-space' } });
    expect(mid.error.message).toMatch(/^This model needs .* more storage/);
    const rec = await h(page, (h) => h.record('quota', 'unet/model.onnx'));
    expect(rec.complete).toBe(false);

    await h(page, (h) => h.restoreStorage());
    const ok = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk }), { m, base: baseUrl(), chunk: MiB });
    expect(ok.error).toBeUndefined();
    expect(ok.events.at(-1).received).toBe(TOTAL() - BEFORE_UNET() - rec.bytes);
    expect(await h(page, (h) => h.stored('quota', 'unet/model.onnx'))).toEqual({ size: bytesOf['unet/model.onnx']!.length, sha256: sha(bytesOf['unet/model.onnx']!) });
    await page.context().close();
  });

  it('lists and deletes models, freeing their storage', async () => {
    const { page } = await openHarness();
    for (const id of ['one', 'two']) {
      expect((await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk }), { m: manifest(id), base: baseUrl(), chunk: MiB })).ok).toBe(true);
    }
    expect((await h(page, (h) => h.list())).map((x: any) => x.id).sort()).toEqual(['one', 'two']);
    expect(await h(page, (h) => h.opfsModelDirs())).toEqual(['one', 'two']);
    await h(page, (h) => h.deleteModel('one'));
    expect((await h(page, (h) => h.list())).map((x: any) => x.id)).toEqual(['two']);
    expect(await h(page, (h) => h.opfsModelDirs())).toEqual(['two']);
    expect(await h(page, (h) => h.stored('one', 'unet/model.onnx'))).toMatchObject({ error: { name: 'NotStoredError' } });
    await h(page, (h) => h.deleteAll());
    expect(await h(page, (h) => h.list())).toEqual([]);
    expect(await h(page, (h) => h.opfsModelDirs())).toEqual([]);
    await page.context().close();
  });

  it('notices files that changed upstream: restarts a partial one, refuses a complete one until re-downloaded', async () => {
    const { page } = await openHarness();
    const dir = join(inject('distDir'), 'models-test', 'stale');
    const files = Object.keys(sizes);
    const old = files.map((p) => [p, bytesOf[p]!] as const);
    for (const [p, b] of old) (mkdirSync(join(dir, p, '..'), { recursive: true }), writeFileSync(join(dir, p), b));
    const base = inject('isolatedUrl') + 'models-test/stale/';
    const m = manifest('stale');
    await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk, abortAtBytes: a.stop }), { m, base, chunk: MiB, stop: 3_000_000 + 2 * MiB });
    // Upstream publishes a new, larger UNet.
    const newUnet = new Uint8Array(randomBytes(6 * MiB + 1));
    writeFileSync(join(dir, 'unet/model.onnx'), newUnet);
    const r = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk }), { m, base, chunk: MiB });
    expect(r.error).toBeUndefined();
    expect(r.events.find((e: any) => e.phase === 'restarted').note).toMatch(/the file changed upstream \(its size changed from 5255225 to 6291457 bytes\)/);
    expect(await h(page, (h) => h.stored('stale', 'unet/model.onnx'))).toEqual({ size: newUnet.length, sha256: sha(newUnet) });

    // A manifest that now expects another size: the complete copy is stale.
    const m2 = manifest('stale', { 'unet/model.onnx': { size: newUnet.length + 10 } });
    const stale = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk }), { m: m2, base, chunk: MiB });
    expect(stale.error).toMatchObject({ name: 'StaleFileError', action: { kind: 'redownload' } });
    expect(stale.error.message).toMatch(/unet\/model.onnx is out of date: the stored copy has 6291457 bytes, the manifest now says 6291467/);
    // Re-downloading with that manifest: the server disagrees with it, and says so.
    const again = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base, chunkBytes: a.chunk, restart: true }), { m: m2, base, chunk: MiB });
    expect(again.error?.message).toMatch(/the server has 6291457 bytes, the manifest expects 6291467/);
    await page.context().close();
  });

  it('explains a gated repo (401) and a missing file (404)', async () => {
    const { page } = await openHarness();
    await page.route('**/gated/**', (route) => route.fulfill({ status: 401, body: 'Access to model is restricted' }));
    const gated = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base }), { m: manifest('gated'), base: inject('isolatedUrl') + 'gated/' });
    expect(gated.error).toMatchObject({ name: 'GatedModelError', action: { kind: 'sign-in' } });
    expect(gated.error.message).toMatch(/HTTP 401.*gated or private.*accept the model's licence.*access token/);
    const missing = await h(page, (h, a) => h.run(a.m, { baseUrl: a.base }), { m: manifest('missing'), base: inject('isolatedUrl') + 'nowhere/' });
    expect(missing.error).toMatchObject({ name: 'FileUnavailableError', action: { kind: 'check-manifest' } });
    expect(missing.error.message).toMatch(/nowhere\/pipeline.json does not exist \(HTTP 404\)/);
    await page.context().close();
  });

  it('downloads the built-in tiny manifest layout', async () => {
    const { page } = await openHarness();
    const r = await h(page, async (h, a) => h.run(h.getManifest('tiny'), { baseUrl: a.base, chunkBytes: a.chunk }), { base: baseUrl(), chunk: MiB });
    expect(r.error).toBeUndefined();
    const list = await h(page, (h) => h.list());
    expect(list[0]).toMatchObject({ id: 'tiny', complete: true, bytes: TOTAL() });
    await page.context().close();
  });
});
