/**
 * The cache adapter that hands the judge's stored files (see src/lib/models/florence-manifest.ts)
 * to transformers.js, so nothing is downloaded or stored twice.
 */
import type { CacheInterfaceLike } from './judge-api.ts';
import type { ModelManifest } from '../src/lib/models/manifests.ts';
import { openModelFile } from '../src/lib/models/store.ts';

/** The path inside the repo a transformers.js cache key refers to, or null. Keys look like
 * '/models/<repo>/onnx/x.onnx' (local path) or 'https://huggingface.co/<repo>/resolve/main/onnx/x.onnx'. */
export function repoPathOfKey(key: string, repo: string): string | null {
  const at = key.indexOf(`${repo}/`);
  if (at < 0) return null;
  return key.slice(at + repo.length + 1).replace(/^resolve\/[^/]+\//, '');
}

/**
 * A transformers.js custom cache (`env.customCache`) that answers from the app's model store:
 * every file of the manifest is a hit, read from OPFS as a disk-backed Blob. `put` is never
 * reached for hits and stores nothing, so transformers.js keeps no second copy.
 */
export function storeCache(manifest: ModelManifest, repo: string): CacheInterfaceLike {
  const paths = new Set(manifest.files.map((f) => f.path));
  return {
    async match(key: string) {
      const path = repoPathOfKey(key, repo);
      if (path === null || !paths.has(path)) return undefined;
      const blob = await openModelFile(manifest.id, path);
      return new Response(blob, { headers: { 'content-length': String(blob.size) } });
    },
    async put() {
      // Nothing to do: the download layer already stored the file.
    },
  };
}
