/**
 * Where a model's files live for the worker: browser storage (OPFS, via the models layer) or,
 * when the page may not store anything — an embed on another site, where browsers refuse
 * third-party storage — memory, for this visit only.
 */
import { modelFileUrl, type DownloadProgress } from '../src/lib/models/download.ts';
import type { ModelManifest } from '../src/lib/models/manifests.ts';
import { openModelFile } from '../src/lib/models/store.ts';

/** Files held in memory, by model id then path. */
const memory = new Map<string, Map<string, Blob>>();

/** True when an error says the page may not use OPFS / IndexedDB (not a full disk or a network fault). */
export function isStorageRefused(e: unknown): boolean {
  const err = e as { name?: string; message?: string } | null;
  const text = `${err?.name ?? ''} ${err?.message ?? ''}`;
  return /SecurityError|NotAllowedError|denied permission|access to storage is not allowed|storage.*(blocked|not allowed)/i.test(text);
}

/** A file of a model: from memory when it was fetched there, else from browser storage. */
export async function openFile(manifest: ModelManifest, path: string): Promise<Blob> {
  return memory.get(manifest.id)?.get(path) ?? openModelFile(manifest.id, path);
}

/**
 * Fetch every file of a manifest into memory, reporting progress as the storage path does. For
 * pages without storage: nothing survives a reload, and a multi-GB model may not fit.
 */
export async function downloadToMemory(
  manifest: ModelManifest,
  baseUrl: string | undefined,
  onProgress?: (p: DownloadProgress) => void,
  signal?: AbortSignal,
): Promise<void> {
  const files = new Map<string, Blob>();
  const total = manifest.files.reduce((s, f) => s + (f.size === 'unknown' ? f.approxSize : f.size), 0);
  const t0 = performance.now();
  let loaded = 0;
  for (const f of manifest.files) {
    const url = modelFileUrl(manifest, f.path, baseUrl ? { baseUrl } : {});
    const response = await fetch(url, signal ? { signal } : {});
    if (!response.ok || !response.body) throw new Error(`Could not fetch ${f.path}: HTTP ${response.status} ${response.statusText}.`);
    const fileTotal = Number(response.headers.get('Content-Length')) || null;
    const parts: Uint8Array[] = [];
    let fileLoaded = 0;
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      fileLoaded += value.length;
      loaded += value.length;
      const seconds = (performance.now() - t0) / 1000;
      const bytesPerSecond = seconds > 0.5 ? loaded / seconds : null;
      onProgress?.({
        modelId: manifest.id, file: f.path, phase: 'downloading', fileLoaded, fileTotal, loaded, total: Math.max(total, loaded),
        received: loaded, delta: value.length, bytesPerSecond, etaSeconds: bytesPerSecond ? Math.max(0, total - loaded) / bytesPerSecond : null,
      });
    }
    if (f.size !== 'unknown' && fileLoaded !== f.size) {
      throw new Error(`${f.path} arrived with ${fileLoaded} bytes, expected ${f.size}: the connection dropped or the file changed. Try again.`);
    }
    files.set(f.path, new Blob(parts as BlobPart[]));
  }
  memory.set(manifest.id, files);
  onProgress?.({
    modelId: manifest.id, file: '', phase: 'done', fileLoaded: 0, fileTotal: null, loaded, total: loaded,
    received: loaded, delta: 0, bytesPerSecond: null, etaSeconds: 0,
  });
}

/** Forget a model held in memory (all models with 'all'). */
export function dropFromMemory(modelId: string | 'all'): void {
  if (modelId === 'all') memory.clear();
  else memory.delete(modelId);
}
