/** The diffusion worker's comlink API on `window.harness`, for tests that drive it directly. */
import * as Comlink from 'comlink';
import type { DiffusionWorkerApi } from '../../../workers/diffusion-api.ts';
import { getManifest } from '../../../src/lib/models/manifests.ts';

const worker = new Worker(new URL('../../../workers/diffusion.worker.ts', import.meta.url), { type: 'module' });
const api = Comlink.wrap<DiffusionWorkerApi>(worker);

/** Run a generation and return its pixels as a plain array (easy to hand back to the test). */
async function generatePixels(request: Parameters<DiffusionWorkerApi['generate']>[0]) {
  const r = await api.generate(request);
  return { width: r.width, height: r.height, provider: r.provider, rgba: Array.from(r.rgba) };
}

/** Another diffusion worker of the same origin (as the engine check's, or a second tab's). */
function spawnWorker() {
  return Comlink.wrap<DiffusionWorkerApi>(new Worker(new URL('../../../workers/diffusion.worker.ts', import.meta.url), { type: 'module' }));
}

Object.assign(window, { harness: { api, spawnWorker, Comlink, getManifest, generatePixels, baseUrl: new URL('../../../', location.href).href }, harnessReady: true });
