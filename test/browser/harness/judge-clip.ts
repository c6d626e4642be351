/**
 * Harness for test/browser/judge-clip.test.ts: the judge worker's CLIP text model
 * (loadClip / similarity) on `window.harness`, plus decidePresence with the worker's similarity
 * as its callback. Results are serialisable (progress collected, errors as {name, message}).
 */
import * as Comlink from 'comlink';
import type { ClipLoadRequest, JudgeProgress, JudgeWorkerApi } from '../../../workers/judge-api.ts';
import { decidePresence, type PresenceInput, type PresenceOptions } from '../../../src/lib/eval/presence.ts';

const worker = new Worker(new URL('../../../workers/judge.worker.ts', import.meta.url), { type: 'module' });
const api = Comlink.wrap<JudgeWorkerApi>(worker);

const errorInfo = (e: unknown) => ({ name: (e as Error).name, message: (e as Error).message });
const attempt = async <T>(f: () => Promise<T>) => {
  try {
    return { ok: true, result: await f() };
  } catch (e) {
    return { ok: false, error: errorInfo(e) };
  }
};

async function loadClip(request: ClipLoadRequest) {
  const events: JudgeProgress[] = [];
  return { ...(await attempt(() => api.loadClip(request, Comlink.proxy((p: JudgeProgress) => void events.push(p))))), events };
}

const similarity = (concept: string, words: string[]) => attempt(() => api.similarity(concept, words));

/** decidePresence with the worker's similarity (the page's wiring in src/ui/judge.svelte.ts). */
const decide = (concept: string, input: PresenceInput, options: Omit<PresenceOptions, 'similarity'>) =>
  attempt(() => decidePresence(concept, input, { ...options, similarity: (c, w) => api.similarity(c, w) }));

Object.assign(window, { harness: { loadClip, similarity, decide, cacheNames: () => caches.keys() }, harnessReady: true });
