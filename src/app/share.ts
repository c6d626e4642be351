/**
 * Share links: the whole playground state in the URL hash, `#v=1&s=<payload>`, where payload =
 * base64url(deflate-raw(JSON)). Versioned (a link from a newer app says so), bounded (the hash
 * and the inflated JSON have size caps, so a "zip bomb" stops early) and validated field by field
 * (state.ts). A link that fails any check yields a {@link ShareLinkError} with a message for
 * people; nothing from it runs. Uses only web platform APIs (CompressionStream, atob/btoa), so
 * it runs in browsers and in Node alike.
 */
import { BUILTIN_MANIFESTS } from '../lib/models/manifests.ts';
import { validateState, type ModelRef, type PlaygroundState } from './state.ts';

export const SHARE_VERSION = 1;
/** Longest hash accepted, in characters (browsers and chat apps mangle much longer URLs). */
export const MAX_HASH_CHARS = 8192;
/** Largest inflated JSON accepted, in bytes. */
export const MAX_JSON_BYTES = 32 * 1024;

/** A share link that cannot be used; `message` says why and what to do. */
export class ShareLinkError extends Error {
  override name = 'ShareLinkError';
}

/** Bytes → base64url without padding (RFC 4648 §5). */
export function toBase64Url(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** base64url (padding optional) → bytes; throws on characters outside the alphabet. */
export function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text)) throw new ShareLinkError('The link is damaged: its data contains characters a share link never has (was it cut or edited?).');
  const b64 = text.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  if (b64.length % 4 === 1) throw new ShareLinkError('The link is damaged: its data has an impossible length (was it cut off when copied?).');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function collect(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new ShareLinkError(`The link's data inflates to more than ${maxBytes / 1024} KB, far more than any playground state; it was not opened.`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** deflate-raw of `bytes` (CompressionStream). */
export async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  return collect(new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream('deflate-raw')), Infinity);
}

/** Inverse of {@link deflate}, stopping once more than `maxBytes` come out. */
export async function inflate(bytes: Uint8Array, maxBytes = MAX_JSON_BYTES): Promise<Uint8Array> {
  try {
    return await collect(new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('deflate-raw')), maxBytes);
  } catch (e) {
    if (e instanceof ShareLinkError) throw e;
    throw new ShareLinkError('The link is damaged: its data does not decompress (was it cut off or edited?).');
  }
}

/** The hash (without '#') that carries `state`: `v=1&s=…`. */
export async function encodeShareHash(state: PlaygroundState): Promise<string> {
  if (state.model.kind === 'local') throw new ShareLinkError(LOCAL_MODEL_LINK);
  const json = new TextEncoder().encode(JSON.stringify(validateState(state)));
  return `v=${SHARE_VERSION}&s=${toBase64Url(await deflate(json))}`;
}

/** Whether a URL hash looks like a share link at all (so a page without one starts normally). */
export function hasShareHash(hash: string): boolean {
  return /(^|[#&])s=/.test(hash);
}

/**
 * The state a share hash carries (with or without the leading '#').
 * @throws ShareLinkError saying what is wrong: too long, unknown version, damaged data, or the
 *   first field that fails validation
 */
export async function decodeShareHash(hash: string): Promise<PlaygroundState> {
  const h = hash.replace(/^#/, '');
  if (h.length > MAX_HASH_CHARS) throw new ShareLinkError(`The link is ${h.length} characters long; share links are at most ${MAX_HASH_CHARS}. It was not opened.`);
  const params = new URLSearchParams(h);
  const v = params.get('v');
  if (v === null) throw new ShareLinkError('The link has no version (v=…); it was not made by this app.');
  if (!/^\d{1,4}$/.test(v)) throw new ShareLinkError(`The link's version ${JSON.stringify(v.slice(0, 20))} is not a number; it was not made by this app.`);
  if (Number(v) > SHARE_VERSION) throw new ShareLinkError(`The link was made by a newer version of Erasure Lab (link version ${v}, this page understands ${SHARE_VERSION}). Reload the page to get the latest version.`);
  if (Number(v) !== SHARE_VERSION) throw new ShareLinkError(`Link version ${v} is not one this page understands (it reads version ${SHARE_VERSION}).`);
  const s = params.get('s');
  if (!s) throw new ShareLinkError('The link carries no state (s=…); it may have been cut off when copied.');
  const json = new TextDecoder('utf-8', { fatal: true });
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.decode(await inflate(fromBase64Url(s))));
  } catch (e) {
    if (e instanceof ShareLinkError) throw e;
    throw new ShareLinkError('The link is damaged: its data is not valid JSON text.');
  }
  let state: PlaygroundState;
  try {
    state = validateState(parsed);
  } catch (e) {
    throw new ShareLinkError(`The link asks for something this app does not accept: ${(e as Error).message}. Nothing from it was run.`);
  }
  if (state.model.kind === 'local') throw new ShareLinkError("The link names model files from someone's computer, which a link cannot carry. Nothing from it was run.");
  return state;
}

/** Why a model of picked files cannot be shared, and what to do instead. */
export const LOCAL_MODEL_LINK =
  'This model is made of files from your computer, which a link cannot carry. Put them in a Hugging Face Hub repo and load that, or choose a built-in model, then copy the link.';

/**
 * Whether opening a link's model needs the user's consent first: a Hub repo that is not the
 * source of a built-in model (its files, size and licence are unknown to the app).
 */
export function modelNeedsConsent(model: ModelRef): boolean {
  if (model.kind !== 'hub') return false;
  return !BUILTIN_MANIFESTS.some((m) => m.source.kind === 'hub' && m.source.repo === model.repo && m.source.revision === model.revision);
}

/** A Hub ref that is a built-in model's source, as that built-in (so it gets its checked manifest). */
export function canonicalModel(model: ModelRef): ModelRef {
  if (model.kind !== 'hub') return model;
  const m = BUILTIN_MANIFESTS.find((b) => b.source.kind === 'hub' && b.source.repo === model.repo && b.source.revision === model.revision);
  return m ? { kind: 'builtin', id: m.id } : model;
}

/** The page URL for a hash: `base` without its own query/hash, plus `?embed` if asked. */
export function shareUrl(base: string, hash: string, { embed = false } = {}): string {
  const u = new URL(base);
  u.search = embed ? '?embed' : '';
  u.hash = hash;
  return u.href.replace('?embed=', '?embed');
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** An `<iframe>` snippet for a blog post (attributes escaped; isolation needs `allow` for WebGPU). */
export function embedSnippet(url: string, { width = 720, height = 560, title = 'Erasure Lab: erase a concept and compare' } = {}): string {
  return (
    `<iframe src="${escapeAttr(url)}" width="${width}" height="${height}" title="${escapeAttr(title)}" ` +
    `style="border:1px solid #ccc;border-radius:8px;max-width:100%" loading="lazy" allow="cross-origin-isolated; clipboard-write"></iframe>`
  );
}
