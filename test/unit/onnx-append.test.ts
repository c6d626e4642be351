import { describe, expect, it } from 'vitest';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { generateUnet } from '../../tools/sdgen/index.ts';
import { DataType } from '../../src/lib/onnx/schema.ts';
import { appendGraphOutputs, findCrossAttentionSites, halfBytesToFloat32, indexModel, lookup, OnnxFormatError, readSiteProjection, type ModelIndex } from '../../src/lib/onnx/index.ts';
import { blobOf, matmulF64, maxAbs, maxAbsDiff, sourcesOf, unetInputs } from './onnx-helpers.ts';

ortWeb.env.wasm.numThreads = 1;
type Ort = typeof ortNode;
const engines: [string, Ort][] = [['onnxruntime-node', ortNode], ['onnxruntime-web (wasm)', ortWeb as unknown as Ort]];

function feeds(ort: Ort, d: number) {
  const { sample, context, dims } = unetInputs(d, 11);
  return {
    context,
    feeds: {
      sample: new ort.Tensor('float32', sample, dims.sample),
      timestep: new ort.Tensor('int64', BigInt64Array.from([321n]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', context, dims.context),
    },
  };
}

/** Output values as float32 (fp16 outputs arrive as uint16 bits). */
function asFloat32(t: ortNode.Tensor): Float32Array {
  if (t.type === 'float16') {
    const bits = t.data as Uint16Array;
    return halfBytesToFloat32(new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength));
  }
  return t.data as Float32Array;
}

/** The to_q MatMul's first input: the normed hidden state Q is computed from. */
const hiddenOf = (index: ModelIndex, qNode: string) => lookup(index.graph).byName.get(qNode)!.inputs[0];

describe('appendGraphOutputs', () => {
  it('plain fp32: every attn2 Q, K and hidden state come back; Q = hidden·Wq, K = context·Wk; out_sample unchanged', async () => {
    const gen = generateUnet({ style: 'plain', dtype: 'float32', seed: 2 });
    const index = await indexModel(gen.model);
    const sites = findCrossAttentionSites(index);
    const kTensors = sites.map((s) => lookup(index.graph).byName.get(s.k.node)!.outputs[0]);
    const names = [...sites.map((s) => s.qTensor), ...sites.map((s) => hiddenOf(index, s.q.node)), ...kTensors];
    const { bytes, index: extended } = appendGraphOutputs(index, names);
    expect(bytes.length).toBeLessThan(10_000);
    const appended = blobOf(gen.model, bytes);
    // The file as the app would build it parses to the index appendGraphOutputs predicted.
    expect(await indexModel(appended)).toEqual(extended);
    expect(extended.graph.outputs.map((o) => o.name)).toEqual(['out_sample', ...names]);
    expect(extended.graph.outputs.slice(1).every((o) => o.elemType === DataType.FLOAT)).toBe(true);
    const full = new Uint8Array(await appended.arrayBuffer());
    const sources = sourcesOf(gen);

    for (const [engine, ort] of engines) {
      const { context, feeds: f } = feeds(ort, 32);
      const before = await (await ort.InferenceSession.create(gen.model)).run(f);
      const session = await ort.InferenceSession.create(full);
      expect(session.outputNames, engine).toEqual(['out_sample', ...names]);
      const after = await session.run(f);
      const ref = before.out_sample.data as Float32Array;
      expect(maxAbsDiff(after.out_sample.data as Float32Array, ref), engine).toBeLessThanOrEqual(1e-5 * maxAbs(ref));
      for (const [i, s] of sites.entries()) {
        const q = after[s.qTensor];
        const hidden = after[hiddenOf(index, s.q.node)].data as Float32Array;
        const tokens = hidden.length / s.innerDim;
        expect(q.dims).toEqual([1, tokens, s.innerDim]);
        const wq = await readSiteProjection(s, 'q', sources);
        const expected = matmulF64(hidden, wq.data, tokens, wq.rows, wq.cols);
        expect(maxAbsDiff(q.data as Float32Array, expected), `${engine} Q ${s.name}`).toBeLessThanOrEqual(1e-5 * maxAbs(expected));
        const wk = await readSiteProjection(s, 'k', sources);
        const kExpected = matmulF64(context, wk.data, 77, wk.rows, wk.cols);
        expect(maxAbsDiff(after[kTensors[i]].data as Float32Array, kExpected), `${engine} K ${s.name}`).toBeLessThanOrEqual(1e-5 * maxAbs(kExpected));
      }
    }
  });

  it('fused fp16 with external data: Q outputs are float16 and match hidden·Wq (onnxruntime-web)', async () => {
    const gen = generateUnet({ style: 'fused', dtype: 'float16', seed: 4, externalData: true });
    const sources = sourcesOf(gen);
    const index = await indexModel(gen.model, { externalData: sources.externalData });
    const sites = findCrossAttentionSites(index);
    const hiddens = sites.map((s) => hiddenOf(index, s.q.node));
    const { bytes, index: extended } = appendGraphOutputs(index, [...sites.map((s) => s.qTensor), ...hiddens]);
    expect(extended.graph.outputs.slice(1).map((o) => o.elemType)).toEqual(new Array(32).fill(DataType.FLOAT16));
    const full = new Uint8Array(await blobOf(gen.model, bytes).arrayBuffer());
    const ort = ortWeb as unknown as Ort;
    const session = await ortWeb.InferenceSession.create(full, { externalData: [{ path: 'weights.pb', data: gen.externalData!.bytes }] });
    const out = await session.run(feeds(ort, 32).feeds);
    for (const [i, s] of sites.entries()) {
      const hidden = asFloat32(out[hiddens[i]] as unknown as ortNode.Tensor);
      const wq = await readSiteProjection(s, 'q', sources);
      const expected = matmulF64(hidden, wq.data, hidden.length / s.innerDim, wq.rows, wq.cols);
      // fp16 accumulation and rounding of Q: a few fp16 ulps of the largest value.
      expect(maxAbsDiff(asFloat32(out[s.qTensor] as unknown as ortNode.Tensor), expected), s.name).toBeLessThanOrEqual(4e-3 * maxAbs(expected));
    }
  });

  it('appends nothing for existing outputs and rejects tensors no node produces', async () => {
    const gen = generateUnet({ style: 'plain', seed: 2 });
    const index = await indexModel(gen.model);
    expect(appendGraphOutputs(index, ['out_sample']).bytes.length).toBe(0);
    expect(() => appendGraphOutputs(index, ['encoder_hidden_states_typo'])).toThrow(OnnxFormatError);
    expect(() => appendGraphOutputs(index, ['encoder_hidden_states_typo'])).toThrow(/no node produces a tensor named 'encoder_hidden_states_typo'/);
    // A tensor whose type cannot be inferred (a custom op fed only by another unknown op) needs elemType.
    const custom = { ...index, graph: { ...index.graph, inputs: [], nodes: [{ name: 'c', opType: 'Custom', domain: 'x', inputs: [], outputs: ['u'], attributes: [] }] } };
    expect(() => appendGraphOutputs(custom, ['u'])).toThrow(/cannot tell the element type of 'u'.*pass \{ name, elemType \}/);
    expect(appendGraphOutputs(custom, [{ name: 'u', elemType: DataType.FLOAT }]).index.graph.outputs.at(-1)).toEqual({ name: 'u', elemType: DataType.FLOAT, dims: null });
  });
});
