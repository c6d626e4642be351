import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { BUILTIN_MANIFESTS, expectedBytes, getManifest, ManifestError, manifestFromFiles, roleOfPath, validateManifest } from '../../src/lib/models/manifests.ts';

const raw = (name: string) => JSON.parse(readFileSync(`src/lib/models/manifests/${name}.json`, 'utf8'));

describe('built-in manifests', () => {
  it('are all shipped and valid, one per JSON file', () => {
    const files = readdirSync('src/lib/models/manifests').filter((f) => f.endsWith('.json'));
    expect(BUILTIN_MANIFESTS.map((m) => m.id).sort()).toEqual(files.map((f) => raw(f.replace('.json', '')).id).sort());
    for (const m of BUILTIN_MANIFESTS) {
      // approxDownloadBytes is the files' sum, recomputed here.
      let sum = 0;
      for (const f of m.files) sum += f.approxSize;
      expect(m.approxDownloadBytes, m.id).toBe(sum);
      expect(m.tokenizer.path).toBe('tokenizers/clip/');
      expect(m.tokenizer.maxLength).toBe(77);
    }
  });

  it('SD-Turbo: the ORT web demo files, fp16 needing shader-f16, 1 trailing Euler step, no guidance', () => {
    const m = getManifest('sd-turbo');
    expect(m.source).toEqual({ kind: 'hub', repo: 'schmuell/sd-turbo-ort-web', revision: 'main' });
    expect(m.files.map((f) => f.path)).toEqual(['text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx']);
    expect(m.files.find((f) => f.role === 'unet')!.approxSize).toBe(1732687681);
    expect(m.requires.shaderF16).toBe(true);
    expect(m.weights).toBe('float16');
    expect([m.contextWidth, m.latentSize, m.tokenizer.padTokenId]).toEqual([1024, 64, 0]);
    expect(m.scheduler).toMatchObject({ name: 'EulerDiscrete', timestepSpacing: 'trailing', initSigma: 14.6146, betaStart: 0.00085, betaEnd: 0.012, numTrainTimesteps: 1000 });
    expect(m.defaults).toMatchObject({ steps: 1, guidance: 0 });
    expect(m.approxDownloadBytes / 1e9).toBeCloseTo(2.51, 2);
  });

  it('SD 1.4 / 1.5: pad 49407, d = 768, CFG 7.5, SD 1.x scheduler; 1.5 is the fp16 export under the 2 GB limit', () => {
    for (const id of ['sd-1-4', 'sd-1-5']) {
      const m = getManifest(id);
      expect([m.contextWidth, m.tokenizer.padTokenId, m.defaults.guidance], id).toEqual([768, 49407, 7.5]);
      expect(m.defaults.steps).toBeGreaterThanOrEqual(20);
      expect(m.defaults.steps).toBeLessThanOrEqual(50);
      expect(m.scheduler).toMatchObject({ betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012, numTrainTimesteps: 1000, stepsOffset: 1, timestepSpacing: 'linspace' });
    }
    const sd15 = getManifest('sd-1-5');
    expect(sd15.source).toMatchObject({ repo: 'nmkd/stable-diffusion-1.5-onnx-fp16' });
    for (const f of sd15.files) expect(f.approxSize, f.path).toBeLessThan(0x7fe00000);
    const sd14 = getManifest('sd-1-4');
    expect(sd14.source).toEqual({ kind: 'hub', repo: 'CompVis/stable-diffusion-v1-4', revision: 'onnx' });
    expect(sd14.warnings.join(' ')).toMatch(/3\.44 GB.*4 GB/);
  });

  it('never invents a checksum: none is published in our notes, so every one says unknown', () => {
    for (const m of BUILTIN_MANIFESTS) for (const f of m.files) expect(f.sha256, `${m.id} ${f.path}`).toBe('unknown');
  });

  it('tiny: served from the app folder with the generator layout', () => {
    const m = getManifest('tiny');
    expect(m.source).toEqual({ kind: 'builtin', path: 'models/tiny/' });
    expect(m.files.map((f) => f.path).sort()).toEqual(['pipeline.json', 'text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx']);
    expect(expectedBytes(m)).toBe(m.approxDownloadBytes);
  });

  it('getManifest names the ids there are', () => {
    expect(() => getManifest('sdxl')).toThrow(/No built-in model 'sdxl'.*tiny, sd-turbo/);
  });
});

describe('validateManifest', () => {
  it('lists every problem with its field', () => {
    const bad = raw('sd-turbo');
    bad.id = 'SD Turbo!';
    bad.files[1].sha256 = 'abc123';
    bad.files[2].size = -5;
    bad.files[0].path = '../etc/passwd';
    bad.contextWidth = 0;
    bad.scheduler.timestepSpacing = 'sometimes';
    try {
      validateManifest(bad, 'My manifest');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ManifestError);
      const p = (e as ManifestError).problems;
      expect((e as Error).message).toMatch(/^My manifest is not a valid model manifest/);
      expect(p.some((x) => /^id must be/.test(x))).toBe(true);
      expect(p.some((x) => /files\[1\]\.sha256 must be 64 hex.*never guess/.test(x))).toBe(true);
      expect(p.some((x) => /files\[2\]\.size must be a byte count or 'unknown'/.test(x))).toBe(true);
      expect(p.some((x) => /files\[0\]\.path must be a relative path/.test(x))).toBe(true);
      expect(p.some((x) => /^contextWidth/.test(x))).toBe(true);
      expect(p.some((x) => /timestepSpacing/.test(x))).toBe(true);
      expect(p.length).toBe(6);
    }
  });

  it('requires the three graphs, unique paths and a consistent approximate total', () => {
    const m = raw('sd-1-5');
    m.files = m.files.filter((f: { role: string }) => f.role !== 'unet');
    m.files.push({ ...m.files[0] });
    expect(() => validateManifest(m)).toThrow(/lists 'text_encoder\/model.onnx' twice[\s\S]*files has no unet[\s\S]*approxDownloadBytes must be the sum/);
    expect(() => validateManifest('nope')).toThrow(/must be a JSON object/);
  });

  it('accepts a checksum when it is a real hex digest', () => {
    const m = raw('tiny');
    m.files[0].sha256 = 'A'.repeat(64);
    m.files[0].size = 123;
    expect(validateManifest(m).files[0]!.size).toBe(123);
  });
});

describe('manifestFromFiles (files dropped by the user)', () => {
  const file = (rel: string, bytes: number) => {
    const f = new File([new Uint8Array(bytes)], rel.split('/').at(-1)!);
    Object.defineProperty(f, 'webkitRelativePath', { value: rel });
    return f;
  };

  it('finds the diffusers layout inside the dropped folder, with exact sizes', () => {
    const dropped = [
      file('my-sd/text_encoder/model.onnx', 10),
      file('my-sd/unet/model.onnx', 20),
      file('my-sd/unet/weights.pb', 30),
      file('my-sd/vae_decoder/model.onnx', 40),
      file('my-sd/vae_encoder/model.onnx', 50),
      file('my-sd/README.md', 5),
    ];
    const { manifest, files } = manifestFromFiles(dropped, { contextWidth: 1024 });
    expect([...files.keys()].sort()).toEqual(['text_encoder/model.onnx', 'unet/model.onnx', 'unet/weights.pb', 'vae_decoder/model.onnx']);
    expect(manifest.files.find((f) => f.path === 'unet/weights.pb')).toMatchObject({ role: 'external_data', size: 30, sha256: 'unknown' });
    expect(manifest.source).toEqual({ kind: 'local' });
    expect(manifest.contextWidth).toBe(1024);
    expect(manifest.approxDownloadBytes).toBe(100);
  });

  it('explains why three loose model.onnx files are not enough', () => {
    const loose = [new File(['a'], 'model.onnx'), new File(['b'], 'model.onnx'), new File(['c'], 'model.onnx')];
    expect(() => manifestFromFiles(loose)).toThrow(/missing text_encoder\/model.onnx, unet\/model.onnx, vae_decoder\/model.onnx.*Drop the whole model folder.*cannot be told apart/s);
  });

  it('knows the external-data names of the usual exporters', () => {
    expect(roleOfPath('unet/weights.pb')).toBe('external_data');
    expect(roleOfPath('unet/model.onnx_data')).toBe('external_data');
    expect(roleOfPath('unet/model.onnx.data')).toBe('external_data');
    expect(roleOfPath('text_encoder/model.onnx_data_1')).toBe('external_data');
    expect(roleOfPath('safety_checker/model.onnx')).toBe(null);
    expect(roleOfPath('scheduler/scheduler_config.json')).toBe('config');
  });
});

describe('manifest kinds', () => {
  it('validates a Florence-2 manifest as a file set, and still requires the SD parts of a pipeline', async () => {
    const { judgeManifest, FLORENCE_2_BASE_FT } = await import('../../src/lib/models/florence-manifest.ts');
    const { dtypeMix } = await import('../../src/lib/models/florence-manifest.ts');
    const m = judgeManifest(FLORENCE_2_BASE_FT, dtypeMix('wasm', false));
    expect(validateManifest(m).kind).toBe('florence-2');
    expect(m.files.filter((f) => f.role === 'onnx').length).toBe(4);
    expect(() => validateManifest({ ...m, kind: 'stable-diffusion' })).toThrow(/files has no text_encoder/);
    expect(() => validateManifest({ ...m, kind: 'gpt' })).toThrow(/kind must be 'stable-diffusion' or 'florence-2'/);
  });
});
