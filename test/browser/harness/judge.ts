/**
 * Harness for test/browser/judge-*.test.ts: the judge worker (workers/judge.worker.ts) on
 * `window.harness`, with results made serialisable (progress collected, errors as {name, message}).
 */
import * as Comlink from 'comlink';
import type { JudgeLoadRequest, JudgeProgress, JudgeTaskRequest, JudgeWorkerApi } from '../../../workers/judge-api.ts';

const worker = new Worker(new URL('../../../workers/judge.worker.ts', import.meta.url), { type: 'module' });
const api = Comlink.wrap<JudgeWorkerApi>(worker);

const errorInfo = (e: unknown) => ({ name: (e as Error).name, message: (e as Error).message });

/** Load the judge and collect every progress report; never throws. */
async function load(request: JudgeLoadRequest) {
  const events: JudgeProgress[] = [];
  try {
    const result = await api.load(request, Comlink.proxy((p: JudgeProgress) => void events.push(p)));
    return { ok: true, result, events };
  } catch (e) {
    return { ok: false, events, error: errorInfo(e) };
  }
}

/** Judge a synthetic RGBA image (a colour gradient) of the given size; never throws. */
async function judge(width: number, height: number, tasks: JudgeTaskRequest[]) {
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rgba.set([(x * 255) / width, (y * 255) / height, 128, 255], (y * width + x) * 4);
  }
  try {
    return { ok: true, result: await api.judge({ width, height, rgba }, tasks) };
  } catch (e) {
    return { ok: false, error: errorInfo(e) };
  }
}

/** Names of the Cache API caches of this origin (transformers.js would use 'transformers-cache'). */
const cacheNames = () => caches.keys();

Object.assign(window, { harness: { load, judge, cacheNames, unload: () => api.unload() }, harnessReady: true });
