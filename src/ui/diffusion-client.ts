/** The page's handles on diffusion workers (comlink). */
import * as Comlink from 'comlink';
import type { DiffusionWorkerApi } from '../../workers/diffusion-api.ts';

export type DiffusionWorker = Comlink.Remote<DiffusionWorkerApi>;

/** A new worker with its own sessions (the engine check uses one apart from the playground's). */
export function createDiffusionWorker(name = 'diffusion'): DiffusionWorker {
  return Comlink.wrap<DiffusionWorkerApi>(
    new Worker(new URL('../../workers/diffusion.worker.ts', import.meta.url), { type: 'module', name }),
  );
}

let shared: DiffusionWorker | null = null;

/** The playground's worker: one per page. */
export function diffusionWorker(): DiffusionWorker {
  shared ??= createDiffusionWorker();
  return shared;
}

export { Comlink };
