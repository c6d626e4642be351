/**
 * The Hugging Face Hub: file URLs, repo listings, and manifests built from a listing.
 *
 * A listing is the JSON of `GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true`:
 * `[{type: 'file' | 'directory', path, size, oid, lfs?: {oid, size, pointerSize}}]`, where
 * `lfs.oid` is the SHA-256 of an LFS file (every .onnx / .pb of a diffusers export) and `oid` is a
 * git blob hash (not SHA-256). Long listings are paged with a `Link: <…>; rel="next"` header.
 */
import { isSha256Hex } from './checksum.ts';
import { customManifest, REQUIRED_PARTS, roleOfPath, type CustomManifestOptions, type ManifestFile, type ModelManifest } from './manifests.ts';

/** The public Hub. */
export const HUB_ENDPOINT = 'https://huggingface.co';

/** One entry of a Hub tree listing (only the fields we use). */
export interface HubEntry {
  type: 'file' | 'directory';
  path: string;
  /** Bytes (for LFS files, the real file size, not the pointer's). */
  size: number;
  /** Present for LFS files: `oid` is the SHA-256 (hex) of the content. */
  lfs?: { oid: string; size: number };
}

/** Encode each path segment, keeping '/' (Hub paths may contain spaces or '#'). */
const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

/**
 * Download URL of a file: `{endpoint}/{repo}/resolve/{revision}/{path}`. The revision is encoded
 * as one segment, so a branch like 'refs/pr/3' works.
 */
export function hubFileUrl(repo: string, revision: string, path: string, endpoint = HUB_ENDPOINT): string {
  return `${endpoint.replace(/\/$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`;
}

/** Listing URL of a repo at a revision, recursive. */
export function hubTreeUrl(repo: string, revision: string, endpoint = HUB_ENDPOINT): string {
  return `${endpoint.replace(/\/$/, '')}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true`;
}

/**
 * Check and type a listing (the parsed JSON of one or more tree pages). Throws with the index
 * and the field when an entry is not of the Hub's shape.
 */
export function parseHubListing(json: unknown): HubEntry[] {
  if (!Array.isArray(json)) {
    throw new Error(`A Hub listing must be a JSON array of {type, path, size} entries (got ${json === null ? 'null' : typeof json}). Is this the /api/models/{repo}/tree/{revision} response?`);
  }
  return json.map((e, i) => {
    if (typeof e !== 'object' || e === null) throw new Error(`Hub listing entry ${i} is not an object.`);
    const { type, path, size, lfs } = e as Record<string, unknown>;
    if (type !== 'file' && type !== 'directory') throw new Error(`Hub listing entry ${i} has type ${JSON.stringify(type)}; expected 'file' or 'directory'.`);
    if (typeof path !== 'string' || path === '') throw new Error(`Hub listing entry ${i} has no path.`);
    if (type === 'directory') return { type, path, size: 0 };
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new Error(`Hub listing entry ${i} ('${path}') has size ${JSON.stringify(size)}; expected a byte count.`);
    const entry: HubEntry = { type, path, size };
    if (lfs !== undefined && lfs !== null) {
      const l = lfs as Record<string, unknown>;
      if (!isSha256Hex(l.oid) || typeof l.size !== 'number') throw new Error(`Hub listing entry ${i} ('${path}') has an lfs field without a SHA-256 oid and size.`);
      if (l.size !== size) throw new Error(`Hub listing entry ${i} ('${path}'): size ${size} disagrees with lfs.size ${l.size}.`);
      entry.lfs = { oid: l.oid.toLowerCase(), size: l.size };
    }
    return entry;
  });
}

/** A listed file as a manifest entry: exact size, SHA-256 from `lfs.oid` when present. */
function entryToFile(e: HubEntry): ManifestFile {
  return { path: e.path, role: roleOfPath(e.path)!, size: e.size > 0 ? e.size : 'unknown', approxSize: Math.max(1, e.size), sha256: e.lfs?.oid ?? 'unknown' };
}

/** Limits of the browser that a listed file runs into, as warnings for the user. */
function sizeWarnings(files: readonly ManifestFile[]): string[] {
  const w: string[] = [];
  for (const f of files) {
    const bytes = f.size === 'unknown' ? f.approxSize : f.size;
    if (bytes > 0x7fe00000) {
      w.push(
        `${f.path} is ${(bytes / 1e9).toFixed(2)} GB: more than one ArrayBuffer can hold (~2.1 GB) and a large part of ` +
          `wasm32's 4 GB memory, so onnxruntime-web will most likely fail to load it. Use an fp16 export (about half the size).`,
      );
    }
  }
  const unet = files.filter((f) => f.path.startsWith('unet/')).reduce((s, f) => s + (f.size === 'unknown' ? f.approxSize : f.size), 0);
  if (unet > 3e9 && !w.length) w.push(`The UNet files total ${(unet / 1e9).toFixed(2)} GB, too close to wasm32's 4 GB memory; use an fp16 export.`);
  return w;
}

/**
 * Build a manifest from a Hub repo laid out like a diffusers ONNX export
 * (`text_encoder/model.onnx`, `unet/model.onnx` [+ `unet/weights.pb` or `model.onnx_data`],
 * `vae_decoder/model.onnx`, optional `model_index.json`, `scheduler/scheduler_config.json`).
 * Sizes are exact and SHA-256 comes from `lfs.oid`. Run settings default to SD 1.x; pass
 * `opts` for SD 2.x / Turbo (contextWidth 1024, trailing spacing, pad id 0).
 * @throws ManifestError naming the missing parts and what was found instead
 */
export function manifestFromHubRepo(repo: string, revision: string, listing: unknown, opts: CustomManifestOptions = {}): ModelManifest {
  const entries = parseHubListing(listing).filter((e) => e.type === 'file' && roleOfPath(e.path) !== null);
  const missing = REQUIRED_PARTS.filter((p) => !entries.some((e) => e.path === p.path));
  if (missing.length) {
    const onnx = parseHubListing(listing).filter((e) => e.path.endsWith('.onnx')).map((e) => e.path);
    throw new Error(
      `${repo}@${revision} is not laid out like a diffusers ONNX export: missing ${missing.map((p) => p.path).join(', ')}. ` +
        (onnx.length ? `Its .onnx files are: ${onnx.slice(0, 10).join(', ')}. ` : 'It has no .onnx files. ') +
        `Pick a repo (or revision, e.g. 'onnx') with text_encoder/, unet/ and vae_decoder/ folders.`,
    );
  }
  const files = entries.map(entryToFile);
  const id = opts.id ?? `hub-${repo}-${revision}`.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').slice(0, 100);
  const noSha = files.filter((f) => f.sha256 === 'unknown' && f.role !== 'config').map((f) => f.path);
  const warnings = sizeWarnings(files);
  if (noSha.length) warnings.push(`No SHA-256 in the listing for ${noSha.join(', ')} (not stored with LFS): only their size is checked.`);
  return customManifest({ kind: 'hub', repo, revision }, files, { label: `${repo} (${revision})`, ...opts, id }, `Files of ${repo} at revision ${revision}, from the Hub listing.`, warnings);
}

/**
 * Fill a manifest's unknown sizes and checksums from a listing of its repo (exact values
 * replace 'unknown' and the approximate size). A known value that disagrees with the listing
 * means the repo changed upstream: it throws, naming the file, so the manifest gets updated.
 */
export function completeManifestFromListing(manifest: ModelManifest, listing: unknown): ModelManifest {
  const byPath = new Map(parseHubListing(listing).map((e) => [e.path, e]));
  const files = manifest.files.map((f) => {
    const e = byPath.get(f.path);
    if (!e) throw new Error(`${f.path} is not in the listing of ${describeSource(manifest)}: the repo changed or the manifest is wrong.`);
    const sha = e.lfs?.oid ?? 'unknown';
    if (f.size !== 'unknown' && f.size !== e.size) throw new Error(`${f.path}: the manifest says ${f.size} bytes, the Hub now has ${e.size}. The file changed upstream; update the manifest.`);
    if (f.sha256 !== 'unknown' && sha !== 'unknown' && f.sha256.toLowerCase() !== sha) throw new Error(`${f.path}: the manifest's SHA-256 differs from the Hub's. The file changed upstream; update the manifest.`);
    return { ...f, size: e.size, approxSize: Math.max(1, e.size), sha256: f.sha256 !== 'unknown' ? f.sha256 : sha };
  });
  return { ...manifest, files, approxDownloadBytes: files.reduce((s, f) => s + f.approxSize, 0) };
}

const describeSource = (m: ModelManifest) => (m.source.kind === 'hub' ? `${m.source.repo}@${m.source.revision}` : m.id);

/** Options for talking to the Hub. */
export interface HubRequestOptions {
  endpoint?: string;
  /** A Hugging Face access token, for gated or private repos (sent as a Bearer token). */
  accessToken?: string;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

/**
 * Fetch a repo's full recursive listing, following `Link: rel="next"` pages.
 * @throws Error saying whether the repo is gated/private (401/403) or absent (404)
 */
export async function fetchHubListing(repo: string, revision: string, opts: HubRequestOptions = {}): Promise<HubEntry[]> {
  const doFetch = opts.fetch ?? fetch;
  const headers: Record<string, string> = opts.accessToken ? { Authorization: `Bearer ${opts.accessToken}` } : {};
  const all: HubEntry[] = [];
  let url: string | null = hubTreeUrl(repo, revision, opts.endpoint);
  while (url) {
    const res: Response = await doFetch(url, { headers, signal: opts.signal });
    if (res.status === 401 || res.status === 403) {
      throw new Error(`${repo} is gated or private (HTTP ${res.status}): sign in on huggingface.co, accept the model's licence, and give the app an access token.`);
    }
    if (res.status === 404) throw new Error(`${repo} has no revision '${revision}' on the Hub (HTTP 404). Check the repo name and revision.`);
    if (!res.ok) throw new Error(`Listing ${repo}@${revision} failed: HTTP ${res.status} ${res.statusText}. Try again later.`);
    all.push(...parseHubListing(await res.json()));
    url = nextPageUrl(res.headers.get('Link'), url);
  }
  return all;
}

/** The `rel="next"` target of a Link header, resolved against the current URL; null if none. */
export function nextPageUrl(link: string | null, current: string): string | null {
  if (!link) return null;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return new URL(m[1]!, current).href;
  }
  return null;
}
