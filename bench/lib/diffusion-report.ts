/** The diffusion bench's markdown tables, from the children's results (bench/diffusion.ts). */
import { formatMs, formatRatio, markdownTable, type Cell } from './table.ts';
import { describeSettings, type UnetJobResult } from './unet-job.ts';
import type { ApplyCost } from './switch-cost.ts';
import type { Timing } from './stats.ts';

/** "6.98 s (n=2)", with the CPU time for one-thread runs ("6.98 s, CPU 6.91 s (n=2)"). */
const cell = (t: Timing | undefined, cpu = false): Cell =>
  t ? `${formatMs(t.median)}${cpu && t.cpuMedian !== undefined ? `, CPU ${formatMs(t.cpuMedian)}` : ''} (n=${t.runs.length})` : '—';

/** A job's cell for one shape: its timing, "fails: …", or '—' when not measured; `note` is appended. */
function stepCell(job: UnetJobResult | undefined, latent: number, batch: number, note = ''): Cell {
  const s = job?.steps.find((x) => x.latent === latent && x.batch === batch);
  if (!s) return job?.createError ? 'session fails' : '—';
  return (s.timing ? cell(s.timing, job!.threads === 1) : `fails: ${s.error}`) + note;
}
const shape = (latent: number, batch: number) => `${latent * 8}×${latent * 8}, batch ${batch}`;

function stepOf(job: UnetJobResult | undefined, latent: number, batch: number): Timing | undefined {
  return job?.steps.find((s) => s.latent === latent && s.batch === batch)?.timing;
}

/** The job with `label` that measured this shape (a column may come from several jobs, e.g. 512² with other settings). */
function jobFor(jobs: UnetJobResult[], label: string, latent: number, batch: number): UnetJobResult | undefined {
  const all = jobs.filter((j) => j.label === label);
  return all.find((j) => j.steps.some((s) => s.latent === latent && s.batch === batch)) ?? all[0];
}

/** Per-step medians per engine/threads, with the WASM/native ratio at equal threads. */
function stepsTable(jobs: UnetJobResult[]): string | null {
  const labels = ['wasm 1t', 'wasm 2t', 'native 1t', 'native 2t'];
  const present = jobs.filter((j) => labels.includes(j.label));
  if (!present.length) return null;
  const shapes = [...new Map(present.flatMap((j) => j.steps.map((s) => [`${s.latent}/${s.batch}`, s] as const))).values()]
    .sort((a, b) => a.latent - b.latent || a.batch - b.batch);
  const first = jobs.find((j) => j.label.startsWith('wasm'));
  const rows = shapes.map((s) => {
    const js = labels.map((l) => jobFor(jobs, l, s.latent, s.batch));
    const t = js.map((j) => stepOf(j, s.latent, s.batch));
    const ratio = (w?: Timing, n?: Timing) => (w && n ? formatRatio(w.median / n.median) : '—');
    const cpuRatio = (w?: Timing, n?: Timing) => (w?.cpuMedian && n?.cpuMedian ? ` (CPU ${formatRatio(w.cpuMedian / n.cpuMedian)})` : '');
    const note = (j?: UnetJobResult) => (j && first && j.engine === 'web' && describeSettings(j.settings) !== describeSettings(first.settings) ? ` [${describeSettings(j.settings)}]` : '');
    return [shape(s.latent, s.batch), ...js.map((j) => stepCell(j, s.latent, s.batch, note(j))), ratio(t[0], t[2]) + cpuRatio(t[0], t[2]), ratio(t[1], t[3])];
  });
  const app512 = jobs.find((j) => j.label === 'app 512');
  const appNote = app512 ? `\nWith the app's createSession settings (all), 512×512 batch 1, 2 threads: ${stepCell(app512, 64, 1)}` : '';
  return `UNet step, sd15 fp16 weights (external data), median after warm-up (n = timed runs; a 512² batch-2 WASM figure with n=1 is one run right after the batch-1 runs)` +
    (first ? `; WASM session: ${describeSettings(first.settings)} unless marked [..]; native: all` : '') + appNote + '\n\n' +
    markdownTable(['image, batch', 'WASM 1 thread', 'WASM 2 threads', 'native 1 thread', 'native 2 threads', 'WASM/native 1t', 'WASM/native 2t'], rows);
}

/** The app's step against a bare run on the same session, and against the best bare session. */
function appTable(jobs: UnetJobResult[]): string | null {
  const job = jobs.find((j) => j.app);
  if (!job?.app) return null;
  const a = job.app;
  const bestJob = jobFor(jobs, `wasm ${job.threads}t`, a.latent, a.batch);
  const best = stepOf(bestJob, a.latent, a.batch);
  const rows: Cell[][] = [
    [`bare session.run, same session (${describeSettings(job.settings)})`, cell(a.bare, true), '1', ''],
    ['app step in runPipeline (feed, run, readFloat32, guidance, scheduler)', cell(a.app, true), `${formatRatio(a.app.median / a.bare.median)} (paired ${formatRatio(a.pairedRatio)}, CPU ${formatRatio(a.cpuRatio)})`, '≤ ×1.10'],
  ];
  if (best) {
    const cpu = best.cpuMedian && a.app.cpuMedian ? `, CPU ${formatRatio(a.app.cpuMedian / best.cpuMedian)}` : '';
    rows.push([`bare, best settings (separate process: ${describeSettings(bestJob!.settings)})`, cell(best, true), `app/this ${formatRatio(a.app.median / best.median)}${cpu}`, '≤ ×1.10']);
  }
  return `App step vs bare onnxruntime-web, ${shape(a.latent, a.batch)}, ${job.threads} WASM thread${job.threads > 1 ? 's' : ''} (bare and app runs alternate)\n\n` +
    markdownTable(['what', 'per step', 'ratio to bare', 'goal'], rows);
}

/** Session creation times (bytes already in memory). */
function createTable(jobs: UnetJobResult[]): string | null {
  const rows: Cell[][] = jobs.filter((j) => j.engine === 'web' && !j.label.startsWith('search')).map((j) => [
    j.variant === 'fp16' ? 'fp16 inline (1.7 GB .onnx)' : j.variant === 'fp16-ext' ? 'fp16 + weights.pb (1.7 GB)' : 'fp32 + weights.pb (3.4 GB)',
    `${describeSettings(j.settings)}, ${j.threads}t`,
    j.createMs !== null ? formatMs(j.createMs) : `fails: ${j.createError}`,
    j.rssGiBAfterCreate ?? '',
  ]);
  const again = jobs.find((j) => j.recreate);
  if (again?.recreate) rows.push(['fp16 + weights.pb, patched, same process (wasm memory already grown)', `${describeSettings(again.settings)}, ${again.threads}t`, formatMs(again.recreate.createMs), '']);
  if (!rows.length) return null;
  return 'Session creation in onnxruntime-web WASM (sd15 UNet; file bytes already in memory)\n\n' + markdownTable(['UNet file', 'settings', 'create', 'rss after (GiB)'], rows);
}

/** Switching original ↔ erased: context map vs patched weights + new session. */
function switchTable(jobs: UnetJobResult[], apply: ApplyCost[]): string | null {
  if (!apply.length) return null;
  const again = jobs.find((j) => j.recreate)?.recreate;
  const recreateMs = again ? again.patchMs + again.createMs : null;
  const rows: Cell[][] = apply.flatMap((a) => [
    [`context map rank ${a.rank}: applyContextMap on cond + uncond [1,77,768] (WASM path)`, formatMs(a.applyBothBranches.median), recreateMs ? formatRatio(recreateMs / a.applyBothBranches.median) : '—', '< 5 ms'],
    [`context map rank ${a.rank}: EditState.set (load a saved map)`, formatMs(a.set.median), '', ''],
  ]);
  if (again) {
    rows.push(['weight editing: read 32 to_k/to_v, W·M, patch in place', formatMs(again.patchMs), '', '']);
    rows.push(['weight editing: + create the UNet session again', formatMs(again.createMs), '', '']);
    rows.push(['weight editing total', formatMs(recreateMs), '', '']);
  }
  return 'Switching between original and erased (ratio = weight editing total / context map)\n\n' + markdownTable(['how', 'time', 'ratio', 'goal'], rows);
}

/** Bare-session settings search at 256² batch 1. */
function searchTable(jobs: UnetJobResult[]): string | null {
  const found = jobs.filter((j) => j.label.startsWith('search'));
  if (!found.length) return null;
  const base = stepOf(found.find((j) => j.settings === 'app'), 32, 1);
  const rows = found.map((j) => {
    const t = stepOf(j, 32, 1);
    const vs = t?.cpuMedian && base?.cpuMedian ? formatRatio(t.cpuMedian / base.cpuMedian) : '—';
    return [j.variant, describeSettings(j.settings), j.createMs !== null ? formatMs(j.createMs) : `fails: ${j.createError}`, j.rssGiBAfterCreate ?? '', stepCell(j, 32, 1), vs, stepCell(j, 64, 1)];
  });
  return `Bare onnxruntime-web settings, ${found[0]!.threads} thread, one process each (in this order); "vs app" compares CPU time per step, ` +
    `which load barely moves; 512² is one unwarmed run, to see whether it fits in wasm memory\n\n` +
    markdownTable(['UNet file', 'settings', 'create', 'rss GiB', '256² batch 1 step', 'vs app (CPU)', '512² batch 1, 1 run'], rows);
}

/** Every table that has data, separated by blank lines. */
export function diffusionReport(input: { jobs: UnetJobResult[]; apply: ApplyCost[]; skipWasm: boolean }): string {
  const { jobs, apply } = input;
  const tables = [stepsTable(jobs), appTable(jobs), createTable(jobs), switchTable(jobs, apply), searchTable(jobs)].filter((t): t is string => t !== null);
  tables.push('WebGPU: not measured here (no GPU adapter on this machine).');
  return tables.join('\n\n');
}

/** Headline rows for bench/run.ts's combined table ({measurement, value, goal}). */
export function diffusionSummary(jobs: UnetJobResult[], apply: ApplyCost[]): { measurement: string; value: string; goal?: string }[] {
  const out: { measurement: string; value: string; goal?: string }[] = [];
  const by = (label: string) => jobs.find((j) => j.label === label);
  for (const [label, name] of [['wasm 1t', 'WASM 1 thread'], ['wasm 2t', 'WASM 2 threads'], ['native 1t', 'native 1 thread'], ['native 2t', 'native 2 threads']] as const) {
    for (const j of jobs.filter((x) => x.label === label)) {
      for (const s of j.steps) out.push({ measurement: `UNet step ${shape(s.latent, s.batch)}, ${name}${j.engine === 'web' ? ` (${describeSettings(j.settings)})` : ''}`, value: String(stepCell(j, s.latent, s.batch)) });
    }
  }
  for (const t of [1, 2]) {
    const w = stepOf(by(`wasm ${t}t`), 32, 1), n = stepOf(by(`native ${t}t`), 32, 1);
    if (w && n) out.push({ measurement: `WASM/native per step, 256×256 batch 1, ${t} thread${t > 1 ? 's' : ''}`, value: formatRatio(w.median / n.median) });
  }
  const app = jobs.find((j) => j.app)?.app;
  if (app) out.push({ measurement: `app step / bare session.run, ${shape(app.latent, app.batch)}`, value: `${formatRatio(app.app.median / app.bare.median)} (paired ${formatRatio(app.pairedRatio)}, CPU ${formatRatio(app.cpuRatio)})`, goal: '≤ ×1.10' });
  const app512 = jobs.find((j) => j.label === 'app 512');
  if (app512) out.push({ measurement: "UNet step 512×512 batch 1 with the app's createSession (basic on WASM)", value: String(stepCell(app512, 64, 1)) });
  for (const j of jobs.filter((x) => x.engine === 'web' && !x.label.startsWith('search') && x.label.startsWith('create') || x.app)) {
    out.push({ measurement: `session create, ${j.variant}, ${describeSettings(j.settings)}`, value: j.createMs !== null ? formatMs(j.createMs) : `fails (${j.createError?.slice(0, 60)})` });
  }
  const again = jobs.find((j) => j.recreate)?.recreate;
  for (const a of apply) out.push({ measurement: `switch by context map, rank ${a.rank} (both branches)`, value: formatMs(a.applyBothBranches.median), goal: '< 5 ms' });
  if (again) {
    out.push({ measurement: 'switch by weight editing (patch 32 + new session)', value: formatMs(again.patchMs + again.createMs) });
    if (apply[0]) out.push({ measurement: 'weight editing / context map (rank 1)', value: formatRatio((again.patchMs + again.createMs) / apply[0].applyBothBranches.median) });
  }
  return out;
}
