/**
 * One UNet configuration in a fresh process: `node --import tsx bench/lib/unet-child.ts '<UnetJob>'`
 * (started by bench/diffusion.ts through runTsx). A new process per configuration because
 * onnxruntime-web's WASM initialises once per process, with one thread count.
 *
 * Creates the session (timed), times each step case (warm-up excluded, median), optionally the
 * app's step interleaved with a bare run on the same session, and optionally the weight-editing
 * switch (patch 32 projections + create again). Reports a UnetJobResult.
 */
import { reportToParent } from './child.ts';
import { cpuMs, summarize, timeOnce, timeWithin } from './stats.ts';
import { loadUnetSource, stepInputs } from './unet-sources.ts';
import { bareStep, createUnetSession, loadNodeOrt, loadWebOrt } from './unet-session.ts';
import { appPipeline, appStep } from './app-step.ts';
import { patchAllProjections, randomEdit } from './switch-cost.ts';
import { median } from './stats.ts';
import type { AppResult, UnetJob, UnetJobResult } from './unet-job.ts';
import type { Ort } from '../../workers/ort-runtime.ts';

const GiB = 2 ** 30;
const job = JSON.parse(process.argv[2] ?? 'null') as UnetJob | null;
if (!job) throw new Error("usage: node --import tsx bench/lib/unet-child.ts '<UnetJob JSON>' (bench/diffusion.ts builds it)");

const log = (line: string) => console.log(`[${job.label}] ${line}`);
const result: UnetJobResult = { label: job.label, engine: job.engine, threads: job.threads, variant: job.variant, settings: job.settings, createMs: null, steps: [] };

const ort = job.engine === 'web' ? await loadWebOrt(job.threads) : await loadNodeOrt();
const source = job.engine === 'web' ? loadUnetSource(job.files) : null;
const settings = job.settings;
const preallocate = settings !== 'app' && !!settings.preallocateOutput;

let session;
try {
  const [s, ms] = await timeOnce(() => createUnetSession(job.engine, ort, job.threads, source, job.files, settings));
  session = s;
  result.createMs = ms;
  result.rssGiBAfterCreate = Math.round((process.memoryUsage().rss / GiB) * 100) / 100;
  log(`session created in ${(ms / 1000).toFixed(1)} s (rss ${result.rssGiBAfterCreate} GiB)`);
} catch (e) {
  result.createError = shortError(e);
  log(`session creation failed: ${result.createError}`);
  reportToParent(result);
  process.exit(0);
}

for (const c of job.cases) {
  try {
    const step = bareStep(ort, session, stepInputs(c.batch, c.latent), preallocate);
    const timing = await timeWithin(step, c);
    result.steps.push({ latent: c.latent, batch: c.batch, timing });
    log(`${c.latent * 8}² batch ${c.batch}: median ${(timing.median / 1000).toFixed(2)} s (CPU ${(timing.cpuMedian! / 1000).toFixed(2)} s) over ${timing.runs.length} run(s)`);
  } catch (e) {
    const error = shortError(e);
    result.steps.push({ latent: c.latent, batch: c.batch, error });
    log(`${c.latent * 8}² batch ${c.batch}: failed: ${error}`);
  }
}

if (job.app) {
  if (job.engine !== 'web') throw new Error('the app step runs on onnxruntime-web only');
  const a = job.app;
  const pipeline = await appPipeline(ort as Ort, session, job.files, a.latent, job.threads);
  const bare = bareStep(ort, session, stepInputs(a.batch, a.latent), false);
  const app = appStep(pipeline, a.batch);
  // Warm both (the app's first call also warms the text encoder and the VAE), then alternate
  // bare/app so the machine's load drifts over both alike.
  const start = performance.now();
  for (let i = 0; i < a.warmup; i++) { await bare(); await app(); }
  const bares: number[] = [];
  const bareCpu: number[] = [];
  const apps: number[] = [];
  const appCpu: number[] = [];
  const denoise: number[] = [];
  do {
    const c = cpuMs();
    const t = performance.now();
    await bare();
    bares.push(performance.now() - t);
    bareCpu.push(cpuMs() - c);
    const a = await app();
    apps.push(a.wallMs);
    appCpu.push(a.cpuMs);
    denoise.push(a.denoiseMs);
  } while (bares.length < a.maxReps && performance.now() - start + Math.max(...bares) + Math.max(...apps) <= a.budgetS * 1000);
  const appResult: AppResult = {
    latent: a.latent,
    batch: a.batch,
    bare: summarize(bares, bareCpu),
    app: summarize(apps, appCpu),
    denoiseMs: summarize(denoise),
    pairedRatio: median(apps.map((x, i) => x / bares[i]!)),
    cpuRatio: median(appCpu) / median(bareCpu),
  };
  result.app = appResult;
  log(`app step ${(appResult.app.median / 1000).toFixed(2)} s vs bare ${(appResult.bare.median / 1000).toFixed(2)} s (paired ratio ${appResult.pairedRatio.toFixed(3)}, CPU ratio ${appResult.cpuRatio.toFixed(3)}, ${apps.length} pairs)`);
  await Promise.all([pipeline.textEncoder.release(), pipeline.vaeDecoder.release()]);
}

if (job.recreatePatched) {
  if (job.engine !== 'web' || !source) throw new Error('recreatePatched runs on onnxruntime-web only');
  await session.release();
  const patched = await patchAllProjections(source, randomEdit(1));
  log(`patched ${patched.count} projections in ${patched.ms.toFixed(0)} ms (read-back max |Δ| ${patched.checkMaxAbs.toExponential(1)})`);
  const [again, createMs] = await timeOnce(() => createUnetSession(job.engine, ort, job.threads, source, job.files, settings));
  result.recreate = { patchMs: patched.ms, createMs, checkMaxAbs: patched.checkMaxAbs };
  log(`session re-created in ${(createMs / 1000).toFixed(1)} s`);
  await again.release();
} else {
  await session.release();
}

reportToParent(result);

/** First line of an error; onnxruntime's std::bad_alloc said plainly. */
function shortError(e: unknown): string {
  const line = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
  return line.includes('bad_alloc') ? `out of wasm memory (std::bad_alloc in ${line.includes('OrtRun') ? 'run' : 'session creation'})` : line.slice(0, 200);
}
