/**
 * Where the judge's model comes from: the real Florence-2 on the Hub by default, or (for tests
 * and mirrors) a folder on the page's own origin named by `?judge=<relative url>`. A folder on
 * another origin is refused, so a link cannot make the page fetch a model from elsewhere.
 */
import { dtypeMix, FLORENCE_2_BASE_FT, judgeManifest, type JudgeDevice, type JudgeSource } from '../lib/models/florence-manifest.ts';
import type { Capabilities } from '../lib/models/capabilities.ts';
import type { EnginePreference } from './state.ts';

/** A judge model served from a folder of this site. */
export interface JudgeOverride {
  source: JudgeSource;
  /** Absolute folder URL, ending in '/'. */
  baseUrl: string;
}

/**
 * The `?judge=` folder of a page's query string, or null when there is none.
 * @param search `location.search`
 * @param pageUrl `document.baseURI` (relative folders resolve against it)
 * @throws when the folder is empty or not on the page's origin
 */
export function judgeOverride(search: string, pageUrl: string): JudgeOverride | null {
  const raw = new URLSearchParams(search).get('judge');
  if (raw === null) return null;
  if (raw.trim() === '') throw new Error('The ?judge= parameter names no folder: give a folder of this site, e.g. ?judge=models/florence-2/.');
  const origin = new URL(pageUrl).origin;
  let url: URL;
  try {
    url = new URL(raw, pageUrl);
  } catch {
    throw new Error(`The ?judge= folder must be on the same origin as the page (${origin}); "${raw}" is not a URL.`);
  }
  if (url.origin !== origin || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new Error(`The ?judge= folder must be on the same origin as the page (${origin}); "${raw}" is not.`);
  }
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  const rel = url.pathname.slice(new URL(pageUrl).pathname.replace(/[^/]*$/, '').length).replace(/\/$/, '') || url.pathname;
  const id = `judge-${rel.replace(/[^\w-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60)}`;
  return { baseUrl: url.href, source: { id, label: `Florence-2 from ${rel}`, repo: 'local/florence-2', revision: 'main' } };
}

/** The device the judge worker will pick for an engine preference (see judge.worker.ts). */
export function judgeDevice(engine: EnginePreference, caps: Capabilities | null): JudgeDevice {
  if (engine === 'wasm') return 'wasm';
  if (engine === 'webgpu') return 'webgpu';
  return caps?.gpu.adapter ? 'webgpu' : 'wasm';
}

/** What loading the judge will download: bytes (approximate for the Hub model) and the device. */
export function judgeDownload(source: JudgeSource, engine: EnginePreference, caps: Capabilities | null): { device: JudgeDevice; bytes: number; id: string } {
  const device = judgeDevice(engine, caps);
  const manifest = judgeManifest(source, dtypeMix(device, caps?.gpu.shaderF16 ?? false));
  return { device, bytes: manifest.approxDownloadBytes, id: manifest.id };
}

export { FLORENCE_2_BASE_FT };
