/**
 * Erasure engine timings: `npx tsx bench/erasure.ts`.
 * Computes M for 1/10/100 erased concepts (random unit-ish stand-in embeddings, one preserve
 * vector per concept) at d = 768 and 1024, one RECE round with G given, applying M to
 * [2, 77, 768], and a 1024 Cholesky + 1024-RHS solve. Prints a table; writes
 * bench/results/erasure.json. Goals: 1 concept < 20 ms, 100 concepts < 1 s, apply < 1 ms.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { closedFormContextMap } from '../src/lib/erasure/closed-form.ts';
import { applyContextMap, denseMap, denseMatrix, lowRankMap, type ContextMap } from '../src/lib/erasure/context-map.ts';
import { cholesky, choleskySolve, matmulAtB, zeros } from '../src/lib/erasure/linalg.ts';
import { adversarialEmbeddings } from '../src/lib/erasure/rece.ts';

let seed = 12345;
function rand(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296 - 0.5;
}
function unitish(d: number): Float64Array {
  const v = Float64Array.from({ length: d }, rand);
  const n = Math.hypot(...v);
  return v.map((x) => x / n * 28); // CLIP-L final-layer tokens have norm ≈ 28
}

/** Median wall time (ms) of `reps` runs after one warm-up. */
function time(fn: () => unknown, reps: number): number {
  fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

interface Row { task: string; d: number; n: number; ms: number; goal_ms?: number }
const rows: Row[] = [];

for (const d of [768, 1024]) {
  for (const k of [1, 10, 100]) {
    const sources = Array.from({ length: k }, () => unitish(d));
    const targets = Array.from({ length: k }, () => unitish(d));
    const preserve = Array.from({ length: k }, () => unitish(d));
    const edit = { d, lambda: 0.5, eraseScale: 1, preserveScale: 1, sources, targets, preserve };
    const reps = k === 100 ? 5 : 15;
    rows.push({ task: 'M (UCE closed form), no diagnostics', d, n: k, ms: time(() => closedFormContextMap(edit, { method: 'bench' }, false), reps), goal_ms: k === 1 ? 20 : k === 100 ? 1000 : undefined });
    rows.push({ task: 'M + diagnostics (rank, cond, per-vector)', d, n: k, ms: time(() => closedFormContextMap(edit, { method: 'bench' }, true), reps) });
  }
  // One RECE round: adversarial embeddings for 77 tokens, then a 77-token UCE edit (77 preserve).
  const r = zeros(d, d);
  for (let i = 0; i < d * d; i++) r.data[i] = rand() * 0.1;
  const G = matmulAtB(r, r).data;
  const base = lowRankMap(d, unitish(d).map((x) => x / 28), unitish(d).map((x) => x / 28 / 28), { method: 'base' });
  const concept = Array.from({ length: 77 }, () => unitish(d));
  const target = Array.from({ length: 77 }, () => unitish(d));
  const keep = Array.from({ length: 77 }, () => unitish(d));
  rows.push({
    task: 'one RECE round (G given, 77 tokens)', d, n: 77,
    ms: time(() => {
      const adv = adversarialEmbeddings(base, G, 0.1, concept);
      closedFormContextMap({ d, lambda: 0.1, eraseScale: 1, preserveScale: 0.1, sources: adv, targets: target, preserve: keep }, { method: 'rece' }, false);
    }, 3),
  });
}

// Apply M to [2, 77, 768].
{
  const d = 768;
  const x = Float32Array.from({ length: 2 * 77 * d }, rand);
  for (const k of [1, 10, 77]) {
    const m: ContextMap = lowRankMap(d, Float64Array.from({ length: k * d }, rand), Float64Array.from({ length: k * d }, rand), { method: 'bench' });
    rows.push({ task: `apply low-rank M (rank ${k}) to [2,77,768]`, d, n: k, ms: time(() => applyContextMap(m, x, [2, 77, d]), 200), goal_ms: k === 1 ? 1 : undefined });
  }
  const dense = denseMap(d, denseMatrix(lowRankMap(d, Float64Array.from({ length: d }, rand), Float64Array.from({ length: d }, rand), { method: 'b' })), { method: 'bench' });
  rows.push({ task: 'apply dense M to [2,77,768]', d, n: d, ms: time(() => applyContextMap(dense, x, [2, 77, d]), 20) });
}

// Raw linear algebra: 1024 Cholesky + solve with 1024 right-hand sides.
{
  const n = 1024;
  const r = zeros(n, n);
  for (let i = 0; i < n * n; i++) r.data[i] = rand();
  const a = matmulAtB(r, r);
  for (let i = 0; i < n; i++) a.data[i * n + i] += 1;
  rows.push({ task: 'Cholesky 1024', d: n, n: 1, ms: time(() => cholesky(a), 3) });
  const L = cholesky(a);
  rows.push({ task: 'Cholesky solve, 1024 RHS', d: n, n: 1024, ms: time(() => choleskySolve(L, r), 3) });
}

const pad = (s: string, w: number) => s.padEnd(w);
console.log(`${pad('task', 44)} ${pad('d', 5)} ${pad('n', 5)} ${pad('ms', 10)} goal`);
for (const row of rows) {
  const goal = row.goal_ms === undefined ? '' : `< ${row.goal_ms} ms ${row.ms < row.goal_ms ? 'ok' : 'MISSED'}`;
  console.log(`${pad(row.task, 44)} ${pad(String(row.d), 5)} ${pad(String(row.n), 5)} ${pad(row.ms.toFixed(2), 10)} ${goal}`);
}
mkdirSync('bench/results', { recursive: true });
const machine = { node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, loadavg: loadavg() };
console.log(`machine: ${machine.cpu}, ${machine.cores} cores, load average ${machine.loadavg.map((x) => x.toFixed(1)).join(' ')} (timings inflate under load)`);
writeFileSync('bench/results/erasure.json', JSON.stringify({ ...machine, date: new Date().toISOString(), rows }, null, 2));
console.log('wrote bench/results/erasure.json');
