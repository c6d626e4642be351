/**
 * ONNX layer on full-size SD 1.5-shaped UNets: `npx tsx --expose-gc bench/onnx.ts`.
 * Generates (tools/sdgen, into the OS temp dir, reused while the generator is unchanged) the sd15
 * UNet fp16 with inline weights (~1.7 GB) and fp32 with external data (~3.4 GB weights.pb); then,
 * in this process, which never holds the weights: indexes each from a file Blob (fs.openAsBlob),
 * finds the 16 cross-attention sites, and patches all 32 attn2 to_k/to_v projections (Blob
 * splicing; for the inline file also in place in memory). Reports wall time, peak memory deltas
 * (rss / heapUsed / arrayBuffers, sampled every 2 ms) and the size of the index. Prints a table;
 * writes bench/results/onnx.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openAsBlob, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findCrossAttentionSites, indexModel, patchSiteProjection, readSiteProjection, toByteSource,
  type ByteSource, type CrossAttentionSite, type ModelSources,
} from '../src/lib/onnx/index.ts';

interface Case {
  label: string;
  dir: string;
  args: string[];
}
const root = join(tmpdir(), 'erasure-lab-bench-onnx');
const cases: Case[] = [
  { label: 'sd15 fp16 inline', dir: join(root, 'sd15-fp16'), args: ['--size', 'sd15', '--dtype', 'float16', '--style', 'plain'] },
  { label: 'sd15 fp32 external', dir: join(root, 'sd15-fp32-ext'), args: ['--size', 'sd15', '--dtype', 'float32', '--style', 'plain', '--external-data'] },
];

const MB = 2 ** 20;
type Mem = { rss: number; heapUsed: number; arrayBuffers: number };
interface Measured { ms: number; peakMB: Mem }

/** Runs `fn`, sampling memory every 2 ms; returns its result, wall time and peak deltas (MB) over the start. */
async function measure<T>(fn: () => Promise<T> | T): Promise<[T, Measured]> {
  (globalThis as { gc?: () => void }).gc?.();
  const base = process.memoryUsage();
  const peak: Mem = { rss: 0, heapUsed: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    for (const k of ['rss', 'heapUsed', 'arrayBuffers'] as const) peak[k] = Math.max(peak[k], m[k] - base[k]);
  };
  const timer = setInterval(sample, 2);
  const t = performance.now();
  const result = await fn();
  const ms = performance.now() - t;
  sample();
  clearInterval(timer);
  const mb = (x: number) => Math.round((x / MB) * 10) / 10;
  return [result, { ms: Math.round(ms * 10) / 10, peakMB: { rss: mb(peak.rss), heapUsed: mb(peak.heapUsed), arrayBuffers: mb(peak.arrayBuffers) } }];
}

/** A ByteSource that counts what is read from the underlying Blob. */
function counting(blob: Blob): ByteSource & { fetched: number } {
  const inner = toByteSource(blob);
  const src = { size: inner.size, fetched: 0, read: async (a: number, b: number) => { src.fetched += b - a; return inner.read(a, b); } };
  return src;
}

/** Patches every attn2 to_k/to_v with its values × 1.001 (read, scale, write back). */
async function patchAll(sites: CrossAttentionSite[], sources: ModelSources): Promise<ModelSources> {
  for (const s of sites) for (const which of ['k', 'v'] as const) {
    const w = await readSiteProjection(s, which, sources);
    for (let i = 0; i < w.data.length; i++) w.data[i] *= 1.001;
    sources = await patchSiteProjection(s, which, w.data, sources);
  }
  return sources;
}

async function benchCase(c: Case) {
  const started = performance.now();
  const gen = spawnSync('npx', ['tsx', 'tools/sdgen/cli.ts', '--out', c.dir, ...c.args], { stdio: 'inherit' });
  if (gen.status !== 0) throw new Error(`generating ${c.label} failed (exit ${gen.status})`);
  const generateS = (performance.now() - started) / 1000;
  const modelPath = join(c.dir, 'unet', 'model.onnx');
  const extPath = join(c.dir, 'unet', 'weights.pb');
  const hasExt = existsSync(extPath);
  const model = await openAsBlob(modelPath);
  const ext = hasExt ? { 'weights.pb': await openAsBlob(extPath) } : undefined;

  const src = counting(model);
  const [index, indexing] = await measure(() => indexModel(src, { externalData: ext }));
  const [sites, finding] = await measure(() => findCrossAttentionSites(index));
  const before = await readSiteProjection(sites[0], 'k', { model, externalData: ext });
  const [patched, patchingBlob] = await measure(() => patchAll(sites, { model, externalData: ext }));
  const after = await readSiteProjection(sites[0], 'k', patched);
  const ok = after.data.every((x, i) => Math.abs(x - before.data[i] * 1.001) <= 1e-3 * Math.abs(before.data[i]) + 1e-7);
  if (!ok) throw new Error('patched values did not read back');

  let inPlace: Measured | null = null;
  let load: Measured | null = null;
  if (!hasExt) {
    const [bytes, l] = await measure(() => {
      const b = readFileSync(modelPath);
      return new Uint8Array(b.buffer, b.byteOffset, b.length);
    });
    load = l;
    [, inPlace] = await measure(() => patchAll(sites, { model: bytes }));
  }
  const indexJson = JSON.stringify(index).length;
  return {
    label: c.label,
    modelBytes: statSync(modelPath).size,
    externalBytes: hasExt ? statSync(extPath).size : 0,
    generateS: Math.round(generateS),
    nodes: index.graph.nodes.length,
    initializers: index.graph.initializers.length,
    sites: sites.length,
    heads: sites.map((s) => s.heads).join('/'),
    indexJsonBytes: indexJson,
    bytesReadToIndex: src.fetched,
    index: indexing,
    findSites: finding,
    patch32Blob: patchingBlob,
    loadIntoMemory: load,
    patch32InPlace: inPlace,
  };
}

const results = [];
for (const c of cases) {
  console.log(`\n== ${c.label} (generating into ${c.dir} if needed)`);
  results.push(await benchCase(c));
}

const row = (cells: (string | number)[]) => console.log(cells.map((x, i) => String(x).padEnd(i === 0 ? 34 : 14)).join(''));
const fmt = (m: Measured | null) => (m ? [`${m.ms} ms`, `${m.peakMB.rss}`, `${m.peakMB.heapUsed}`, `${m.peakMB.arrayBuffers}`] : ['—', '', '', '']);
console.log();
row(['step', 'time', 'Δrss MB', 'ΔheapUsed MB', 'ΔarrayBuf MB']);
for (const r of results) {
  console.log(`-- ${r.label}: model ${(r.modelBytes / MB).toFixed(0)} MB, external ${(r.externalBytes / MB).toFixed(0)} MB; ${r.nodes} nodes, ${r.initializers} initializers, ${r.sites} sites (heads ${r.heads})`);
  console.log(`   index JSON ${(r.indexJsonBytes / MB).toFixed(2)} MB; bytes read to index ${(r.bytesReadToIndex / MB).toFixed(2)} MB`);
  row(['index from Blob', ...fmt(r.index)]);
  row(['find 16 sites', ...fmt(r.findSites)]);
  row(['patch 32 to_k/to_v (Blob splice)', ...fmt(r.patch32Blob)]);
  if (r.loadIntoMemory) row(['load file into memory', ...fmt(r.loadIntoMemory)]);
  if (r.patch32InPlace) row(['patch 32 to_k/to_v (in place)', ...fmt(r.patch32InPlace)]);
}
mkdirSync('bench/results', { recursive: true });
const out = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadavg: loadavg(), results };
writeFileSync('bench/results/onnx.json', JSON.stringify(out, null, 2) + '\n');
console.log('\nwrote bench/results/onnx.json');
