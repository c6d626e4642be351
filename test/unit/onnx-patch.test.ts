import { describe, expect, it } from 'vitest';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { generateUnet } from '../../tools/sdgen/index.ts';
import {
  findCrossAttentionSites, indexModel, patchSiteProjection, patchTensor, readSiteProjection, readTensorFloat32,
  type CrossAttentionSite, type ModelSources,
} from '../../src/lib/onnx/index.ts';
import { blobOf, matmulF64, maxAbs, maxAbsDiff, randomValues, sourcesOf, unetInputs } from './onnx-helpers.ts';

ortWeb.env.wasm.numThreads = 1;
const D = 32; // tiny UNet context width

/** A = I + 0.3·R: a well-conditioned D×D map applied to the text context. */
const A = Float64Array.from(randomValues(D * D, 99, 0.3), (r, i) => r + (i % (D + 1) === 0 ? 1 : 0));

/** Patches every attn2 to_k/to_v W [D, C] with A·W, computed in float64. */
async function patchAll(sites: CrossAttentionSite[], sources: ModelSources): Promise<ModelSources> {
  for (const s of sites) for (const which of ['k', 'v'] as const) {
    const w = await readSiteProjection(s, which, sources);
    sources = await patchSiteProjection(s, which, Float32Array.from(matmulF64(A, w.data, D, D, w.cols)), sources);
  }
  return sources;
}

async function runUnet(ort: typeof ortNode, model: Uint8Array, context: Float32Array, external?: Uint8Array): Promise<Float32Array> {
  const { sample, dims } = unetInputs(D, 5);
  const session = await (ort.InferenceSession.create as (m: Uint8Array, o?: object) => Promise<ortNode.InferenceSession>)(
    model,
    external ? { externalData: [{ path: 'weights.pb', data: external }] } : {},
  );
  const out = await session.run({
    sample: new ort.Tensor('float32', sample, dims.sample),
    timestep: new ort.Tensor('int64', BigInt64Array.from([700n]), [1]),
    encoder_hidden_states: new ort.Tensor('float32', context, dims.context),
  });
  return out.out_sample.data as Float32Array;
}

describe('patching cross-attention weights in place', () => {
  const context = unetInputs(D, 5).context;
  const mappedContext = Float32Array.from(matmulF64(context, A, 77, D, D)); // c·A

  it('plain fp32: W ← A·W in all 32 projections equals feeding the context c·A (onnxruntime-node)', async () => {
    const gen = generateUnet({ style: 'plain', dtype: 'float32', seed: 1 });
    const sources = sourcesOf(gen, true);
    const index = await indexModel(sources.model as Uint8Array);
    const patched = await patchAll(findCrossAttentionSites(index), sources);
    expect(patched.model).toBe(sources.model); // bytes patched in place, no copy
    const bytes = patched.model as Uint8Array;
    expect(await indexModel(bytes)).toEqual(index); // layout untouched
    const expected = await runUnet(ortNode, gen.model, mappedContext);
    const got = await runUnet(ortNode, bytes, context);
    const unpatched = await runUnet(ortNode, gen.model, context);
    expect(maxAbsDiff(got, unpatched)).toBeGreaterThan(1e-2 * maxAbs(expected)); // the edit does something
    expect(maxAbsDiff(got, expected)).toBeLessThanOrEqual(1e-4 * maxAbs(expected));
  });

  it('fused fp32 with external data: the same equivalence with weights.pb patched (onnxruntime-web)', async () => {
    const gen = generateUnet({ style: 'fused', dtype: 'float32', seed: 1, externalData: true });
    const sources = sourcesOf(gen, true);
    const index = await indexModel(gen.model, { externalData: sources.externalData });
    const patched = await patchAll(findCrossAttentionSites(index), sources);
    expect(patched.model).toEqual(gen.model); // only the external file changed
    const ort = ortWeb as unknown as typeof ortNode;
    const expected = await runUnet(ort, gen.model, mappedContext, gen.externalData!.bytes);
    const got = await runUnet(ort, gen.model, context, patched.externalData!['weights.pb'] as Uint8Array);
    expect(maxAbsDiff(got, expected)).toBeLessThanOrEqual(1e-4 * maxAbs(expected));
  });

  it('plain fp16: patched weights are rounded to fp16 and still match c·A to fp16 accuracy', async () => {
    const gen = generateUnet({ style: 'plain', dtype: 'float16', seed: 1 });
    const sources = sourcesOf(gen, true);
    const patched = await patchAll(findCrossAttentionSites(await indexModel(gen.model)), sources);
    const expected = await runUnet(ortNode, gen.model, mappedContext);
    const got = await runUnet(ortNode, patched.model as Uint8Array, context);
    const unpatched = await runUnet(ortNode, gen.model, context);
    const err = maxAbsDiff(got, expected);
    expect(err).toBeLessThanOrEqual(2e-2 * maxAbs(expected));
    expect(err).toBeLessThan(0.1 * maxAbsDiff(unpatched, expected));
  });

  it('seed 1 with one to_k taken from seed 2: only that tensor\'s bytes change, and it reads back as seed 2\'s', async () => {
    const one = generateUnet({ style: 'plain', dtype: 'float16', seed: 1 });
    const two = generateUnet({ style: 'plain', dtype: 'float16', seed: 2 });
    const [s1] = findCrossAttentionSites(await indexModel(one.model));
    const [s2] = findCrossAttentionSites(await indexModel(two.model));
    const k2 = await readSiteProjection(s2, 'k', sourcesOf(two));
    const sources = await patchSiteProjection(s1, 'k', k2.data, sourcesOf(one, true));
    const bytes = sources.model as Uint8Array;
    const r = s1.k.tensor.data as { offset: number; length: number };
    const changed = bytes.findIndex((b, i) => b !== one.model[i]);
    let last = -1;
    for (let i = bytes.length - 1; i >= 0; i--) if (bytes[i] !== one.model[i]) { last = i; break; }
    expect(changed).toBeGreaterThanOrEqual(r.offset);
    expect(last).toBeLessThan(r.offset + r.length);
    // Same bytes as seed 2 stores for that weight (fp16 → fp32 → fp16 is exact).
    const r2 = s2.k.tensor.data as { offset: number; length: number };
    expect(bytes.subarray(r.offset, r.offset + r.length)).toEqual(two.model.subarray(r2.offset, r2.offset + r2.length));
    expect((await readSiteProjection(s1, 'k', sources)).data).toEqual(k2.data);
    expect((await readSiteProjection(s1, 'v', sources)).data).toEqual((await readSiteProjection(s1, 'v', sourcesOf(one))).data);
  });

  it('packed KV: patching K leaves V\'s interleaved columns untouched, and vice versa', async () => {
    const gen = generateUnet({ style: 'fused-packed-kv', dtype: 'float32', seed: 3 });
    const site = findCrossAttentionSites(await indexModel(gen.model))[6];
    let sources = sourcesOf(gen, true);
    const v0 = (await readSiteProjection(site, 'v', sources)).data;
    const newK = randomValues(site.k.rows * site.k.cols, 5);
    sources = await patchSiteProjection(site, 'k', newK, sources);
    expect((await readSiteProjection(site, 'k', sources)).data).toEqual(newK);
    expect((await readSiteProjection(site, 'v', sources)).data).toEqual(v0);
    // Column layout of the stored weight: head h holds K_h then V_h.
    const packed = await readTensorFloat32(site.k.tensor, sources);
    const { headSize: d } = site;
    const row = 3, h = 5, j = 2;
    expect(packed[row * 2 * site.innerDim + h * 2 * d + j]).toBe(newK[row * site.innerDim + h * d + j]);
    expect(packed[row * 2 * site.innerDim + h * 2 * d + d + j]).toBe(v0[row * site.innerDim + h * d + j]);
  });

  it('a Blob source gets a spliced Blob (no copy of the rest) that reads back the new values', async () => {
    const gen = generateUnet({ style: 'plain', dtype: 'float16', seed: 1 });
    const blob = blobOf(gen.model);
    const index = await indexModel(blob);
    const [site] = findCrossAttentionSites(index);
    const values = randomValues(site.q.rows * site.q.cols, 8);
    const sources = await patchSiteProjection(site, 'q', values, { model: blob });
    expect(sources.model).toBeInstanceOf(Blob);
    expect((sources.model as Blob).size).toBe(blob.size);
    expect(await indexModel(sources.model)).toEqual(index);
    const back = (await readSiteProjection(site, 'q', sources)).data;
    expect(maxAbsDiff(back, values)).toBeLessThanOrEqual(2 ** -11); // fp16 rounding of values in [-1, 1)
    expect(() => patchTensor(site.q.tensor, values.subarray(1), sources)).toThrow(/has 1024 elements; got 1023 values/);
  });
});
