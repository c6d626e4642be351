import { describe, expect, it } from 'vitest';
import { deflateRawSync } from 'node:zlib';
import {
  canonicalModel, decodeShareHash, embedSnippet, encodeShareHash, fromBase64Url, MAX_HASH_CHARS, modelNeedsConsent,
  shareUrl, toBase64Url,
} from '../../src/app/share.ts';
import { defaultState, type PlaygroundState } from '../../src/app/state.ts';

/** A hash built by Node's zlib + Buffer (independent of the codec under test). */
const hashOf = (json: unknown, v = '1') => `v=${v}&s=${deflateRawSync(Buffer.from(typeof json === 'string' ? json : JSON.stringify(json))).toString('base64url')}`;

const rich: PlaygroundState = {
  model: { kind: 'hub', repo: 'someone/sd-onnx', revision: 'onnx' },
  edit: { method: 'rece', erase: ['nudity', 'Van Gogh'], preset: 'artists', rounds: 2, target: 'art', preserve: ['Monet'], lambda: 0.1, preserveScale: 0.1, uce: { lambda: 0.5, tokens: '2023' } },
  prompts: [
    { text: 'une voiture rouge — café ☕ 車', relation: 'composition' },
    { text: 'a painting in the style of Monet', relation: 'neighbour' },
  ],
  seeds: [0, 4294967295, 42],
  steps: 25,
  guidance: 7.5,
  engine: 'wasm',
};

async function rejects(hash: string): Promise<string> {
  try {
    await decodeShareHash(hash);
  } catch (e) {
    expect((e as Error).name).toBe('ShareLinkError');
    return (e as Error).message;
  }
  throw new Error(`expected ${hash.slice(0, 80)} to be refused`);
}

describe('share link codec', () => {
  it('round-trips the default and a rich state (every method, unicode, extreme seeds)', async () => {
    for (const s of [defaultState(), rich]) {
      const hash = await encodeShareHash(s);
      expect(hash).toMatch(/^v=1&s=[A-Za-z0-9_-]+$/);
      expect(await decodeShareHash(`#${hash}`)).toEqual(s);
    }
    const others: PlaygroundState['edit'][] = [
      { method: 'time', source: 'a pack of roses', destination: 'a pack of blue roses', lambda: 0.1 },
      { method: 'progressive', steps: [['car'], ['truck', 'bus']], lambda: 0.5 },
      null,
    ];
    for (const edit of others) {
      const s = { ...defaultState(), edit };
      expect(await decodeShareHash(await encodeShareHash(s))).toEqual(s);
    }
  });

  it('is compact and decodes what Node zlib + base64url produce', async () => {
    const hash = await encodeShareHash(defaultState());
    expect(hash.length).toBeLessThan(400);
    expect(JSON.stringify(defaultState()).length).toBeGreaterThan(hash.length);
    expect(await decodeShareHash(hashOf(defaultState()))).toEqual(defaultState());
  });

  it('base64url matches Buffer for every length mod 3', () => {
    for (let n = 0; n < 70; n++) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n * 13) & 255);
      expect(toBase64Url(b)).toBe(Buffer.from(b).toString('base64url'));
      expect(Array.from(fromBase64Url(Buffer.from(b).toString('base64url')))).toEqual(Array.from(b));
    }
  });

  it('refuses version problems with a message that says what happened', async () => {
    expect(await rejects(hashOf(defaultState()).replace('v=1&', ''))).toMatch(/no version/);
    expect(await rejects(hashOf(defaultState(), '2'))).toMatch(/newer version.*link version 2/);
    expect(await rejects(hashOf(defaultState(), '0'))).toMatch(/version 0 is not one/);
    expect(await rejects(hashOf(defaultState(), 'x1'))).toMatch(/not a number/);
    expect(await rejects('v=1')).toMatch(/carries no state/);
  });

  it('refuses damaged data: bad characters, cut off, not deflate, not JSON, not UTF-8', async () => {
    const good = await encodeShareHash(rich);
    expect(await rejects(good.replace(/s=(.{5})/, 's=$1!'))).toMatch(/characters a share link never has/);
    expect(await rejects(good.slice(0, good.length - 9))).toMatch(/damaged|not valid JSON/);
    expect(await rejects(`v=1&s=${Buffer.from('hello there, not deflate at all').toString('base64url')}`)).toMatch(/damaged/);
    expect(await rejects(hashOf('{"model": oops'))).toMatch(/not valid JSON/);
    expect(await rejects(`v=1&s=${deflateRawSync(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])).toString('base64url')}`)).toMatch(/not valid JSON text/);
    expect(await rejects('v=1&s=A')).toMatch(/impossible length/);
  });

  it('stops a deflate bomb early and refuses over-long hashes', async () => {
    const bomb = deflateRawSync(Buffer.alloc(5 * 1024 * 1024, 0x20)); // 5 MB of spaces
    const hash = `v=1&s=${bomb.toString('base64url')}`;
    expect(hash.length).toBeLessThan(MAX_HASH_CHARS);
    expect(await rejects(hash)).toMatch(/inflates to more than 32 KB/);
    expect(await rejects(`v=1&s=${'A'.repeat(MAX_HASH_CHARS)}`)).toMatch(/characters long; share links are at most 8192/);
  });

  const tamper = async (change: (s: Record<string, any>) => void) => {
    const s = JSON.parse(JSON.stringify(defaultState()));
    change(s);
    return rejects(hashOf(s));
  };

  it('refuses hostile or wrong fields, naming the field', async () => {
    expect(await tamper((s) => (s.model = { kind: 'builtin', id: 'evil' }))).toMatch(/'model.id' must be one of tiny, sd-turbo/);
    expect(await tamper((s) => (s.model = { kind: 'hub', repo: '../../etc/passwd', revision: 'main' }))).toMatch(/'model.repo'/);
    expect(await tamper((s) => (s.model = { kind: 'url', url: 'https://evil.example/x.onnx' }))).toMatch(/'model.kind'/);
    expect(await tamper((s) => (s.script = 'alert(1)'))).toMatch(/unknown field 'script'/);
    expect(await rejects(hashOf(`{"__proto__":{"polluted":1},${JSON.stringify(defaultState()).slice(1)}`))).toMatch(/unknown field '__proto__'/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await tamper((s) => (s.edit.lambda = -1))).toMatch(/'edit.lambda' must be above 0/);
    expect(await tamper((s) => (s.edit.lambda = 0))).toMatch(/'edit.lambda' must be above 0/);
    expect(await rejects(hashOf(JSON.stringify(defaultState()).replace('"lambda":0.5', '"lambda":1e999')))).toMatch(/'edit.lambda'/);
    expect(await tamper((s) => (s.edit.eraseScale = 1e6))).toMatch(/'edit.eraseScale' must be at least 0 and at most 1000/);
    expect(await tamper((s) => (s.edit.bogus = true))).toMatch(/'edit' has unknown field 'bogus' for method 'uce'/);
    expect(await tamper((s) => (s.edit = { method: 'rm -rf', erase: [] }))).toMatch(/'edit.method' must be one of 'uce'/);
    expect(await tamper((s) => (s.edit.erase = []))).toMatch(/'edit.erase' must be at least one concept/);
    expect(await tamper((s) => (s.edit.erase = Array(17).fill('car')))).toMatch(/at most 16 concepts/);
    expect(await tamper((s) => (s.edit.rounds = 9))).toMatch(/unknown field 'rounds'/);
    expect(await tamper((s) => (s.edit = { method: 'rece', erase: ['x'], rounds: 9 }))).toMatch(/'edit.rounds' must be an integer from 1 to 3/);
    expect(await tamper((s) => (s.seeds = [1.5]))).toMatch(/'seeds\[0\]' must be an integer/);
    expect(await tamper((s) => (s.seeds = [-1]))).toMatch(/'seeds\[0\]' must be at least 0/);
    expect(await tamper((s) => (s.seeds = []))).toMatch(/'seeds' must be a non-empty list/);
    expect(await tamper((s) => (s.seeds = [1, 2, 3, 4, 5, 6, 7]))).toMatch(/at most 6 seeds/);
    expect(await tamper((s) => (s.steps = 5000))).toMatch(/'steps' must be at least 1 and at most 50/);
    expect(await tamper((s) => (s.guidance = '7'))).toMatch(/'guidance' must be a finite number/);
    expect(await tamper((s) => (s.engine = 'cuda'))).toMatch(/'engine' must be one of auto, wasm, webgpu/);
    expect(await tamper((s) => (s.prompts = Array(13).fill({ text: 'x', relation: 'custom' })))).toMatch(/at most 12 prompts/);
    expect(await tamper((s) => (s.prompts[0].text = 'x'.repeat(201)))).toMatch(/at most 200 characters/);
    expect(await tamper((s) => (s.prompts[0].text = 'a car\u202e gnp.exe'))).toMatch(/control or bidi-override/);
    expect(await tamper((s) => (s.prompts[0].text = '<img src=x onerror=alert(1)>\u0000'))).toMatch(/'prompts\[0\].text'/);
    expect(await tamper((s) => (s.prompts[0].relation = 'friend'))).toMatch(/'prompts\[0\].relation'/);
    expect(await tamper((s) => delete s.seeds)).toMatch(/has no 'seeds'/);
    expect(await rejects(hashOf([1, 2]))).toMatch(/must be a JSON object/);
    await expect(tamper(() => {})).rejects.toThrow(/to be refused/); // the helper itself can fail
  });

  it('asks before downloading a model from an unknown Hub repo, not for built-ins or their sources', () => {
    expect(modelNeedsConsent({ kind: 'builtin', id: 'sd-turbo' })).toBe(false);
    expect(modelNeedsConsent({ kind: 'hub', repo: 'stranger/big-model', revision: 'main' })).toBe(true);
    expect(modelNeedsConsent({ kind: 'hub', repo: 'schmuell/sd-turbo-ort-web', revision: 'main' })).toBe(false);
    expect(modelNeedsConsent({ kind: 'hub', repo: 'schmuell/sd-turbo-ort-web', revision: 'other' })).toBe(true);
    expect(canonicalModel({ kind: 'hub', repo: 'CompVis/stable-diffusion-v1-4', revision: 'onnx' })).toEqual({ kind: 'builtin', id: 'sd-1-4' });
  });

  it('never carries a model of picked files: encoding refuses with what to do, a crafted link is refused', async () => {
    const local: PlaygroundState = { ...defaultState(), model: { kind: 'local', id: 'local' } };
    await expect(encodeShareHash(local)).rejects.toThrow(/files from your computer, which a link cannot carry\. Put them in a Hugging Face Hub repo/);
    expect(await rejects(hashOf(local))).toMatch(/model files from someone's computer.*Nothing from it was run/);
    expect(await tamper((s) => (s.model = { kind: 'local', id: '../x' } as never))).toMatch(/'model.id'/);
    expect(modelNeedsConsent(local.model)).toBe(false);
    expect(canonicalModel(local.model)).toEqual(local.model);
  });

  it('builds share and embed URLs and an escaped iframe snippet', () => {
    expect(shareUrl('https://x.org/lab/?old=1#old', 'v=1&s=abc')).toBe('https://x.org/lab/#v=1&s=abc');
    expect(shareUrl('https://x.org/lab/', 'v=1&s=abc', { embed: true })).toBe('https://x.org/lab/?embed#v=1&s=abc');
    const snippet = embedSnippet('https://x.org/?embed#v=1&s="><script>', { title: 'a "quoted" <b>' });
    expect(snippet).toMatch(/^<iframe src="https:\/\/x.org\/\?embed#v=1&amp;s=&quot;&gt;&lt;script&gt;"/);
    expect(snippet).toContain('title="a &quot;quoted&quot; &lt;b&gt;"');
    expect(snippet).not.toMatch(/<script|<b>/);
  });
});
