/** The CLIP text model's manifest (src/lib/models/clip-manifest.ts): file names transformers.js loads, validation. */
import { describe, expect, it } from 'vitest';
import { CLIP_VIT_B32_TEXT, clipManifest, clipTextOnnxPath } from '../../src/lib/models/clip-manifest.ts';
import { validateManifest } from '../../src/lib/models/manifests.ts';

describe('CLIP text manifest', () => {
  it("names the graph as transformers.js does for CLIPTextModelWithProjection ('text_model' + dtype suffix)", () => {
    expect(clipTextOnnxPath('q8')).toBe('onnx/text_model_quantized.onnx');
    expect(clipTextOnnxPath('fp32')).toBe('onnx/text_model.onnx');
  });

  it('lists the configs and the q8 graph of the real model and passes validation as kind clip-text', () => {
    const m = validateManifest(clipManifest(CLIP_VIT_B32_TEXT));
    expect(m.kind).toBe('clip-text');
    expect(m.source).toEqual({ kind: 'hub', repo: 'Xenova/clip-vit-base-patch32', revision: 'main' });
    expect(m.files.map((f) => f.path)).toEqual(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/text_model_quantized.onnx']);
    expect(m.files.every((f) => f.size === 'unknown')).toBe(true);
    // About 64 MB of graph plus the tokenizer: the sum of the listed approximations.
    expect(m.approxDownloadBytes).toBe(m.files.reduce((s, f) => s + f.approxSize, 0));
    expect(m.approxDownloadBytes).toBeGreaterThan(60e6);
    expect(m.approxDownloadBytes).toBeLessThan(70e6);
  });

  it('uses exact sizes when the source knows them (a generated test model)', () => {
    const sizes = { 'config.json': 10, 'tokenizer.json': 20, 'tokenizer_config.json': 30, 'onnx/text_model.onnx': 40 };
    const m = validateManifest(clipManifest({ ...CLIP_VIT_B32_TEXT, id: 'clip-tiny', dtype: 'fp32', sizes }));
    expect(Object.fromEntries(m.files.map((f) => [f.path, f.size]))).toEqual(sizes);
    expect(m.approxDownloadBytes).toBe(100);
  });

  it('refuses unknown kinds with a message that lists the allowed ones', () => {
    expect(() => validateManifest({ ...clipManifest(CLIP_VIT_B32_TEXT), kind: 'gpt' })).toThrow(/kind must be 'stable-diffusion' or 'florence-2' or 'clip-text' \(got "gpt"\)/);
  });
});
