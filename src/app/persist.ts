/**
 * What the playground keeps across reloads, in IndexedDB (idb-keyval): the working session
 * (state + the lesson in progress), saved experiments (named states with their erasure summary),
 * rendered images (RGBA, keyed by grid job key) up to a byte budget, oldest dropped first, and
 * the judge's records of those images with the users' corrections (by the same key, so a saved
 * experiment or a reload finds them with its images).
 * Everything read back is validated as if it came from outside: a damaged record is dropped,
 * never run.
 */
import { createStore, del, get, keys, set, type UseStore } from 'idb-keyval';
import { validateState, type PlaygroundState } from './state.ts';
import { validateJudgeRecord, type JudgeRecord } from './judge-records.ts';

/** The few operations the persistence needs (idb-keyval's, or a Map in tests). */
export interface KeyValue {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
  keys(): Promise<string[]>;
}

/** idb-keyval in its own database (`erasure-lab-playground`). */
export function idbKeyValue(): KeyValue {
  let store: UseStore | null = null;
  const s = () => (store ??= createStore('erasure-lab-playground', 'kv'));
  return {
    get: (k) => get(k, s()),
    set: (k, v) => set(k, v, s()),
    del: (k) => del(k, s()),
    keys: async () => (await keys(s())).map(String),
  };
}

export interface StoredImage {
  width: number;
  height: number;
  /** RGBA, width·height·4 bytes. */
  rgba: Uint8ClampedArray;
}

export interface Session {
  state: PlaygroundState;
  lesson: { id: string; step: number } | null;
}

export interface Experiment {
  id: string;
  name: string;
  /** ms since epoch. */
  savedAt: number;
  state: PlaygroundState;
  /** One line about the erasure when it was saved (rank, ms), if it had been applied. */
  note: string;
}

interface ImageIndexEntry {
  key: string;
  bytes: number;
  at: number;
}

const SESSION = 'session';
const EXPERIMENT = 'exp:';
const IMAGE = 'img:';
const IMAGE_INDEX = 'img-index';
const JUDGE = 'judge:';
/** Default image budget: 96 MB (about 370 images at 256², 90 at 512²). */
export const IMAGE_BUDGET_BYTES = 96e6;

function isImage(x: unknown): x is StoredImage {
  const o = x as StoredImage;
  return (
    typeof o === 'object' && o !== null && Number.isInteger(o.width) && Number.isInteger(o.height) && o.width > 0 && o.height > 0 &&
    o.rgba instanceof Uint8ClampedArray && o.rgba.length === o.width * o.height * 4
  );
}

export class Persistence {
  constructor(
    private readonly kv: KeyValue = idbKeyValue(),
    private readonly imageBudget = IMAGE_BUDGET_BYTES,
  ) {}

  async saveSession(session: Session): Promise<void> {
    await this.kv.set(SESSION, { state: validateState(session.state), lesson: session.lesson });
  }

  /** The saved session, or null (none, or damaged: then it is deleted). */
  async loadSession(): Promise<Session | null> {
    const raw = await this.kv.get<{ state: unknown; lesson: unknown }>(SESSION);
    if (!raw) return null;
    try {
      const l = raw.lesson as Session['lesson'];
      const lesson = l && typeof l.id === 'string' && Number.isInteger(l.step) && l.step >= 0 ? { id: l.id, step: l.step } : null;
      return { state: validateState(raw.state), lesson };
    } catch {
      await this.kv.del(SESSION);
      return null;
    }
  }

  /** Save a named experiment; returns its id. */
  async saveExperiment(name: string, state: PlaygroundState, note = ''): Promise<string> {
    const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const exp: Experiment = { id, name: name.trim().slice(0, 80) || 'Untitled experiment', savedAt: Date.now(), state: validateState(state), note: note.slice(0, 200) };
    await this.kv.set(EXPERIMENT + id, exp);
    return id;
  }

  /** Saved experiments, newest first (damaged ones skipped). */
  async listExperiments(): Promise<Experiment[]> {
    const out: Experiment[] = [];
    for (const k of (await this.kv.keys()).filter((k) => k.startsWith(EXPERIMENT))) {
      const e = await this.kv.get<Experiment>(k);
      try {
        if (e && typeof e.name === 'string' && typeof e.savedAt === 'number') out.push({ ...e, state: validateState(e.state) });
      } catch {
        /* a damaged record is skipped, not shown */
      }
    }
    return out.sort((a, b) => b.savedAt - a.savedAt);
  }

  async deleteExperiment(id: string): Promise<void> {
    await this.kv.del(EXPERIMENT + id);
  }

  /** Keep a rendered image; drops the oldest images beyond the byte budget. */
  async putImage(key: string, image: StoredImage): Promise<void> {
    if (!isImage(image)) throw new Error(`putImage: not an RGBA image (width·height·4 bytes)`);
    const index = (await this.kv.get<ImageIndexEntry[]>(IMAGE_INDEX)) ?? [];
    const kept = index.filter((e) => e.key !== key);
    kept.push({ key, bytes: image.rgba.length, at: Date.now() });
    let total = kept.reduce((s, e) => s + e.bytes, 0);
    while (total > this.imageBudget && kept.length > 1) {
      const old = kept.shift()!;
      total -= old.bytes;
      await this.kv.del(IMAGE + old.key);
    }
    await this.kv.set(IMAGE + key, { width: image.width, height: image.height, rgba: image.rgba });
    await this.kv.set(IMAGE_INDEX, kept);
  }

  /** A kept image, or null (absent or damaged). */
  async getImage(key: string): Promise<StoredImage | null> {
    const x = await this.kv.get<unknown>(IMAGE + key);
    return isImage(x) ? x : null;
  }

  /** Count and bytes of kept images. */
  async imageUsage(): Promise<{ count: number; bytes: number }> {
    const index = (await this.kv.get<ImageIndexEntry[]>(IMAGE_INDEX)) ?? [];
    return { count: index.length, bytes: index.reduce((s, e) => s + e.bytes, 0) };
  }

  /** Keep the judge's record of an image (with its corrections), by the image's grid key. */
  async putJudgement(record: JudgeRecord): Promise<void> {
    const r = validateJudgeRecord(record);
    await this.kv.set(JUDGE + r.imageKey, r);
  }

  /** The judge's record of an image, or null (none, or damaged: then it is deleted). */
  async getJudgement(imageKey: string): Promise<JudgeRecord | null> {
    const x = await this.kv.get<unknown>(JUDGE + imageKey);
    if (x === undefined) return null;
    try {
      const r = validateJudgeRecord(x);
      if (r.imageKey !== imageKey) throw new Error('judge record: stored under another key');
      return r;
    } catch {
      await this.kv.del(JUDGE + imageKey);
      return null;
    }
  }

  /** Forget every kept image. */
  async clearImages(): Promise<void> {
    for (const k of (await this.kv.keys()).filter((k) => k.startsWith(IMAGE))) await this.kv.del(k);
    await this.kv.del(IMAGE_INDEX);
  }
}
