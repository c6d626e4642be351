/** The page's handle on the diffusion worker (comlink). One worker per page. */
import * as Comlink from 'comlink';
import type { DiffusionWorkerApi } from '../../workers/diffusion-api.ts';

let api: Comlink.Remote<DiffusionWorkerApi> | null = null;

export function diffusionWorker(): Comlink.Remote<DiffusionWorkerApi> {
  api ??= Comlink.wrap<DiffusionWorkerApi>(
    new Worker(new URL('../../workers/diffusion.worker.ts', import.meta.url), { type: 'module', name: 'diffusion' }),
  );
  return api;
}

export { Comlink };
