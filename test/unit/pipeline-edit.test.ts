/**
 * The worker's generation code (workers/sd-pipeline.ts, edit-state.ts, cancellation.ts) on a
 * generated pipeline in onnxruntime-node: seeds, edits applied as context maps, weight export,
 * and cancellation.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { runPipeline } from '../../workers/sd-pipeline.ts';
import { encodeText } from '../../workers/sd-pipeline.ts';
import { EditState } from '../../workers/edit-state.ts';
import { Cancellation, CancelledError } from '../../workers/cancellation.ts';
import { readCrossAttentionProjections } from '../../workers/unet-projections.ts';
import { findCrossAttentionSites, indexModel, patchSiteProjection, readSiteProjection, type ModelSources } from '../../src/lib/onnx/index.ts';
import { denseMatrix, identityMap, readSafetensors, recoverContextMap, serializeContextMap, writeSafetensors } from '../../src/lib/erasure/index.ts';
import { nodePipeline, tokenizer, type NodePipeline } from './pipeline-helpers.ts';

const spec = { size: 'tiny', style: 'plain', seed: 3, latentSize: 16 } as const;
const request = { prompt: 'a photo of a red car', seed: 1234, steps: 3, guidance: 5 };

function editsFor(p: NodePipeline): EditState {
  return new EditState({
    contextWidth: p.config.contextWidth,
    encodePrompt: async (text) => ({ ids: tokenizer.encodePrompt(text).ids, hidden: await encodeText(p, text) }),
    unetSources: p.unetSources,
  });
}

const meanAbs = (a: Uint8ClampedArray, b: Uint8ClampedArray) => a.reduce((s, x, i) => s + Math.abs(x - b[i]!), 0) / a.length;

describe('generation in the worker pipeline', () => {
  it('gives the same image for the same seed, and another for another seed', async () => {
    const p = await nodePipeline(spec);
    const a = await runPipeline(p, request);
    const b = await runPipeline(p, request);
    const c = await runPipeline(p, { ...request, seed: 1235 });
    expect(a.width).toBe(128);
    expect(Array.from(a.rgba)).toEqual(Array.from(b.rgba));
    // Progress every step, with a latent preview when asked (and the same image).
    const seen: { step: number; w?: number }[] = [];
    const previewed = await runPipeline(p, { ...request, preview: true }, { onProgress: (q) => seen.push({ step: q.step, w: q.preview?.width }) });
    expect(seen).toEqual([1, 2, 3].map((step) => ({ step, w: 16 })));
    expect(Array.from(previewed.rgba)).toEqual(Array.from(a.rgba));
    expect(meanAbs(a.rgba, c.rgba)).toBeGreaterThan(5);
  });

  it('changes the image exactly as editing the weights with W·M would', async () => {
    const p = await nodePipeline(spec);
    const edits = editsFor(p);
    const summary = await edits.erase({ method: 'uce', erase: ['car'], preserve: ['bus'] });
    expect(summary.diagnostics.rank).toBe(1);

    // The same edit made the slow way: every to_k/to_v replaced by W·M (ONNX stores Wᵀ: Mᵀ·W_onnx).
    const M = denseMatrix(edits.map!);
    const d = p.config.contextWidth;
    let sources: ModelSources = p.unetSources;
    const index = await indexModel(sources.model);
    for (const site of findCrossAttentionSites(index)) {
      for (const which of ['k', 'v'] as const) {
        const w = await readSiteProjection(site, which, p.unetSources);
        const out = new Float32Array(w.rows * w.cols);
        for (let i = 0; i < d; i++) {
          for (let o = 0; o < w.cols; o++) {
            let s = 0;
            for (let k = 0; k < d; k++) s += M[k * d + i]! * w.data[k * w.cols + o]!;
            out[i * w.cols + o] = s;
          }
        }
        sources = await patchSiteProjection(site, which, out, sources);
      }
    }
    const patched = await nodePipeline(spec, sources.model as Uint8Array);

    const byMap = await runPipeline(p, request, { map: edits.map });
    const byWeights = await runPipeline(patched, request);
    const original = await runPipeline(p, request);
    expect(meanAbs(byMap.rgba, byWeights.rgba)).toBeLessThan(0.05);
    expect(meanAbs(byMap.rgba, original.rgba)).toBeGreaterThan(1);
  });

  it('exports the edit as diffusers-named safetensors whose M is recovered exactly', async () => {
    const p = await nodePipeline(spec);
    const edits = editsFor(p);
    await edits.erase({ method: 'rece', erase: ['car'], preset: 'easyObjects', rounds: 2 });
    const file = readSafetensors(await edits.exportWeights('F32'));
    expect(file.tensors.size).toBe(32);
    expect(file.tensors.has('down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight')).toBe(true);
    const recovered = recoverContextMap(await readCrossAttentionProjections(p.unetSources), file.tensors);
    expect(recovered.shared).toBe(true);
    expect(recovered.residualOfEdit).toBeLessThan(1e-3);
    const M = denseMatrix(edits.map!);
    const R = denseMatrix(recovered.map);
    const err = Math.max(...Array.from(M, (x, i) => Math.abs(x - R[i]!)));
    expect(err).toBeLessThan(1e-3);
  });

  it('imports a published edit: as a context map when one M explains it, else by patching weights', async () => {
    const p = await nodePipeline(spec);
    const maker = editsFor(p);
    await maker.erase({ method: 'uce', erase: ['car'], preserve: ['bus'] });
    const published = await maker.exportWeights('F32');

    const shared = await editsFor(p).importWeights(published);
    expect(shared).toMatchObject({ mode: 'map', tensors: 32 });
    expect(shared.residual).toBeLessThan(1e-3);

    // A per-layer edit (each projection scaled differently) is not W·M for one M.
    const file = readSafetensors(published);
    const tensors: Record<string, { name: string; shape: number[]; data: Float32Array }> = {};
    let l = 0;
    for (const [name, t] of file.tensors) tensors[name] = { name, shape: t.shape, data: t.data.map((x) => x * (1 + 0.3 * Math.sin(++l))) };
    const perLayer = writeSafetensors(Object.values(tensors));
    const edits = editsFor(p);
    const patched = await edits.importWeights(perLayer);
    expect(patched.mode).toBe('weights');
    expect(edits.map).toBeNull();
    const name = 'up_blocks.1.attentions.0.transformer_blocks.0';
    const site = findCrossAttentionSites(await indexModel(edits.patchedUnet!.model)).find((x) => x.name === name)!;
    const w = await readSiteProjection(site, 'v', edits.patchedUnet!);
    const t = tensors[`${name}.attn2.to_v.weight`]!;
    expect(w.data[3 * w.cols + 5]).toBeCloseTo(t.data[5 * w.rows + 3]!, 6); // [in,out] vs [out,in]
    const withPatched = await runPipeline(await nodePipeline(spec, edits.patchedUnet!.model as Uint8Array), request);
    expect(meanAbs(withPatched.rgba, (await runPipeline(p, request)).rgba)).toBeGreaterThan(1);

    const q = writeSafetensors([{ name: 'mid_block.attentions.0.transformer_blocks.0.attn2.to_q.weight', shape: [64, 64], data: new Float32Array(4096) }, ...Object.values(tensors)]);
    await expect(editsFor(p).importWeights(q)).rejects.toThrow(/other than attn2 to_k\/to_v \(e\.g\. mid_block.*to_q\.weight\)/);
  });

  it('returns per-word attention maps from the same run, and the edit changes them', async () => {
    const p = await nodePipeline(spec, undefined, { attention: true });
    const plain = await runPipeline(p, request);
    const original = await runPipeline(p, { ...request, attention: true });
    // Capturing does not change the picture.
    expect(Array.from(original.rgba)).toEqual(Array.from(plain.rgba));
    const a = original.attention!;
    expect(a.words.map((w) => w.text)).toEqual(['a', 'photo', 'of', 'a', 'red', 'car']);
    expect(a.maps.tokens).toEqual([1, 2, 3, 4, 5, 6]);
    expect([a.maps.height, a.maps.width]).toEqual([16, 16]);
    expect(a.maps.maps.length).toBe(6 * 16 * 16);
    expect(a.maps.maps.every((x) => Number.isFinite(x) && x >= 0)).toBe(true);

    const edits = editsFor(p);
    await edits.erase({ method: 'uce', erase: ['car'] });
    const erased = await runPipeline(p, { ...request, attention: true }, { map: edits.map });
    const car = (m: Float32Array) => m.subarray(5 * 256, 6 * 256).reduce((s, x) => s + x, 0);
    expect(Math.abs(car(erased.attention!.maps.maps) - car(a.maps.maps)) / car(a.maps.maps)).toBeGreaterThan(0.01);
  });

  it('refuses a saved edit made for another context width, with a way out', async () => {
    const p = await nodePipeline(spec);
    const edits = editsFor(p);
    const wide = serializeContextMap(identityMap(768));
    expect(() => edits.set(wide)).toThrow(/context width 768.*has 32.*Load the model it was made with/);
  });

  it('stops a running generation when a newer one starts', async () => {
    const p = await nodePipeline(spec);
    const gens = new Cancellation();
    const first = gens.begin();
    const running = runPipeline(p, { ...request, steps: 20 }, { checkCancelled: first.check });
    const second = gens.begin();
    await expect(running).rejects.toBeInstanceOf(CancelledError);
    const image = await runPipeline(p, request, { checkCancelled: second.check });
    expect(image.rgba.length).toBe(128 * 128 * 4);
    gens.end(first);
    gens.end(second);
    expect(gens.active).toBe(0);
  });
});

// Keep onnxruntime-node's import alive for the session types the helpers create.
void ort;
