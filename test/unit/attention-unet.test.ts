/**
 * The TypeScript reference against the model's own attention: a generated tiny SD UNet (plain
 * export) that also outputs every attn2's post-softmax probabilities. Q is exposed by appending
 * graph outputs (src/lib/onnx appendGraphOutputs), K is computed from the context and the
 * site's W_k, and the accumulated probabilities must equal the sum of the model's softmax
 * outputs for the conditional branch, at all 16 sites. The fused export must expose the same Q;
 * the packed-KV export (CPU engines refuse it) must yield the same K weights.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { appendGraphOutputs, findCrossAttentionSites, indexModel, readSiteProjection, type CrossAttentionSite } from '../../src/lib/onnx/index.ts';
import { AttentionAccumulator, attentionProbabilities, contextKeys, levelSize } from '../../src/lib/attention/index.ts';
import { generateUnet } from '../../tools/sdgen/index.ts';
import { maxAbsDiff, randomValues } from './onnx-helpers.ts';

const SEED = 11;
const LATENT = 16;
const D = 32; // tiny context width
const TOKENS = 77;
/** float32 softmax of the same logits computed in two orders: |Δp| stays ~1e-7; 1e-5 leaves margin for summing two steps. */
const TOLERANCE = 1e-5;

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A session of `model` whose outputs also include every site's Q. */
async function withQ(model: Uint8Array) {
  const index = await indexModel(model);
  const sites = findCrossAttentionSites(index);
  const { bytes } = appendGraphOutputs(index, sites.map((s) => s.qTensor));
  const session = await ort.InferenceSession.create(concatBytes(model, bytes));
  return { index, sites, session };
}

const context = randomValues(2 * TOKENS * D, 5); // [uncond, cond] contexts, different
function feeds(step: number) {
  return {
    sample: new ort.Tensor('float32', randomValues(2 * 4 * LATENT * LATENT, 100 + step, 1.5), [2, 4, LATENT, LATENT]),
    timestep: new ort.Tensor('int64', BigInt64Array.from([BigInt(900 - 300 * step)]), [1]),
    encoder_hidden_states: new ort.Tensor('float32', context, [2, TOKENS, D]),
  };
}

function probsOutputName(site: CrossAttentionSite): string {
  return `attn2_probs:${site.q.node.replace(/\/attn2\/to_q\/MatMul$/, '')}`;
}

describe('attention probabilities from captured Q and K', () => {
  const plain = generateUnet({ size: 'tiny', seed: SEED, exposeCrossAttentionProbs: true });
  let sites: CrossAttentionSite[];
  let session: ort.InferenceSession;
  const wk = new Map<string, Float32Array>();
  const runs: Record<string, ort.Tensor>[] = [];

  beforeAll(async () => {
    ({ sites, session } = await withQ(plain.model));
    for (const s of sites) wk.set(s.name, (await readSiteProjection(s, 'k', { model: plain.model })).data);
    for (const step of [0, 1]) runs.push(await session.run(feeds(step)));
  });

  it('finds 16 sites whose Q and probability outputs have the level-relative shapes', () => {
    expect(sites).toHaveLength(16);
    expect(sites.map((s) => s.level)).toEqual([0, 0, 1, 1, 2, 2, 3, 2, 2, 2, 1, 1, 1, 0, 0, 0]);
    for (const s of sites) {
      const hw = levelSize(LATENT, s.level!) ** 2;
      expect(runs[0][s.qTensor].dims).toEqual([2, hw, s.heads * s.headSize]);
      expect(runs[0][probsOutputName(s)].dims).toEqual([2, s.heads, hw, TOKENS]);
    }
  });

  it('running sums over two steps equal the sum of the model softmax (conditional branch), all 16 sites', () => {
    const cond = context.subarray(TOKENS * D);
    const acc = new AttentionAccumulator(sites, AttentionAccumulator.keysFor(sites, cond, TOKENS, wk), LATENT, LATENT, TOKENS);
    expect(acc.qTensorNames().sort()).toEqual(sites.map((s) => s.qTensor).sort());
    runs.forEach((out, step) => acc.accumulate(step, Object.fromEntries(acc.qTensorNames().map((n) => [n, out[n].data as Float32Array])), 1));
    const maps = acc.result();
    expect(maps.steps).toEqual([0, 1]);
    for (const [i, s] of sites.entries()) {
      const layer = maps.layers[i];
      expect(layer.name).toBe(s.name);
      const per = layer.sums.length;
      const expected = new Float64Array(per);
      for (const out of runs) {
        const p = out[probsOutputName(s)].data as Float32Array;
        for (let j = 0; j < per; j++) expected[j] += p[per + j]; // batch index 1
      }
      expect(maxAbsDiff(layer.sums, expected), s.name).toBeLessThan(TOLERANCE);
    }
  });

  it('the unconditional branch differs (the batch index matters)', () => {
    const s = sites[0];
    const pixels = levelSize(LATENT, 0) ** 2;
    const k = contextKeys(context.subarray(0, TOKENS * D), TOKENS, wk.get(s.name)!, D, s.heads * s.headSize);
    const mine = attentionProbabilities(runs[0][s.qTensor].data as Float32Array, 0, k, { heads: s.heads, headSize: s.headSize, pixels, tokens: TOKENS });
    const model = runs[0][probsOutputName(s)].data as Float32Array;
    expect(maxAbsDiff(mine, model.subarray(0, mine.length))).toBeLessThan(TOLERANCE);
    expect(maxAbsDiff(mine, model.subarray(mine.length))).toBeGreaterThan(0.01);
  });

  it('the fused export exposes the same Q at every site, so its maps equal the plain model softmax', async () => {
    const fusedModel = generateUnet({ size: 'tiny', seed: SEED, style: 'fused' }).model;
    const fused = await withQ(fusedModel);
    expect(fused.sites.every((s) => s.style === 'fused')).toBe(true);
    const out = await fused.session.run(feeds(0));
    const cond = context.subarray(TOKENS * D);
    for (const s of fused.sites) {
      const plainSite = sites.find((p) => p.name === s.name)!;
      expect(maxAbsDiff(out[s.qTensor].data as Float32Array, runs[0][plainSite.qTensor].data as Float32Array), s.name).toBeLessThan(1e-4);
      const w = await readSiteProjection(s, 'k', { model: fusedModel });
      const pixels = levelSize(LATENT, s.level!) ** 2;
      const p = attentionProbabilities(out[s.qTensor].data as Float32Array, pixels * s.heads * s.headSize, contextKeys(cond, TOKENS, w.data, D, s.heads * s.headSize), { heads: s.heads, headSize: s.headSize, pixels, tokens: TOKENS });
      const model = runs[0][probsOutputName(plainSite)].data as Float32Array;
      expect(maxAbsDiff(p, model.subarray(p.length)), s.name).toBeLessThan(1e-4);
    }
  });

  it('the packed-KV export: Q outputs can be appended and de-interleaved K weights equal the plain ones', async () => {
    const packed = generateUnet({ size: 'tiny', seed: SEED, style: 'fused-packed-kv' }).model;
    const index = await indexModel(packed);
    const psites = findCrossAttentionSites(index);
    expect(psites.every((s) => s.style === 'fused-packed-kv')).toBe(true);
    const { bytes } = appendGraphOutputs(index, psites.map((s) => s.qTensor));
    const extended = await indexModel(concatBytes(packed, bytes));
    expect(extended.graph.outputs.map((o) => o.name)).toEqual(['out_sample', ...psites.map((s) => s.qTensor)]);
    for (const s of psites) {
      const k = await readSiteProjection(s, 'k', { model: packed });
      expect(maxAbsDiff(k.data, wk.get(s.name)!), s.name).toBe(0);
    }
  });
});
