/**
 * The key idea of DESIGN.md, proved on generated UNets: editing every attn2 to_k/to_v weight with
 * UCE's reference closed form, W_new = (λW + Σ s_e W c* cᵀ + Σ s_p W c_j c_jᵀ)(λI + Σ s_e c cᵀ +
 * Σ s_p c_j c_jᵀ)⁻¹ — computed here per projection in float64 with a textbook inverse — gives the
 * same UNet output as feeding encoder_hidden_states · Mᵀ to the unedited UNet, M from our engine.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { eraseUce, applyContextMap } from '../../src/lib/erasure/index.ts';
import { findCrossAttentionSites, indexModel, patchSiteProjection, readSiteProjection, type ModelSources } from '../../src/lib/onnx/index.ts';
import { encodeText } from '../../workers/sd-pipeline.ts';
import { add, eye, fromFlat, gaussJordanInverse, mul, outer, tr } from './erasure-helpers.ts';
import { nodePipeline, tokenizer } from './pipeline-helpers.ts';

const EOS = 49407;
const LAMBDA = 0.5;

/** The last word token of a prompt's encoding (UCE 2025), chosen here without the engine's code. */
async function lastWordVector(p: Awaited<ReturnType<typeof nodePipeline>>, text: string): Promise<number[]> {
  const { ids } = tokenizer.encodePrompt(text);
  const hidden = await encodeText(p, text);
  const d = p.config.contextWidth;
  const index = text === '' ? 0 : ids.indexOf(EOS) - 1;
  return Array.from(hidden.subarray(index * d, (index + 1) * d));
}

async function unetOut(session: ort.InferenceSession, context: Float32Array, d: number): Promise<Float32Array> {
  const size = 8;
  const sample = Float32Array.from({ length: 4 * size * size }, (_, i) => Math.sin(i * 0.37));
  const out = await session.run({
    sample: new ort.Tensor('float32', sample, [1, 4, size, size]),
    timestep: new ort.Tensor('int64', BigInt64Array.from([500n]), [1]),
    encoder_hidden_states: new ort.Tensor('float32', context, [1, 77, d]),
  });
  return out.out_sample!.data as Float32Array;
}

const relDiff = (a: Float32Array, b: Float32Array) => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
};

describe.each(['plain', 'fused'] as const)('key idea on the %s export', (style) => {
  it('weight editing with the reference closed form equals feeding x·Mᵀ', async () => {
    const p = await nodePipeline({ size: 'tiny', style, seed: 11 });
    const d = p.config.contextWidth;
    const encode = async (texts: string[]) =>
      Promise.all(texts.map(async (text) => ({ text, ids: tokenizer.encodePrompt(text).ids, hidden: await encodeText(p, text), d })));
    const { map } = await eraseUce({ erase: ['car'], preserve: ['bus'], lambda: LAMBDA, tokens: '2025' }, encode);

    // Reference vectors: erase c (car) → c* (''), preserve c_p (bus), scales 1.
    const c = await lastWordVector(p, 'car');
    const cStar = await lastWordVector(p, '');
    const cP = await lastWordVector(p, 'bus');
    const mat2 = add(add(eye(d, LAMBDA), outer(c, c)), outer(cP, cP));
    const mat2Inv = gaussJordanInverse(mat2);

    const index = await indexModel(p.unetSources.model);
    const sites = findCrossAttentionSites(index);
    expect(sites).toHaveLength(16);
    let sources: ModelSources = p.unetSources;
    for (const site of sites) {
      for (const which of ['k', 'v'] as const) {
        const stored = await readSiteProjection(site, which, p.unetSources); // [in = d, out]
        const w = tr(fromFlat(stored.data, stored.rows, stored.cols)); // torch layout [out, in]
        const wc = (v: number[]) => mul(w, v.map((x) => [x])).map((r) => r[0]!);
        let mat1 = w.map((row) => row.map((x) => LAMBDA * x));
        mat1 = add(mat1, outer(wc(cStar), c));
        mat1 = add(mat1, outer(wc(cP), cP));
        const wNew = mul(mat1, mat2Inv);
        sources = await patchSiteProjection(site, which, Float32Array.from(tr(wNew).flat()), sources);
      }
    }
    const edited = await ort.InferenceSession.create(sources.model as Uint8Array);

    const context = await encodeText(p, 'a photo of a red car');
    const byWeights = await unetOut(edited, context, d);
    const byMap = await unetOut(p.unet as unknown as ort.InferenceSession, applyContextMap(map, context, [1, 77, d]), d);
    const original = await unetOut(p.unet as unknown as ort.InferenceSession, context, d);

    expect(relDiff(byMap, byWeights)).toBeLessThan(1e-4);
    // …and the edit is not a no-op.
    expect(relDiff(original, byWeights)).toBeGreaterThan(1e-3);
  });
});
