/**
 * Browser storage for model files: bytes in the Origin Private File System (OPFS), small
 * metadata (sizes, ETags, running SHA-256 state, timestamps) in IndexedDB via idb-keyval.
 *
 * Why OPFS and not the Cache API: a Cache entry is one whole Response, written at once. It cannot
 * be appended to, so a download that drops at 1.2 GB of 1.7 GB starts again from zero, and
 * `cache.put` needs the whole body to arrive in one go. OPFS files can be written piece by piece
 * and read back as disk-backed `File`s, so nothing multi-GB is ever held in memory.
 *
 * Why chunk files: `createWritable()` (usable in windows and workers alike) only commits on
 * `close()`, and reopening with `keepExistingData` copies the whole file. So each model file is
 * stored as chunk files of CHUNK_BYTES (64 MiB): a chunk is committed as soon as it is full,
 * a reload or crash loses at most the chunk in progress, and resuming inside a chunk copies at
 * most one chunk. Reading concatenates the chunk `File`s into one Blob (still disk-backed), so
 * the ONNX layer can slice windows and onnxruntime can take its bytes.
 *
 * Layout: OPFS `erasure-lab-models/<model id>/<encodeURIComponent(path)>/<chunk index, 5 digits>`;
 * IndexedDB `erasure-lab-models` / `meta`, keys ['model', id] and ['file', id, path].
 */
import { createStore, delMany, entries, get, set, type UseStore } from 'idb-keyval';
import type { Sha256State } from './checksum.ts';
import type { ModelManifest } from './manifests.ts';

/** Size of one stored chunk file in bytes (a multiple of 64, so hash states align). */
export const CHUNK_BYTES = 64 * 1024 * 1024;
const ROOT_DIR = 'erasure-lab-models';

/** What the UI can offer as a button next to an error. */
export interface ErrorAction {
  kind: 'download' | 'resume' | 'restart' | 'redownload' | 'retry' | 'free-space' | 'sign-in' | 'check-manifest';
  /** Button text. */
  label: string;
}

/** Base of every storage and download error: a message for people and an action for a button. */
export class ModelStoreError extends Error {
  override name = 'ModelStoreError';
  constructor(message: string, readonly action: ErrorAction, readonly modelId?: string, readonly path?: string) {
    super(message);
  }
}

/** Not enough storage quota for the model. */
export class QuotaError extends ModelStoreError {
  override name = 'QuotaError';
  constructor(readonly neededBytes: number, readonly availableBytes: number | null, readonly quotaBytes: number | null, modelId?: string) {
    super(
      `This model needs ${formatBytes(neededBytes)} more storage, ` +
        (availableBytes === null ? 'but the browser refused to store more. ' : `but this site may store only ${formatBytes(availableBytes)} more (of ${formatBytes(quotaBytes ?? 0)} in all). `) +
        `Free disk space (browsers give each site a share of the free disk), delete cached models you no longer need, ` +
        `or leave private browsing, which allows very little storage.`,
      { kind: 'free-space', label: 'Manage stored models' },
      modelId,
    );
  }
}

/** A file that was never stored (or was deleted). */
export class NotStoredError extends ModelStoreError {
  override name = 'NotStoredError';
  constructor(modelId: string, path: string) {
    super(`${path} of model '${modelId}' is not stored in this browser. Download the model first.`, { kind: 'download', label: 'Download' }, modelId, path);
  }
}

/** A download that stopped part-way. */
export class PartialFileError extends ModelStoreError {
  override name = 'PartialFileError';
  constructor(modelId: string, path: string, bytes: number, size: number | null) {
    super(
      `${path} of model '${modelId}' is only partly downloaded (${formatBytes(bytes)}${size ? ` of ${formatBytes(size)}` : ''}). ` +
        `Resume the download to fetch the rest, or restart it.`,
      { kind: 'resume', label: 'Resume download' },
      modelId,
      path,
    );
  }
}

/** Stored bytes that do not match what was recorded (storage cleared, bit rot). */
export class CorruptFileError extends ModelStoreError {
  override name = 'CorruptFileError';
  constructor(modelId: string, path: string, detail: string) {
    super(`${path} of model '${modelId}' is damaged in storage (${detail}). Delete it and download it again.`, { kind: 'redownload', label: 'Delete and re-download' }, modelId, path);
  }
}

/** Bytes as "1.73 GB", "681 MB", "12.0 kB" (SI units, as download sizes are quoted). */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** Whether an exception is the browser refusing to store more. */
export function isQuotaExceeded(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: string }).name === 'QuotaExceededError';
}

/** What is recorded about one stored file. */
export interface StoredFileRecord {
  modelId: string;
  path: string;
  /** URL it was downloaded from ('' for imported files). */
  url: string;
  /** Total size in bytes as the server (or the manifest) gave it; null while unknown. */
  size: number | null;
  /** Bytes committed to storage. */
  bytes: number;
  chunkBytes: number;
  etag: string | null;
  lastModified: string | null;
  /** Running SHA-256 at `bytes` (so a resume continues the hash); null once complete. */
  hashState: Sha256State | null;
  /** Final SHA-256 (hex) once complete. */
  sha256: string | null;
  complete: boolean;
  startedAt: number;
  updatedAt: number;
}

/** What is recorded about a model (its manifest at download time). */
export interface StoredModelRecord {
  id: string;
  label: string;
  manifest: ModelManifest;
  updatedAt: number;
}

let metaStore: UseStore | null = null;
const meta = () => (metaStore ??= createStore('erasure-lab-models', 'meta'));

/** The record of one file, if any. */
export const getFileRecord = (modelId: string, path: string) => get<StoredFileRecord>(['file', modelId, path], meta());
/** Save the record of one file. */
export const putFileRecord = (r: StoredFileRecord) => set(['file', r.modelId, r.path], r, meta());
/** The record of one model, if any. */
export const getModelRecord = (modelId: string) => get<StoredModelRecord>(['model', modelId], meta());
/** Save the record of one model. */
export const putModelRecord = (r: StoredModelRecord) => set(['model', r.id], r, meta());

async function opfsRoot(): Promise<FileSystemDirectoryHandle> {
  if (!globalThis.navigator?.storage?.getDirectory) {
    throw new ModelStoreError(
      'This browser has no Origin Private File System (navigator.storage.getDirectory), which the app needs to keep models. Use a current Chrome, Edge, Firefox or Safari, outside private browsing.',
      { kind: 'retry', label: 'Try again' },
    );
  }
  return (await navigator.storage.getDirectory()).getDirectoryHandle(ROOT_DIR, { create: true });
}

const chunkName = (i: number) => String(i).padStart(5, '0');

/** The folder holding one file's chunks (created when `create`). */
async function fileDir(modelId: string, path: string, create: boolean): Promise<FileSystemDirectoryHandle> {
  const model = await (await opfsRoot()).getDirectoryHandle(modelId, { create });
  return model.getDirectoryHandle(encodeURIComponent(path), { create });
}

/**
 * Writes a file's bytes into chunk files from a start position. Callers write at most `room`
 * bytes at a time and call `commit()` when `room` is 0 (or to make progress durable early).
 */
export class ChunkWriter {
  private writable: FileSystemWritableFileStream | null = null;
  private index: number;
  private fill: number;

  private constructor(private readonly dir: FileSystemDirectoryHandle, readonly chunkBytes: number, start: number) {
    this.index = Math.floor(start / chunkBytes);
    this.fill = start % chunkBytes;
  }

  /** A writer positioned at byte `start` (bytes after it in storage are dropped). */
  static async open(modelId: string, path: string, start: number, chunkBytes = CHUNK_BYTES): Promise<ChunkWriter> {
    const w = new ChunkWriter(await fileDir(modelId, path, true), chunkBytes, start);
    if (w.fill > 0) {
      // Resume inside a chunk: keep its committed prefix (copies at most one chunk).
      const handle = await w.dir.getFileHandle(chunkName(w.index), { create: true });
      w.writable = await handle.createWritable({ keepExistingData: true });
      await w.writable.truncate(w.fill);
      await w.writable.seek(w.fill);
    }
    return w;
  }

  /** Bytes that still fit in the current chunk. */
  get room(): number {
    return this.chunkBytes - this.fill;
  }

  /** Append `bytes` (length ≤ room). */
  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length > this.room) throw new Error(`ChunkWriter.write: ${bytes.length} bytes do not fit in the ${this.room} left in this chunk.`);
    if (!this.writable) {
      const handle = await this.dir.getFileHandle(chunkName(this.index), { create: true });
      this.writable = await handle.createWritable({ keepExistingData: false });
    }
    await this.writable.write(bytes as Uint8Array<ArrayBuffer>);
    this.fill += bytes.length;
  }

  /** Make everything written so far durable; moves to the next chunk when this one is full. */
  async commit(): Promise<void> {
    const w = this.writable;
    this.writable = null;
    if (w) await w.close();
    if (this.fill === this.chunkBytes) {
      this.index++;
      this.fill = 0;
    }
  }

  /** Drop uncommitted bytes (after a failed commit). */
  async abort(): Promise<void> {
    const w = this.writable;
    this.writable = null;
    await w?.abort().catch(() => undefined);
  }
}

/** Whether storage still holds the first `bytes` of a file (chunks may have been evicted). */
export async function hasStoredPrefix(modelId: string, path: string, bytes: number, chunkBytes: number): Promise<boolean> {
  try {
    const dir = await fileDir(modelId, path, false);
    for (let i = 0, left = bytes; left > 0; i++, left -= chunkBytes) {
      const file = await (await dir.getFileHandle(chunkName(i))).getFile();
      if (file.size < Math.min(left, chunkBytes)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** The stored bytes of a file as one disk-backed Blob of `bytes` bytes. */
async function storedBlob(modelId: string, path: string, bytes: number, chunkBytes: number): Promise<Blob> {
  const dir = await fileDir(modelId, path, false);
  const parts: Blob[] = [];
  for (let i = 0, left = bytes; left > 0; i++, left -= chunkBytes) {
    const file = await (await dir.getFileHandle(chunkName(i))).getFile();
    const want = Math.min(left, chunkBytes);
    parts.push(file.size === want ? file : file.slice(0, want));
  }
  return new Blob(parts);
}

/**
 * A stored, complete model file as a Blob backed by storage (read it in windows with
 * `slice`, or whole with `arrayBuffer()` when under ~2 GB).
 * @throws NotStoredError, PartialFileError (resume), CorruptFileError (re-download)
 */
export async function openModelFile(modelId: string, path: string): Promise<Blob> {
  const rec = await getFileRecord(modelId, path);
  if (!rec) throw new NotStoredError(modelId, path);
  if (!rec.complete) throw new PartialFileError(modelId, path, rec.bytes, rec.size);
  let blob: Blob;
  try {
    blob = await storedBlob(modelId, path, rec.bytes, rec.chunkBytes);
  } catch (e) {
    throw new CorruptFileError(modelId, path, `its data is gone from storage: ${(e as Error).message}`);
  }
  if (blob.size !== rec.size) throw new CorruptFileError(modelId, path, `${blob.size} bytes stored, ${rec.size} expected`);
  return blob;
}

/** Remove one file's bytes and record. */
export async function removeStoredFile(modelId: string, path: string): Promise<void> {
  try {
    const model = await (await opfsRoot()).getDirectoryHandle(modelId);
    await model.removeEntry(encodeURIComponent(path), { recursive: true });
  } catch (e) {
    if ((e as Error).name !== 'NotFoundError') throw e;
  }
  await delMany([['file', modelId, path]], meta());
}

/** One stored file, for listing. */
export interface StoredFileInfo {
  path: string;
  bytes: number;
  size: number | null;
  complete: boolean;
  sha256: string | null;
  updatedAt: number;
}

/** One stored model, for listing: complete when every file of its manifest is complete. */
export interface StoredModel {
  id: string;
  label: string;
  files: StoredFileInfo[];
  /** Bytes in storage. */
  bytes: number;
  complete: boolean;
  /** Last write (ms since epoch). */
  updatedAt: number;
}

/** Every model with something stored, newest first. */
export async function listStoredModels(): Promise<StoredModel[]> {
  const all = await entries<IDBValidKey[], StoredFileRecord | StoredModelRecord>(meta());
  const models = new Map<string, StoredModel & { manifest?: ModelManifest }>();
  const model = (id: string) => {
    let m = models.get(id);
    if (!m) models.set(id, (m = { id, label: id, files: [], bytes: 0, complete: false, updatedAt: 0 }));
    return m;
  };
  for (const [key, value] of all) {
    if (key[0] === 'model') {
      const r = value as StoredModelRecord;
      Object.assign(model(r.id), { label: r.label, manifest: r.manifest, updatedAt: Math.max(model(r.id).updatedAt, r.updatedAt) });
    } else if (key[0] === 'file') {
      const r = value as StoredFileRecord;
      const m = model(r.modelId);
      m.files.push({ path: r.path, bytes: r.bytes, size: r.size, complete: r.complete, sha256: r.sha256, updatedAt: r.updatedAt });
      m.bytes += r.bytes;
      m.updatedAt = Math.max(m.updatedAt, r.updatedAt);
    }
  }
  return [...models.values()]
    .map(({ manifest, ...m }) => ({
      ...m,
      complete: !!manifest && manifest.files.every((f) => m.files.some((s) => s.path === f.path && s.complete)),
      files: m.files.sort((a, b) => a.path.localeCompare(b.path)),
    }))
    .sort((a, b) => b.updatedAt - a.updatedAt);
}

/** Delete a model's files and records (no error if nothing was stored). */
export async function deleteStoredModel(modelId: string): Promise<void> {
  try {
    await (await opfsRoot()).removeEntry(modelId, { recursive: true });
  } catch (e) {
    if ((e as Error).name !== 'NotFoundError') throw e;
  }
  const keys = (await entries<IDBValidKey[], unknown>(meta())).map(([k]) => k).filter((k) => k[1] === modelId);
  await delMany(keys, meta());
}

/** Delete every stored model. */
export async function deleteAllStoredModels(): Promise<void> {
  const ids = new Set((await entries<IDBValidKey[], unknown>(meta())).map(([k]) => String(k[1])));
  for (const id of ids) await deleteStoredModel(id);
  await (await navigator.storage.getDirectory()).removeEntry(ROOT_DIR, { recursive: true }).catch(() => undefined);
}

/** Usage and quota of this site's storage in bytes (nulls when the browser will not say). */
export async function storageEstimate(): Promise<{ usage: number | null; quota: number | null }> {
  const e = await globalThis.navigator?.storage?.estimate?.().catch(() => null);
  return { usage: e?.usage ?? null, quota: e?.quota ?? null };
}
