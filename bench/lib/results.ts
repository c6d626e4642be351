/** Writing benchmark results: bench/results/<name>.json with the date and the machine. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineInfo, type MachineInfo } from './machine.ts';

/** bench/results, wherever the process was started. */
export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

/** Write `{date, machine, ...data}` to bench/results/<name>.json; returns the path. */
export function writeResults(name: string, data: Record<string, unknown>, machine: MachineInfo = machineInfo()): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, JSON.stringify({ date: new Date().toISOString(), machine, ...data }, null, 2) + '\n');
  return path;
}
