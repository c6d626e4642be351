/**
 * Diffusion engine timings on the full-size generated SD 1.5 UNet (tools/sdgen; random weights,
 * real cost per step): `npx tsx bench/diffusion.ts [--only steps,app,create,switch,search]
 * [--skip-wasm] [--full]`. Prints markdown tables; writes bench/results/diffusion.json.
 *
 *   steps   time per UNet step, 256² (latent 32) and 512² (latent 64), batch 1 and 2, in
 *           onnxruntime-web WASM (1 and 2 threads) and onnxruntime-node CPU (the native anchor)
 *   app     the app's step (runPipeline, workers/sd-pipeline.ts) against a bare session.run on the
 *           same session, interleaved; the session made by the worker's createSession
 *   create  session creation: fp16 external data, fp16 inline, fp32 external data
 *   switch  switching original ↔ erased: the context map (EditState.set + applyContextMap) against patching the 32
 *           projections with W·M and creating the UNet session again
 *   search  (not in the default run: ~10 min) bare-session settings at 256² batch 1
 *
 * Each configuration runs in its own process (WASM initialises once per process). Runs are timed
 * after a warm-up under a per-case budget, so a loaded machine gets fewer runs, not hours; the
 * run counts are in the table. Generated models are cached in the OS temp dir (bench/lib/sd15.ts).
 */
import { execSync } from 'node:child_process';
import { runTsx } from './lib/child.ts';
import { describeMachine, machineInfo } from './lib/machine.ts';
import { writeResults } from './lib/results.ts';
import { ensureSd15 } from './lib/sd15.ts';
import { applyCost, randomEdit, type ApplyCost } from './lib/switch-cost.ts';
import type { BareSettings, StepCase, UnetJob, UnetJobResult } from './lib/unet-job.ts';
import { diffusionReport, diffusionSummary } from './lib/diffusion-report.ts';

const PARTS = ['steps', 'app', 'create', 'switch', 'search'] as const;
type Part = (typeof PARTS)[number];
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const onlyArg = argv.find((a) => a.startsWith('--only='))?.slice(7) ?? (argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined);
const parts = new Set<Part>((onlyArg ? onlyArg.split(',') : PARTS.filter((p) => p !== 'search')) as Part[]);
for (const p of parts) if (!PARTS.includes(p)) throw new Error(`unknown part "${p}"; pick from ${PARTS.join(', ')} (e.g. --only steps,switch).`);
const skipWasm = flag('--skip-wasm');
const full = flag('--full');

/**
 * Bare-session settings of the WASM step table: the best found by `--only search` on this machine
 * (bench/README.md). At 256² 'all' (what the worker's createSession uses) costs the least CPU per
 * step; at 512² it runs out of wasm memory (fp32 copies of the fp16 weights, 5.6 GB rss), so the
 * best that runs there keeps the fp16 weights: 'basic'.
 */
const BEST_WASM_256: BareSettings = { graphOptimizationLevel: 'all' };
const BEST_WASM_512: BareSettings = { graphOptimizationLevel: 'basic' };
const NATIVE: BareSettings = { graphOptimizationLevel: 'all' };

const machine = machineInfo();
const uptimeBefore = uptime();
console.log(`diffusion bench on ${describeMachine(machine)}; parts: ${[...parts].join(', ')}${skipWasm ? ' (WASM skipped)' : ''}${full ? ' (full)' : ''}`);
console.log(`uptime: ${uptimeBefore}`);

const fp16ext = ensureSd15('fp16-ext');
const jobs: UnetJobResult[] = [];

async function run(job: UnetJob, timeoutS = 900): Promise<UnetJobResult | null> {
  const r = await runTsx<UnetJobResult>('bench/lib/unet-child.ts', [JSON.stringify(job)], { timeoutS });
  if (!r.result) {
    console.log(`[${job.label}] exited ${r.code ?? r.signal} after ${r.seconds.toFixed(0)} s without a result:\n${r.stderrTail}`);
    return null;
  }
  jobs.push(r.result);
  return r.result;
}

const c = (latent: number, batch: number, warmup: number, maxReps: number, budgetS: number): StepCase => ({ latent, batch, warmup, maxReps, budgetS });

if (parts.has('steps')) {
  // 256² batch 1 and 2 on every engine and thread count. 512²: 2 threads (the most this 2-core
  // machine has), batch 1 warmed and timed, batch 2 one run after it (a WASM 512² batch-2 step is
  // minutes here; --full warms and repeats it). WASM at 512² uses BEST_WASM_512: the app's
  // settings ('all') run out of wasm memory there, which the 'app 512' job shows.
  const wasm256 = (threads: number) => [c(32, 1, 1, 3, 60), c(32, 2, 1, threads === 1 && !full ? 1 : 2, 90)];
  const wasm512 = [c(64, 1, 1, full ? 3 : 2, full ? 400 : 150), c(64, 2, full ? 1 : 0, full ? 2 : 1, full ? 600 : 1)];
  const native = (threads: number) => [
    c(32, 1, 1, 5, 30),
    c(32, 2, 1, 3, 40),
    ...(threads === 2 || full ? [c(64, 1, 1, 3, 60), c(64, 2, 1, 2, 90)] : []),
  ];
  for (const threads of [1, 2]) {
    if (!skipWasm) await run({ label: `wasm ${threads}t`, engine: 'web', threads, variant: 'fp16-ext', files: fp16ext, settings: BEST_WASM_256, cases: wasm256(threads) });
    await run({ label: `native ${threads}t`, engine: 'node', threads, variant: 'fp16-ext', files: fp16ext, settings: NATIVE, cases: native(threads) });
  }
  if (!skipWasm) {
    await run({ label: 'wasm 2t', engine: 'web', threads: 2, variant: 'fp16-ext', files: fp16ext, settings: BEST_WASM_512, cases: wasm512 });
    await run({ label: 'app 512', engine: 'web', threads: 2, variant: 'fp16-ext', files: fp16ext, settings: 'app', cases: [c(64, 1, 0, 1, 1)] });
  }
}

if (parts.has('app') && !skipWasm) {
  // The app's session (createSession) and step, batch 2 (classifier-free guidance, as SD 1.x runs),
  // interleaved with bare runs; then the weight-editing switch on the same bytes. One thread: what
  // the app picks on 2 cores (wasmThreads), and CPU time then measures the work despite the load.
  await run({
    label: 'app 1t', engine: 'web', threads: 1, variant: 'fp16-ext', files: fp16ext, settings: 'app', cases: [],
    app: { latent: 32, batch: 2, warmup: 1, maxReps: full ? 6 : 3, budgetS: full ? 600 : 240 },
    recreatePatched: parts.has('switch'),
  });
}

if (parts.has('create') && !skipWasm) {
  const fp16 = ensureSd15('fp16');
  const fp32ext = ensureSd15('fp32-ext');
  await run({ label: 'create fp16 inline (app)', engine: 'web', threads: 1, variant: 'fp16', files: fp16, settings: 'app', cases: [] });
  await run({ label: 'create fp16 inline (basic)', engine: 'web', threads: 1, variant: 'fp16', files: fp16, settings: { graphOptimizationLevel: 'basic' }, cases: [] });
  await run({ label: 'create fp32 external (app)', engine: 'web', threads: 1, variant: 'fp32-ext', files: fp32ext, settings: 'app', cases: [] });
}

const apply: ApplyCost[] = [];
if (parts.has('switch')) {
  for (const rank of [1, 10]) apply.push(await applyCost(randomEdit(rank), rank));
}

if (parts.has('search') && !skipWasm) {
  const fp32ext = ensureSd15('fp32-ext');
  const fp16 = ensureSd15('fp16');
  const one = [c(32, 1, 1, 2, 90)];
  const withBig = [...one, c(64, 1, 0, 1, 1)];
  const variants: [string, UnetJob['files'], UnetJob['variant'], UnetJob['settings'], StepCase[]?][] = [
    ['search app', fp16ext, 'fp16-ext', 'app', withBig],
    ['search all+arena+pattern', fp16ext, 'fp16-ext', { graphOptimizationLevel: 'all', enableCpuMemArena: true, enableMemPattern: true }],
    ['search all+prealloc', fp16ext, 'fp16-ext', { graphOptimizationLevel: 'all', preallocateOutput: true }],
    ['search extended', fp16ext, 'fp16-ext', { graphOptimizationLevel: 'extended' }, withBig],
    ['search basic', fp16ext, 'fp16-ext', { graphOptimizationLevel: 'basic' }],
    ['search disabled', fp16ext, 'fp16-ext', { graphOptimizationLevel: 'disabled' }],
    ['search fp16 inline basic', fp16, 'fp16', { graphOptimizationLevel: 'basic' }],
    ['search fp32 all', fp32ext, 'fp32-ext', { graphOptimizationLevel: 'all' }, withBig],
  ];
  for (const [label, files, variant, settings, cases] of variants) await run({ label, engine: 'web', threads: 1, variant, files, settings, cases: cases ?? one });
}

const uptimeAfter = uptime();
const report = diffusionReport({ jobs, apply, skipWasm });
console.log(`\n${report}\n\nuptime before: ${uptimeBefore}\nuptime after:  ${uptimeAfter}`);
// The settings search has its own file, so a default run keeps its findings.
const path = writeResults(parts.size === 1 && parts.has('search') ? 'diffusion-search' : 'diffusion', {
  parts: [...parts],
  skipWasm,
  full,
  uptimeBefore,
  uptimeAfter,
  bestWasmSettings: { at256: BEST_WASM_256, at512: BEST_WASM_512 },
  webgpu: 'not measured: no GPU adapter on this machine (run on a GPU machine; see bench/README.md)',
  summary: diffusionSummary(jobs, apply),
  jobs,
  apply,
  table: report,
}, machine);
console.log(`wrote ${path}`);

function uptime(): string {
  try {
    return execSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `loadavg ${machineInfo().loadavg.join(' ')}`;
  }
}
