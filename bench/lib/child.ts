/**
 * Benchmarks in child processes: a fresh process per configuration (onnxruntime-web's WASM
 * initialises once per process, with one thread count), and results handed back as JSON through a
 * temp file named in BENCH_RESULT_FILE (stdout stays free for progress lines).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Result of a child run: its exit code, wall time (s) and the JSON it reported (if any). */
export interface ChildRun<T> {
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
  result: T | null;
  /** Last lines of its stderr, for errors. */
  stderrTail: string;
  /** Last ~6000 characters of its stdout (for benches that print but write no JSON). */
  stdoutTail: string;
}

/**
 * Run `script` with tsx in a new Node process (`node --expose-gc --import tsx script …args`),
 * stdout passed through with `prefix`, and wait for it. Kills it after `timeoutS`.
 */
export function runTsx<T>(script: string, args: string[] = [], options: { timeoutS?: number; prefix?: string; env?: Record<string, string> } = {}): Promise<ChildRun<T>> {
  const dir = mkdtempSync(join(tmpdir(), 'erasure-lab-bench-'));
  const resultFile = join(dir, 'result.json');
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env, BENCH_RESULT_FILE: resultFile },
    });
    const prefix = options.prefix ?? '';
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => {
      const s = b.toString();
      stdout = (stdout + s).slice(-6000);
      process.stdout.write(prefixLines(s, prefix));
    });
    child.stderr.on('data', (b: Buffer) => {
      const s = b.toString();
      stderr = (stderr + s).slice(-4000);
      process.stderr.write(prefixLines(s, prefix));
    });
    const timer = options.timeoutS ? setTimeout(() => child.kill('SIGKILL'), options.timeoutS * 1000) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      let result: T | null = null;
      if (existsSync(resultFile)) result = JSON.parse(readFileSync(resultFile, 'utf8')) as T;
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, seconds: (performance.now() - started) / 1000, result, stderrTail: stderr.split('\n').slice(-8).join('\n'), stdoutTail: stdout });
    });
  });
}

function prefixLines(s: string, prefix: string): string {
  if (!prefix) return s;
  return s.replace(/^(?=.)/gm, prefix);
}

/** In a child started by runTsx: hand `result` back to the parent (written as JSON). */
export function reportToParent(result: unknown): void {
  const file = process.env.BENCH_RESULT_FILE;
  if (!file) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  writeFileSync(file, JSON.stringify(result));
}
