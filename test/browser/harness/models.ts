/**
 * Harness for test/browser/models-*.test.ts: the download/cache layer on `window.harness`, with
 * results made serialisable (progress events collected, errors as {name, message, action}) and
 * two ways to simulate a full disk.
 */
import { sha256OfBlob } from '../../../src/lib/models/checksum.ts';
import { downloadModel, type DownloadOptions, type DownloadProgress } from '../../../src/lib/models/download.ts';
import { getManifest, type ModelManifest } from '../../../src/lib/models/manifests.ts';
import * as store from '../../../src/lib/models/store.ts';

interface RunOptions extends Pick<DownloadOptions, 'baseUrl' | 'chunkBytes' | 'retries' | 'restart' | 'accessToken'> {
  /** Abort once this many bytes of the model are stored. */
  abortAtBytes?: number;
  progressIntervalMs?: number;
}

interface ErrorInfo {
  name: string;
  message: string;
  action?: store.ErrorAction;
  neededBytes?: number;
  availableBytes?: number | null;
}

const errorInfo = (e: unknown): ErrorInfo => {
  const x = e as Error & Partial<store.QuotaError>;
  return { name: x.name, message: x.message, action: x.action, neededBytes: x.neededBytes, availableBytes: x.availableBytes };
};

/** Download and collect every progress event; never throws. */
async function run(manifest: ModelManifest, opts: RunOptions = {}): Promise<{ ok: boolean; events: DownloadProgress[]; error?: ErrorInfo }> {
  const events: DownloadProgress[] = [];
  const ac = new AbortController();
  try {
    await downloadModel(manifest, {
      ...opts,
      progressIntervalMs: opts.progressIntervalMs ?? 0,
      signal: ac.signal,
      onProgress: (p) => {
        events.push(p);
        if (opts.abortAtBytes !== undefined && p.loaded >= opts.abortAtBytes) ac.abort();
      },
    });
    return { ok: true, events };
  } catch (e) {
    return { ok: false, events, error: errorInfo(e) };
  }
}

/** Start a download without waiting (for the reload test). */
function start(manifest: ModelManifest, opts: RunOptions = {}): void {
  void run(manifest, opts);
}

/** Size and SHA-256 of a stored file, or the error openModelFile raised. */
async function stored(id: string, path: string): Promise<{ size: number; sha256: string } | { error: ErrorInfo }> {
  try {
    const blob = await store.openModelFile(id, path);
    return { size: blob.size, sha256: await sha256OfBlob(blob, 1 << 20) };
  } catch (e) {
    return { error: errorInfo(e) };
  }
}

/** Names under the OPFS models folder (model ids), to check deletion really frees storage. */
async function opfsModelDirs(): Promise<string[]> {
  const root = await navigator.storage.getDirectory();
  const names: string[] = [];
  try {
    const dir = await root.getDirectoryHandle('erasure-lab-models');
    for await (const key of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(key);
  } catch {
    /* no folder yet */
  }
  return names.sort();
}

const realWrite = FileSystemWritableFileStream.prototype.write;
/** Make OPFS writes throw QuotaExceededError once `bytes` more have been written (a full disk). */
function failWritesAfter(bytes: number): void {
  let written = 0;
  FileSystemWritableFileStream.prototype.write = function (this: FileSystemWritableFileStream, data: FileSystemWriteChunkType) {
    const n = (data as ArrayBufferView).byteLength ?? 0;
    if (written + n > bytes) return Promise.reject(new DOMException('The quota has been exceeded.', 'QuotaExceededError'));
    written += n;
    return realWrite.call(this, data);
  };
}

const realEstimate = navigator.storage.estimate.bind(navigator.storage);
/** Make navigator.storage.estimate report a small quota (as in private browsing or a full disk). */
function fakeEstimate(usage: number, quota: number): void {
  navigator.storage.estimate = async () => ({ usage, quota });
}

function restoreStorage(): void {
  FileSystemWritableFileStream.prototype.write = realWrite;
  navigator.storage.estimate = realEstimate;
}

Object.assign(window, {
  harness: {
    run, start, stored, opfsModelDirs, failWritesAfter, fakeEstimate, restoreStorage, getManifest,
    list: store.listStoredModels,
    record: store.getFileRecord,
    deleteModel: store.deleteStoredModel,
    deleteAll: store.deleteAllStoredModels,
  },
  harnessReady: true,
});
