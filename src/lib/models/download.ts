/**
 * Download a model into browser storage (store.ts) with progress, resume and integrity checks.
 *
 * Each file streams from the network into storage chunk by chunk while its SHA-256 is computed
 * (checksum.ts); after every committed chunk the byte count and the running hash state are
 * recorded, so after a reload, a dropped connection or an abort the download resumes with
 * `Range: bytes=N-` and the hash continues from N without re-reading anything. A server that
 * ignores Range (200 instead of 206) restarts that file cleanly; a file that changed upstream
 * (size, ETag or Last-Modified differ from the partial one) restarts too. The finished file must
 * match the manifest's size and SHA-256 where known, or it is deleted, never marked complete.
 * Requests use `cache: 'no-store'` so the browser's HTTP cache does not keep a second multi-GB copy.
 */
import { Sha256 } from './checksum.ts';
import { withModelLock } from './locks.ts';
import { hubFileUrl, HUB_ENDPOINT } from './hub.ts';
import { expectedBytes, validateManifest, type ManifestFile, type ModelManifest } from './manifests.ts';
import {
  CHUNK_BYTES, ChunkWriter, formatBytes, getFileRecord, hasStoredPrefix, isQuotaExceeded, ModelStoreError,
  putFileRecord, putModelRecord, QuotaError, removeStoredFile, storageEstimate, deleteStoredModel, type StoredFileRecord,
} from './store.ts';

/** A network failure or an interrupted body; retrying resumes where it stopped. */
export class NetworkError extends ModelStoreError {
  override name = 'NetworkError';
  constructor(message: string, modelId?: string, path?: string) {
    super(`${message} What arrived is kept: retry to resume from there.`, { kind: 'retry', label: 'Retry (resumes)' }, modelId, path);
  }
}

/** HTTP 401/403: a gated or private repo. */
export class GatedModelError extends ModelStoreError {
  override name = 'GatedModelError';
  constructor(readonly status: number, url: string, modelId?: string, path?: string) {
    super(
      `The server refused ${url} (HTTP ${status}). On the Hugging Face Hub this means the repo is gated or private: ` +
        `sign in on huggingface.co, accept the model's licence on its page, then give the app an access token.`,
      { kind: 'sign-in', label: 'Add an access token' }, modelId, path,
    );
  }
}

/** HTTP 404 or another answer that retrying will not fix: the manifest points at the wrong place. */
export class FileUnavailableError extends ModelStoreError {
  override name = 'FileUnavailableError';
  constructor(readonly status: number, url: string, modelId?: string, path?: string) {
    super(
      status === 404
        ? `${url} does not exist (HTTP 404): the repo, revision or file name in the model manifest is wrong, or the file was removed upstream.`
        : `${url} answered HTTP ${status}; the download cannot continue.`,
      { kind: 'check-manifest', label: 'Check the model source' }, modelId, path,
    );
  }
}

/** A file that changed upstream or no longer matches the manifest (size, checksum or ETag). */
export class StaleFileError extends ModelStoreError {
  override name = 'StaleFileError';
  constructor(message: string, modelId: string, path: string) {
    super(message, { kind: 'redownload', label: 'Re-download' }, modelId, path);
  }
}

/** Downloaded bytes whose SHA-256 is not the manifest's; the file has been deleted. */
export class ChecksumError extends ModelStoreError {
  override name = 'ChecksumError';
  constructor(readonly expected: string, readonly actual: string, modelId: string, path: string) {
    super(
      `${path} arrived corrupted: its SHA-256 is ${actual}, the manifest expects ${expected}. The damaged copy was deleted; download it again.`,
      { kind: 'redownload', label: 'Download again' }, modelId, path,
    );
  }
}

/** Options of {@link downloadModel}. */
export interface DownloadOptions {
  /** Fetch files from `baseUrl + path` instead of the manifest's source (mirrors, tests). */
  baseUrl?: string;
  /** Called at most every `progressIntervalMs` while bytes flow, and at every file boundary. */
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** Hugging Face access token for gated / private repos. */
  accessToken?: string;
  hubEndpoint?: string;
  /** Automatic retries after a network failure, each resuming (default 3; delay doubles from retryDelayMs). */
  retries?: number;
  retryDelayMs?: number;
  /** Discard everything stored for this model first (the "re-download" action). */
  restart?: boolean;
  /** Storage chunk size in bytes (default 64 MiB; tests use less). */
  chunkBytes?: number;
  progressIntervalMs?: number;
  fetch?: typeof fetch;
}

/** The URL of one file of a manifest. */
export function modelFileUrl(manifest: ModelManifest, path: string, opts: Pick<DownloadOptions, 'baseUrl' | 'hubEndpoint'> = {}): string {
  const rel = path.split('/').map(encodeURIComponent).join('/');
  if (opts.baseUrl) return new URL(rel, opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`).href;
  const src = manifest.source;
  if (src.kind === 'hub') return hubFileUrl(src.repo, src.revision, path, opts.hubEndpoint ?? HUB_ENDPOINT);
  if (src.kind === 'builtin') {
    const base = globalThis.document?.baseURI;
    if (!base) throw new Error(`The built-in model lives in the app's ${src.path} folder; inside a worker pass baseUrl (e.g. new URL('${src.path}', document.baseURI).href from the page).`);
    return new URL(src.path + rel, base).href;
  }
  throw new Error(`Model '${manifest.id}' is made of local files: store them with importModelFiles, there is nothing to download.`);
}

interface Ctx {
  manifest: ModelManifest;
  opts: DownloadOptions;
  chunkBytes: number;
  progress: ProgressTracker;
}

/**
 * Download every file of `manifest` that is not already stored and complete, resuming partial
 * ones. Resolves when all files are stored and verified.
 * @throws QuotaError, NetworkError (retry resumes), GatedModelError, FileUnavailableError,
 *   StaleFileError, ChecksumError, ManifestError; a DOMException 'AbortError' when `signal` aborts
 *   (what arrived is kept for a resume).
 */
export async function downloadModel(manifest: ModelManifest, opts: DownloadOptions = {}): Promise<void> {
  validateManifest(manifest);
  // Another worker may be writing or reading this model: wait for it (see locks.ts).
  await withModelLock(manifest.id, 'exclusive', () => downloadLocked(manifest, opts), opts.signal);
}

async function downloadLocked(manifest: ModelManifest, opts: DownloadOptions): Promise<void> {
  if (opts.restart) await deleteStoredModel(manifest.id);
  await putModelRecord({ id: manifest.id, label: manifest.label, manifest, updatedAt: Date.now() });
  const records = await Promise.all(manifest.files.map((f) => getFileRecord(manifest.id, f.path)));
  const ctx: Ctx = { manifest, opts, chunkBytes: opts.chunkBytes ?? CHUNK_BYTES, progress: new ProgressTracker(manifest, records, opts) };
  manifest.files.forEach((f, i) => {
    const r = records[i];
    if (r?.complete) checkAgainstManifest(manifest.id, f, r);
  });
  await checkQuota(manifest, records);
  for (const f of manifest.files) await withRetries(ctx, f);
  ctx.progress.done();
}

/** A complete stored file must still be what the manifest describes. */
function checkAgainstManifest(modelId: string, f: ManifestFile, r: StoredFileRecord): void {
  const why =
    f.size !== 'unknown' && r.size !== f.size ? `the stored copy has ${r.size} bytes, the manifest now says ${f.size}`
    : f.sha256 !== 'unknown' && r.sha256 !== f.sha256.toLowerCase() ? `the stored copy's SHA-256 differs from the manifest's`
    : null;
  if (why) throw new StaleFileError(`${f.path} is out of date: ${why}. The file changed upstream; re-download it.`, modelId, f.path);
}

/** Fail before downloading when the bytes still needed exceed what the site may store. */
async function checkQuota(manifest: ModelManifest, records: (StoredFileRecord | undefined)[]): Promise<void> {
  const stored = records.reduce((s, r) => s + (r?.bytes ?? 0), 0);
  const needed = Math.max(0, expectedBytes(manifest) - stored);
  const { usage, quota } = await storageEstimate();
  if (usage !== null && quota !== null && needed > quota - usage) throw new QuotaError(needed, Math.max(0, quota - usage), quota, manifest.id);
}

async function withRetries(ctx: Ctx, f: ManifestFile): Promise<void> {
  const retries = ctx.opts.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      return await downloadFile(ctx, f);
    } catch (e) {
      if (!(e instanceof NetworkError) || attempt >= retries) throw e;
      await sleep((ctx.opts.retryDelayMs ?? 1000) * 2 ** attempt, ctx.opts.signal);
    }
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((ok, fail) => {
    signal?.throwIfAborted();
    const t = setTimeout(ok, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), fail(signal.reason)), { once: true });
  });

const bareEtag = (e: string | null) => e?.replace(/^W\//, '') ?? null;

/** Download (or resume) one file; returns when it is stored and verified. */
async function downloadFile(ctx: Ctx, f: ManifestFile): Promise<void> {
  const { manifest, opts } = ctx;
  const id = manifest.id;
  const url = modelFileUrl(manifest, f.path, opts);
  let rec = await getFileRecord(id, f.path);
  if (rec?.complete) {
    if (await hasStoredPrefix(id, f.path, rec.bytes, rec.chunkBytes)) return ctx.progress.cached(f.path, rec.bytes);
    rec = undefined; // evicted by the browser: fetch again
  }
  const usable = rec && rec.url === url && rec.chunkBytes === ctx.chunkBytes && rec.hashState && (await hasStoredPrefix(id, f.path, rec.bytes, rec.chunkBytes));
  if (!usable) rec = await freshRecord(ctx, f, url);
  let res = await request(ctx, f, url, rec!.bytes);
  const stale = () => {
    const r = rec!;
    const etag = bareEtag(res.headers.get('ETag'));
    const lastModified = res.headers.get('Last-Modified');
    const total = totalSize(res, r.bytes);
    const start = /bytes (\d+)-/.exec(res.headers.get('Content-Range') ?? '');
    if (start && Number(start[1]) !== r.bytes) return `the server sent bytes from ${start[1]} instead of ${r.bytes}`;
    if (r.size !== null && total !== null && total !== r.size) return `its size changed from ${r.size} to ${total} bytes`;
    if (r.etag && etag && etag !== r.etag) return 'its ETag changed';
    if (r.lastModified && lastModified && lastModified !== r.lastModified) return 'its Last-Modified date changed';
    return null;
  };
  if (rec!.bytes > 0 && (res.status === 200 || res.status === 416 || stale())) {
    if (res.status === 416 && totalSize(res, 0) === rec!.bytes) return finish(ctx, f, rec!, new Sha256(rec!.hashState!));
    const why = res.status === 200 ? 'the server ignored the Range request' : res.status === 416 ? 'the server has fewer bytes than were stored' : `the file changed upstream (${stale()})`;
    ctx.progress.restarted(f.path, rec!.bytes, `Restarting ${f.path} from the beginning: ${why}.`);
    rec = await freshRecord(ctx, f, url);
    if (res.status !== 200) {
      await res.body?.cancel();
      res = await request(ctx, f, url, 0);
    }
  }
  const total = totalSize(res, rec!.bytes);
  if (f.size !== 'unknown' && total !== null && total !== f.size) {
    await res.body?.cancel();
    throw new StaleFileError(`${f.path}: the server has ${total} bytes, the manifest expects ${f.size}. The file changed upstream or the manifest is out of date.`, id, f.path);
  }
  Object.assign(rec!, { size: total, etag: bareEtag(res.headers.get('ETag')), lastModified: res.headers.get('Last-Modified') });
  await putFileRecord(rec!);
  const hash = await streamToStore(ctx, f, rec!, res);
  if (rec!.size !== null && rec!.bytes < rec!.size) {
    throw new NetworkError(`The connection closed after ${formatBytes(rec!.bytes)} of ${formatBytes(rec!.size)} of ${f.path}.`, id, f.path);
  }
  await finish(ctx, f, rec!, hash);
}

/** Forget what is stored of a file and start a new record for it. */
async function freshRecord(ctx: Ctx, f: ManifestFile, url: string): Promise<StoredFileRecord> {
  await removeStoredFile(ctx.manifest.id, f.path);
  const now = Date.now();
  return {
    modelId: ctx.manifest.id, path: f.path, url, size: null, bytes: 0, chunkBytes: ctx.chunkBytes, etag: null, lastModified: null,
    hashState: new Sha256().state(), sha256: null, complete: false, startedAt: now, updatedAt: now,
  };
}

/** The file's full size from a response: Content-Range total (206/416), else offset + Content-Length. */
function totalSize(res: Response, offset: number): number | null {
  const range = /\/(\d+)\s*$/.exec(res.headers.get('Content-Range') ?? '');
  if (range) return Number(range[1]);
  const length = res.headers.get('Content-Length');
  if (length === null || res.headers.get('Content-Encoding') || res.status === 416) return null;
  return (res.status === 206 ? offset : 0) + Number(length);
}

/** GET with an optional Range; HTTP errors become typed errors. */
async function request(ctx: Ctx, f: ManifestFile, url: string, offset: number): Promise<Response> {
  const headers: Record<string, string> = {};
  if (offset > 0) headers.Range = `bytes=${offset}-`;
  if (ctx.opts.accessToken) headers.Authorization = `Bearer ${ctx.opts.accessToken}`;
  let res: Response;
  try {
    res = await (ctx.opts.fetch ?? fetch)(url, { headers, signal: ctx.opts.signal, cache: 'no-store' });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new NetworkError(`Could not reach ${url} (${(e as Error).message}).`, ctx.manifest.id, f.path);
  }
  if (res.ok || res.status === 416) return res;
  await res.body?.cancel();
  if (res.status === 401 || res.status === 403) throw new GatedModelError(res.status, url, ctx.manifest.id, f.path);
  if (res.status >= 500 || res.status === 408 || res.status === 429) throw new NetworkError(`${url} answered HTTP ${res.status}.`, ctx.manifest.id, f.path);
  throw new FileUnavailableError(res.status, url, ctx.manifest.id, f.path);
}

/** Stream a response body into storage from `rec.bytes` on, hashing and recording as it goes. */
async function streamToStore(ctx: Ctx, f: ManifestFile, rec: StoredFileRecord, res: Response): Promise<Sha256> {
  if (!res.body) throw new NetworkError(`${f.path}: the response had no body.`, ctx.manifest.id, f.path);
  return writeStream(ctx, f, rec, res.body);
}

/** Append a byte stream to a stored file, committing per chunk; keeps what arrived on failure. */
async function writeStream(ctx: Ctx, f: ManifestFile, rec: StoredFileRecord, body: ReadableStream<Uint8Array>): Promise<Sha256> {
  const hash = new Sha256(rec.hashState!);
  const writer = await ChunkWriter.open(rec.modelId, rec.path, rec.bytes, rec.chunkBytes);
  const save = async () => {
    await writer.commit();
    Object.assign(rec, { hashState: hash.state(), updatedAt: Date.now() });
    await putFileRecord(rec);
  };
  const reader = body.getReader();
  ctx.progress.startFile(f.path, rec.bytes, rec.size);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (rec.size !== null && rec.bytes + value.length > rec.size) throw new NetworkError(`${f.path}: the server sent more than the ${rec.size} bytes it announced.`, rec.modelId, f.path);
      for (let v = value; v.length > 0; ) {
        const part = v.subarray(0, Math.min(v.length, writer.room));
        await writer.write(part);
        hash.update(part);
        rec.bytes += part.length;
        v = v.subarray(part.length);
        if (writer.room === 0) await save();
      }
      ctx.progress.add(f.path, value.length);
    }
    await save();
  } catch (e) {
    await save().catch(() => writer.abort());
    await reader.cancel().catch(() => undefined);
    if (isQuotaExceeded(e)) {
      const { usage, quota } = await storageEstimate();
      throw new QuotaError(Math.max(0, expectedBytes(ctx.manifest) - ctx.progress.loaded), quota !== null && usage !== null ? Math.max(0, quota - usage) : null, quota, rec.modelId);
    }
    if (e instanceof ModelStoreError || (e as Error).name === 'AbortError') throw e;
    throw new NetworkError(`Downloading ${f.path} failed after ${formatBytes(rec.bytes)} (${(e as Error).message}).`, rec.modelId, f.path);
  }
  return hash;
}

/** Verify size and checksum, then mark complete; a mismatch deletes the file. */
async function finish(ctx: Ctx, f: ManifestFile, rec: StoredFileRecord, hash: Sha256): Promise<void> {
  ctx.progress.verifying(f.path);
  const digest = hash.digestHex();
  if (f.size !== 'unknown' && rec.bytes !== f.size) {
    await removeStoredFile(rec.modelId, f.path);
    throw new StaleFileError(`${f.path} has ${rec.bytes} bytes, the manifest expects ${f.size}; it was deleted. The file changed upstream or the manifest is out of date.`, rec.modelId, f.path);
  }
  if (f.sha256 !== 'unknown' && digest !== f.sha256.toLowerCase()) {
    await removeStoredFile(rec.modelId, f.path);
    throw new ChecksumError(f.sha256.toLowerCase(), digest, rec.modelId, f.path);
  }
  Object.assign(rec, { size: rec.bytes, sha256: digest, hashState: null, complete: true, updatedAt: Date.now() });
  await putFileRecord(rec);
  ctx.progress.fileDone(f.path, rec.bytes);
}

/**
 * Store files the user picked (see manifestFromFiles) as if downloaded: same storage, checks
 * and progress, so the rest of the app opens them with openModelFile.
 */
export async function importModelFiles(manifest: ModelManifest, files: ReadonlyMap<string, Blob>, opts: Pick<DownloadOptions, 'onProgress' | 'signal' | 'chunkBytes' | 'progressIntervalMs'> = {}): Promise<void> {
  validateManifest(manifest);
  await withModelLock(manifest.id, 'exclusive', () => importLocked(manifest, files, opts), opts.signal);
}

async function importLocked(manifest: ModelManifest, files: ReadonlyMap<string, Blob>, opts: Pick<DownloadOptions, 'onProgress' | 'signal' | 'chunkBytes' | 'progressIntervalMs'>): Promise<void> {
  await deleteStoredModel(manifest.id);
  await putModelRecord({ id: manifest.id, label: manifest.label, manifest, updatedAt: Date.now() });
  await checkQuota(manifest, []);
  const ctx: Ctx = { manifest, opts, chunkBytes: opts.chunkBytes ?? CHUNK_BYTES, progress: new ProgressTracker(manifest, [], opts) };
  for (const f of manifest.files) {
    const blob = files.get(f.path);
    if (!blob) throw new Error(`No file was given for ${f.path}.`);
    opts.signal?.throwIfAborted();
    const rec = { ...(await freshRecord(ctx, f, '')), size: blob.size };
    const hash = await writeStream(ctx, f, rec, blob.stream());
    await finish(ctx, f, rec, hash);
  }
  ctx.progress.done();
}

/** One progress report. Byte counts are of the whole model unless prefixed with `file`. */
export interface DownloadProgress {
  modelId: string;
  /** The file concerned (the current one while downloading). */
  file: string;
  phase: 'cached' | 'downloading' | 'restarted' | 'verifying' | 'file-done' | 'done';
  fileLoaded: number;
  /** null until the server says. */
  fileTotal: number | null;
  /** Bytes of the model in storage. */
  loaded: number;
  /** Expected bytes of the model: exact where known, approximate elsewhere. */
  total: number;
  /** Bytes received from the network in this call, and since the previous report (sums to `received`). */
  received: number;
  delta: number;
  /** Over the last ~5 s; null until measurable. */
  bytesPerSecond: number | null;
  etaSeconds: number | null;
  /** Why, for 'restarted'. */
  note?: string;
}

/** Keeps per-file and total counts, speed and ETA; throttles 'downloading' reports. */
class ProgressTracker {
  private readonly fileLoaded = new Map<string, number>();
  private readonly fileTotal = new Map<string, number | null>();
  private received = 0;
  private reported = 0;
  private lastEmit = 0;
  private readonly samples: [number, number][] = [];

  constructor(private readonly manifest: ModelManifest, records: (StoredFileRecord | undefined)[], private readonly opts: Pick<DownloadOptions, 'onProgress' | 'progressIntervalMs'>) {
    manifest.files.forEach((f, i) => {
      this.fileLoaded.set(f.path, records[i]?.bytes ?? 0);
      this.fileTotal.set(f.path, f.size !== 'unknown' ? f.size : records[i]?.size ?? null);
    });
  }

  get loaded(): number {
    let s = 0;
    for (const v of this.fileLoaded.values()) s += v;
    return s;
  }

  private get total(): number {
    return this.manifest.files.reduce((s, f) => s + (this.fileTotal.get(f.path) ?? f.approxSize), 0);
  }

  private emit(file: string, phase: DownloadProgress['phase'], note?: string): void {
    const now = performance.now();
    this.samples.push([now, this.received]);
    while (this.samples.length > 2 && now - this.samples[0]![0] > 5000) this.samples.shift();
    const [t0, r0] = this.samples[0]!;
    const bps = now - t0 > 250 ? ((this.received - r0) * 1000) / (now - t0) : null;
    const left = Math.max(0, this.total - this.loaded);
    this.opts.onProgress?.({
      modelId: this.manifest.id, file, phase, fileLoaded: this.fileLoaded.get(file) ?? 0, fileTotal: this.fileTotal.get(file) ?? null,
      loaded: this.loaded, total: this.total, received: this.received, delta: this.received - this.reported,
      bytesPerSecond: bps, etaSeconds: bps ? left / bps : left === 0 ? 0 : null, ...(note ? { note } : {}),
    });
    this.reported = this.received;
    this.lastEmit = now;
  }

  cached(file: string, bytes: number): void {
    this.fileLoaded.set(file, bytes);
    this.fileTotal.set(file, bytes);
    this.emit(file, 'cached');
  }
  startFile(file: string, bytes: number, size: number | null): void {
    this.fileLoaded.set(file, bytes);
    if (size !== null) this.fileTotal.set(file, size);
  }
  add(file: string, n: number): void {
    this.received += n;
    this.fileLoaded.set(file, (this.fileLoaded.get(file) ?? 0) + n);
    if (performance.now() - this.lastEmit >= (this.opts.progressIntervalMs ?? 100)) this.emit(file, 'downloading');
  }
  restarted(file: string, discarded: number, note: string): void {
    this.fileLoaded.set(file, 0);
    this.emit(file, 'restarted', `${note} (${formatBytes(discarded)} discarded)`);
  }
  verifying(file: string): void {
    this.emit(file, 'verifying');
  }
  fileDone(file: string, bytes: number): void {
    this.fileTotal.set(file, bytes);
    this.emit(file, 'file-done');
  }
  done(): void {
    this.emit(this.manifest.files.at(-1)!.path, 'done');
  }
}
