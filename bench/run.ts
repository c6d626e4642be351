/**
 * All benchmarks: `npm run bench` (= tsx bench/run.ts), or a subset: `npm run bench -- diffusion onnx`.
 * Flags (--…) are passed to every selected bench (e.g. `npm run bench -- diffusion --full`).
 *
 * Runs each bench/<name>.ts in its own process (`node --expose-gc --import tsx`), one after the
 * other (timings must not share the CPU), prints one combined markdown table of their headline
 * numbers and writes bench/results/all.json: date, machine (CPU model, cores, memory, Node),
 * uptime before and after, and each bench's own JSON (bench/results/<name>.json).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { join } from 'node:path';
import { runTsx } from './lib/child.ts';
import { describeMachine, machineInfo } from './lib/machine.ts';
import { RESULTS_DIR, writeResults } from './lib/results.ts';
import { summarize, type SummaryRow } from './lib/summaries.ts';
import { markdownTable } from './lib/table.ts';

/** Cheap first, the long diffusion bench last; any other bench/*.ts after these, by name. */
const ORDER = ['erasure', 'onnx', 'attention', 'judge', 'diffusion'];
const BENCH_DIR = 'bench';

const found = readdirSync(BENCH_DIR).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.slice(0, -3));
const all = [...ORDER.filter((n) => found.includes(n)), ...found.filter((n) => !ORDER.includes(n)).sort()];
const args = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith('-') && !/^\d/.test(a) && !args[args.indexOf(a) - 1]?.startsWith('--only'));
const flags = args.filter((a) => !names.includes(a));
for (const n of names) {
  if (!all.includes(n)) throw new Error(`no bench named "${n}": there are ${all.join(', ')} (bench/<name>.ts).`);
}
const selected = names.length ? all.filter((n) => names.includes(n)) : all;

const machine = machineInfo();
const uptimeBefore = uptime();
console.log(`benchmarks: ${selected.join(', ')}\nmachine: ${describeMachine(machine)}\nuptime: ${uptimeBefore}\n`);

interface BenchRun {
  exitCode: number | null;
  seconds: number;
  /** bench/results/<name>.json as this run wrote it; null when it wrote none (or an old one was left). */
  result: unknown;
  /** Its last printed lines, for benches that write no JSON. */
  stdoutTail?: string;
  error?: string;
}
const benches: Record<string, BenchRun> = {};
const rows: SummaryRow[][] = [];

for (const name of selected) {
  console.log(`\n=== ${name} ===`);
  const started = Date.now();
  const r = await runTsx(join(BENCH_DIR, `${name}.ts`), flags);
  const file = join(RESULTS_DIR, `${name}.json`);
  const fresh = existsSync(file) && statSync(file).mtimeMs >= started;
  const result: unknown = fresh ? JSON.parse(readFileSync(file, 'utf8')) : null;
  benches[name] = {
    exitCode: r.code,
    seconds: Math.round(r.seconds),
    result,
    ...(fresh ? {} : { stdoutTail: r.stdoutTail }),
    ...(r.code !== 0 ? { error: r.stderrTail } : {}),
  };
  console.log(`=== ${name}: exit ${r.code ?? r.signal}, ${r.seconds.toFixed(0)} s${fresh ? '' : ' (no fresh JSON)'}`);
  rows.push(summarize(name, result).map((s) => ({ ...s, measurement: `${name}: ${s.measurement}` })));
}

const uptimeAfter = uptime();
const table = markdownTable(
  ['measurement', 'value', 'goal'],
  [
    ...rows.flat().map((s) => [s.measurement, s.value, s.goal ?? '']),
    ...selected.map((n) => [`${n}: wall time of the bench`, `${benches[n]!.seconds} s${benches[n]!.exitCode === 0 ? '' : ` (exit ${benches[n]!.exitCode})`}`, '']),
  ],
);
console.log(`\n${table}\n\n${describeMachine(machine)}\nuptime before: ${uptimeBefore}\nuptime after:  ${uptimeAfter}`);
const path = writeResults('all', { benches: selected, uptimeBefore, uptimeAfter, results: benches, table }, machine);
console.log(`wrote ${path}`);
process.exitCode = Object.values(benches).some((b) => b.exitCode !== 0) ? 1 : 0;

function uptime(): string {
  try {
    return execSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `loadavg ${machineInfo().loadavg.join(' ')}`;
  }
}
