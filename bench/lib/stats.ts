/**
 * Timing helpers for benchmarks: run a function a few times after a warm-up and summarise the
 * wall times (ms). The median is the figure we report: this machine is shared and noisy.
 */

/** Summary of repeated wall times, in milliseconds. */
export interface Timing {
  median: number;
  min: number;
  max: number;
  /** Every measured run, in order (warm-up excluded). */
  runs: number[];
  /**
   * Median process CPU time (user + system, ms) per run, when measured. With one thread it is
   * the work itself and barely moves with the machine's load, unlike wall time; with more
   * threads it adds up all threads (spin-waiting included).
   */
  cpuMedian?: number;
  cpuRuns?: number[];
}

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of an empty list: measure at least one run.');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Summarise measured runs (ms), with their CPU times when given. */
export function summarize(runs: readonly number[], cpuRuns?: readonly number[]): Timing {
  const t: Timing = { median: median(runs), min: Math.min(...runs), max: Math.max(...runs), runs: [...runs] };
  if (cpuRuns?.length) {
    t.cpuMedian = median(cpuRuns);
    t.cpuRuns = [...cpuRuns];
  }
  return t;
}

/** Process CPU time so far (user + system), in ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Time `fn` `reps` times after `warmup` untimed calls; returns the summary (ms).
 * `fn` may be async; each call is awaited before the next starts.
 */
export async function timeRuns(fn: () => unknown, reps: number, warmup = 1): Promise<Timing> {
  if (reps < 1) throw new Error(`timeRuns: reps must be ≥ 1, got ${reps}.`);
  for (let i = 0; i < warmup; i++) await fn();
  const runs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn();
    runs.push(performance.now() - t);
  }
  return summarize(runs);
}

/** How many runs to time: a warm-up, then between 1 and `maxReps` runs while within `budgetS`. */
export interface RepPolicy {
  warmup: number;
  maxReps: number;
  /** Stop starting new runs once this many seconds (warm-up included) have passed; ≥ 1 run is always timed. */
  budgetS: number;
}

/**
 * Time `fn` under a budget: `warmup` untimed calls, then runs until `maxReps` or until another
 * run (as long as the slowest so far) would pass `budgetS`. Keeps slow cases (a 512² UNet step on
 * 2 cores) from blowing up the whole benchmark while fast ones get more runs.
 */
export async function timeWithin(fn: () => unknown, policy: RepPolicy): Promise<Timing> {
  const start = performance.now();
  for (let i = 0; i < policy.warmup; i++) await fn();
  const runs: number[] = [];
  const cpu: number[] = [];
  do {
    const c = cpuMs();
    const t = performance.now();
    await fn();
    runs.push(performance.now() - t);
    cpu.push(cpuMs() - c);
  } while (runs.length < policy.maxReps && performance.now() - start + Math.max(...runs) <= policy.budgetS * 1000);
  return summarize(runs, cpu);
}

/** Wall time of one call (ms) and its result. */
export async function timeOnce<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const t = performance.now();
  const result = await fn();
  return [result, performance.now() - t];
}

/** Round to `digits` significant-ish decimals for JSON and tables (ms ≥ 100 → integers). */
export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return x;
  const d = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : digits;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
