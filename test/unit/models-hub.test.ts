import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { completeManifestFromListing, fetchHubListing, hubFileUrl, hubTreeUrl, manifestFromHubRepo, nextPageUrl, parseHubListing } from '../../src/lib/models/hub.ts';
import { getManifest } from '../../src/lib/models/manifests.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const lfsFile = (path: string, size: number) => ({ type: 'file', oid: 'f'.repeat(40), size, path, lfs: { oid: sha(path), size, pointerSize: 134 } });
const gitFile = (path: string, size: number) => ({ type: 'file', oid: 'e'.repeat(40), size, path });
const dir = (path: string) => ({ type: 'directory', oid: 'd'.repeat(40), size: 0, path });

/** Shaped like the Hub's tree listing of an fp16 diffusers ONNX export. */
const listing = [
  dir('text_encoder'), dir('unet'), dir('vae_decoder'), dir('vae_encoder'), dir('safety_checker'), dir('tokenizer'), dir('scheduler'),
  gitFile('.gitattributes', 1477),
  gitFile('model_index.json', 582),
  gitFile('scheduler/scheduler_config.json', 342),
  lfsFile('text_encoder/model.onnx', 246_144_152),
  lfsFile('unet/model.onnx', 1_097_523),
  lfsFile('unet/weights.pb', 1_719_042_048),
  lfsFile('vae_decoder/model.onnx', 198_073_000),
  lfsFile('vae_encoder/model.onnx', 136_700_000),
  lfsFile('safety_checker/model.onnx', 608_000_000),
  gitFile('tokenizer/vocab.json', 1_059_962),
];

describe('Hub URLs', () => {
  it('builds resolve and tree URLs, encoding the revision as one segment', () => {
    expect(hubFileUrl('schmuell/sd-turbo-ort-web', 'main', 'unet/model.onnx')).toBe('https://huggingface.co/schmuell/sd-turbo-ort-web/resolve/main/unet/model.onnx');
    expect(hubFileUrl('a/b', 'refs/pr/3', 'x y/#1.onnx', 'http://127.0.0.1:9/')).toBe('http://127.0.0.1:9/a/b/resolve/refs%2Fpr%2F3/x%20y/%231.onnx');
    expect(hubTreeUrl('CompVis/stable-diffusion-v1-4', 'onnx')).toBe('https://huggingface.co/api/models/CompVis/stable-diffusion-v1-4/tree/onnx?recursive=true');
  });

  it('follows Link rel="next"', () => {
    expect(nextPageUrl('<https://huggingface.co/api/models/a/b/tree/main?cursor=xyz>; rel="next"', 'https://huggingface.co/x')).toBe('https://huggingface.co/api/models/a/b/tree/main?cursor=xyz');
    expect(nextPageUrl('</p2>; rel="prev", </p3>; rel="next"', 'http://h/p1')).toBe('http://h/p3');
    expect(nextPageUrl(null, 'http://h/')).toBe(null);
  });
});

describe('parseHubListing', () => {
  it('keeps sizes and lower-cases LFS oids', () => {
    const e = parseHubListing([{ ...lfsFile('unet/model.onnx', 10), lfs: { oid: sha('x').toUpperCase(), size: 10 } }]);
    expect(e).toEqual([{ type: 'file', path: 'unet/model.onnx', size: 10, lfs: { oid: sha('x'), size: 10 } }]);
  });

  it('names the entry and field that is wrong', () => {
    expect(() => parseHubListing({ error: 'Repository not found' })).toThrow(/must be a JSON array.*tree\/\{revision\}/);
    expect(() => parseHubListing([dir('a'), { type: 'file', path: 'b', size: 'big' }])).toThrow(/entry 1 \('b'\) has size "big"/);
    expect(() => parseHubListing([{ ...lfsFile('c', 5), lfs: { oid: 'nothex', size: 5 } }])).toThrow(/entry 0 \('c'\) has an lfs field without a SHA-256/);
    expect(() => parseHubListing([{ ...lfsFile('c', 5), lfs: { oid: sha('c'), size: 6 } }])).toThrow(/size 5 disagrees with lfs.size 6/);
  });
});

describe('manifestFromHubRepo', () => {
  it('takes the diffusers ONNX files with exact sizes and SHA-256 from lfs.oid, skipping unused parts', () => {
    const m = manifestFromHubRepo('someone/sd15-fp16', 'main', listing);
    expect(m.id).toBe('hub-someone-sd15-fp16-main');
    expect(m.source).toEqual({ kind: 'hub', repo: 'someone/sd15-fp16', revision: 'main' });
    expect(m.files.map((f) => f.path).sort()).toEqual([
      'model_index.json', 'scheduler/scheduler_config.json', 'text_encoder/model.onnx', 'unet/model.onnx', 'unet/weights.pb', 'vae_decoder/model.onnx',
    ]);
    const w = m.files.find((f) => f.path === 'unet/weights.pb')!;
    expect(w).toEqual({ path: 'unet/weights.pb', role: 'external_data', size: 1_719_042_048, approxSize: 1_719_042_048, sha256: sha('unet/weights.pb') });
    expect(m.files.find((f) => f.path === 'model_index.json')!.sha256).toBe('unknown');
    expect(m.approxDownloadBytes).toBe(582 + 342 + 246_144_152 + 1_097_523 + 1_719_042_048 + 198_073_000);
    expect(m.contextWidth).toBe(null); // read from the model at load time
    expect(m.warnings).toEqual([]); // small config files are plain git files: size check only, no warning
    const noLfs = listing.map((e) => (e.path === 'vae_decoder/model.onnx' ? gitFile(e.path, 198_073_000) : e));
    expect(manifestFromHubRepo('a/b', 'main', noLfs).warnings.join(' ')).toMatch(/No SHA-256 in the listing for vae_decoder\/model.onnx \(not stored with LFS\): only their size is checked/);
  });

  it('warns about an fp32 UNet too large for the browser', () => {
    const fp32 = listing.map((e) => (e.path === 'unet/weights.pb' ? lfsFile('unet/weights.pb', 3_438_167_536) : e));
    const m = manifestFromHubRepo('CompVis/stable-diffusion-v1-4', 'onnx', fp32, { contextWidth: 768 });
    expect(m.warnings[0]).toMatch(/unet\/weights.pb is 3.44 GB.*ArrayBuffer.*4 GB.*fp16 export/);
  });

  it('passes run settings for SD 2.x / Turbo', () => {
    const m = manifestFromHubRepo('a/turbo', 'main', listing, { contextWidth: 1024, padTokenId: 0, scheduler: { timestepSpacing: 'trailing' }, defaults: { steps: 1, guidance: 0 } });
    expect([m.contextWidth, m.tokenizer.padTokenId, m.scheduler.timestepSpacing, m.defaults.steps]).toEqual([1024, 0, 'trailing', 1]);
  });

  it('says what is missing and what .onnx files the repo has instead', () => {
    const flat = [lfsFile('unet.onnx', 5), lfsFile('clip.onnx', 5), lfsFile('vae.onnx', 5)];
    expect(() => manifestFromHubRepo('tensorrt/stable-diffusion-2-1', 'main', flat)).toThrow(
      /not laid out like a diffusers ONNX export: missing text_encoder\/model.onnx, unet\/model.onnx, vae_decoder\/model.onnx\. Its .onnx files are: unet.onnx, clip.onnx, vae.onnx/,
    );
  });
});

describe('completeManifestFromListing', () => {
  const turboListing = [
    lfsFile('text_encoder/model.onnx', 680_865_000),
    lfsFile('unet/model.onnx', 1_732_687_681),
    lfsFile('vae_decoder/model.onnx', 99_093_000),
  ];

  it('fills unknown sizes and checksums of a built-in manifest', () => {
    const m = completeManifestFromListing(getManifest('sd-turbo'), turboListing);
    expect(m.files.map((f) => [f.size, f.sha256])).toEqual(turboListing.map((e) => [e.size, e.lfs.oid]));
    expect(m.approxDownloadBytes).toBe(680_865_000 + 1_732_687_681 + 99_093_000);
    expect(getManifest('sd-turbo').files[0]!.size).toBe('unknown'); // the original is untouched
  });

  it('refuses a listing that contradicts what the manifest knows', () => {
    const known = completeManifestFromListing(getManifest('sd-turbo'), turboListing);
    const changed = turboListing.map((e) => (e.path === 'unet/model.onnx' ? lfsFile(e.path, 1_732_687_682) : e));
    expect(() => completeManifestFromListing(known, changed)).toThrow(/unet\/model.onnx: the manifest says 1732687681 bytes, the Hub now has 1732687682/);
    expect(() => completeManifestFromListing(known, turboListing.slice(1))).toThrow(/text_encoder\/model.onnx is not in the listing of schmuell\/sd-turbo-ort-web@main/);
  });
});

describe('fetchHubListing', () => {
  it('follows pages and sends the access token', async () => {
    const seen: { url: string; auth: string | null }[] = [];
    const fake = (async (url: string, init: RequestInit) => {
      seen.push({ url, auth: new Headers(init.headers).get('Authorization') });
      const page2 = url.includes('cursor=2');
      return new Response(JSON.stringify(page2 ? listing.slice(5) : listing.slice(0, 5)), {
        headers: page2 ? {} : { Link: '<https://huggingface.co/api/models/a/b/tree/main?recursive=true&cursor=2>; rel="next"' },
      });
    }) as unknown as typeof fetch;
    const all = await fetchHubListing('a/b', 'main', { fetch: fake, accessToken: 'hf_x' });
    expect(all.length).toBe(listing.length);
    expect(seen.map((s) => s.url)).toEqual(['https://huggingface.co/api/models/a/b/tree/main?recursive=true', 'https://huggingface.co/api/models/a/b/tree/main?recursive=true&cursor=2']);
    expect(seen.every((s) => s.auth === 'Bearer hf_x')).toBe(true);
  });

  it('explains a gated repo and a missing revision', async () => {
    const status = (s: number) => (async () => new Response('{}', { status: s })) as unknown as typeof fetch;
    await expect(fetchHubListing('CompVis/stable-diffusion-v1-4', 'onnx', { fetch: status(401) })).rejects.toThrow(/gated or private \(HTTP 401\).*accept the model's licence.*access token/);
    await expect(fetchHubListing('a/b', 'nope', { fetch: status(404) })).rejects.toThrow(/no revision 'nope'/);
  });
});
