/**
 * unpackPackedKv: the rewritten packed-KV UNet runs on onnxruntime-node and onnxruntime-web
 * (WASM) and computes what the generator's `fused` and `plain` exports of the same seed compute;
 * its K/V weights are the plain export's; the file is built from slices (only the packed weights
 * and the attention node records are read); nothing-packed models come back unchanged;
 * malformed packed attentions are named in the error.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { generateUnet as generate, type PipelineSpec } from '../../tools/sdgen/index.ts';
import { GraphBuilder, attr, encodeModel } from '../../tools/sdgen/onnx-writer.ts';
import { DataType, Graph, Model, MS_DOMAIN } from '../../src/lib/onnx/schema.ts';
import { encodeWith, lengthDelimited, tag } from '../../src/lib/onnx/encode.ts';
import {
  appendGraphOutputs, describeExecutionRequirements, findCrossAttentionSites, indexModel, readSiteProjection, unpackPackedKv,
  type ModelSources, type UnpackedModel,
} from '../../src/lib/onnx/index.ts';
import { matmulF64, maxAbs, maxAbsDiff, randomValues, sourcesOf, unetInputs } from './onnx-helpers.ts';

const SEED = 11;
const D = 32;
type Ort = typeof ortNode | typeof ortWeb;
type Generated = ReturnType<typeof generate>;

const generated = new Map<string, Generated>();
/** generateUnet, once per spec (tests only read the bytes they get). */
function generateUnet(spec: PipelineSpec): Generated {
  const key = JSON.stringify(spec);
  if (!generated.has(key)) generated.set(key, generate(spec));
  return generated.get(key)!;
}

beforeAll(() => {
  ortWeb.env.wasm.numThreads = 1;
});

const inputs = unetInputs(D, 3, 8);

async function runUnet(ort: Ort, model: Uint8Array, externalData?: Record<string, Uint8Array>): Promise<Float32Array> {
  const options = externalData ? { externalData: Object.entries(externalData).map(([path, data]) => ({ path, data })) } : {};
  const session = await (ort.InferenceSession as typeof ortNode.InferenceSession).create(model, options);
  const feeds = {
    sample: new ort.Tensor('float32', inputs.sample, inputs.dims.sample),
    timestep: new ort.Tensor('int64', BigInt64Array.from([700n]), [1]),
    encoder_hidden_states: new ort.Tensor('float32', inputs.context, inputs.dims.context),
  };
  const out = (await session.run(feeds as never)).out_sample;
  await session.release();
  return out.data as Float32Array;
}

async function bytesOf(m: UnpackedModel['model']): Promise<Uint8Array> {
  return m instanceof Blob ? new Uint8Array(await m.arrayBuffer()) : m instanceof Uint8Array ? m : new Uint8Array(m);
}

/** Unpacks a generated packed-KV model given as bytes; returns the new file's bytes too. */
async function unpack(gen: Generated): Promise<{ result: UnpackedModel; bytes: Uint8Array; sources: ModelSources }> {
  const sources = sourcesOf(gen);
  const result = await unpackPackedKv(await indexModel(gen.model, { externalData: sources.externalData }), sources);
  return { result, bytes: await bytesOf(result.model), sources };
}

const externalOf = (gen: Generated) => (gen.externalData ? { [gen.externalData.location]: gen.externalData.bytes } : undefined);

describe('unpackPackedKv on the tiny packed-KV UNet', () => {
  const reference = new Map<string, Float32Array>(); // `${style}/${dtype}` on onnxruntime-node

  beforeAll(async () => {
    for (const dtype of ['float32', 'float16'] as const) for (const style of ['fused', 'plain'] as const) {
      reference.set(`${style}/${dtype}`, await runUnet(ortNode, generateUnet({ style, dtype, seed: SEED }).model));
    }
  }, 120_000);

  const cases = (['float32', 'float16'] as const).flatMap((dtype) => [false, true].map((externalData) => ({ dtype, externalData })));
  it.each(cases)('$dtype externalData=$externalData: runs on node and WASM and equals the fused and plain exports', async ({ dtype, externalData }) => {
    const gen = generateUnet({ style: 'fused-packed-kv', dtype, seed: SEED, externalData });
    const { result, bytes, sources } = await unpack(gen);
    expect(result.unpacked).toBe(16);
    expect(result.externalData).toBe(sources.externalData); // the external file is kept as is
    const ext = externalOf(gen);
    const fused = reference.get(`fused/${dtype}`)!;
    const plain = reference.get(`plain/${dtype}`)!;
    const scale = maxAbs(fused);
    expect(scale).toBeGreaterThan(0.5);
    for (const ort of [ortNode, ortWeb]) {
      const out = await runUnet(ort, bytes, ext);
      if (dtype === 'float32') {
        expect(maxAbsDiff(out, fused)).toBeLessThan(1e-4 * scale);
        expect(maxAbsDiff(out, plain)).toBeLessThan(1e-4 * scale);
      } else {
        // Same fp16 ops as the fused export (MatMul to K and V, then MHA): equal up to a few fp16
        // ulps (0 on onnxruntime-node); the plain export's fp16 attention rounds differently
        // (7e-4 · scale on node; fp16 vs the fp32 export differs by 1.2e-3 · scale).
        expect(maxAbsDiff(out, fused)).toBeLessThan(1e-3 * scale);
        expect(maxAbsDiff(out, plain)).toBeLessThan(5e-3 * scale);
      }
    }
    // The rewritten file is what describeExecutionRequirements calls runnable everywhere.
    const after = describeExecutionRequirements(await indexModel(bytes, { externalData: ext }));
    expect(after).toMatchObject({ runnable: true, reason: null, contribOps: ['MultiHeadAttention'] });
  });

  it.each(['float32', 'float16'] as const)('%s: 16 fused sites whose K and V weights equal the plain export, named after to_k/to_v', async (dtype) => {
    const plain = generateUnet({ style: 'plain', dtype, seed: SEED });
    const packed = generateUnet({ style: 'fused-packed-kv', dtype, seed: SEED });
    const { result, bytes } = await unpack(packed);
    const index = await indexModel(bytes);
    const sites = findCrossAttentionSites(index);
    const reference = findCrossAttentionSites(await indexModel(plain.model));
    expect(sites.map((s) => s.name)).toEqual(reference.map((s) => s.name));
    expect(sites).toHaveLength(16);
    for (let i = 0; i < 16; i++) {
      const s = sites[i];
      expect(s.style).toBe('fused');
      expect(s.k.packed).toBeUndefined();
      expect(s.k.tensor).toMatchObject({ name: `${s.name}.attn2.to_k.weight`, dataType: dtype === 'float32' ? DataType.FLOAT : DataType.FLOAT16, dims: [D, s.innerDim] });
      expect(s.v.tensor.name).toBe(`${s.name}.attn2.to_v.weight`);
      expect(result.sites[i].k.weight).toBe(s.k.tensor.name);
      for (const which of ['k', 'v'] as const) {
        const got = await readSiteProjection(s, which, { model: bytes });
        const want = await readSiteProjection(reference[i], which, sourcesOf(plain));
        expect(got.data).toEqual(want.data);
      }
    }
    // The packed machinery is gone: no MatMul_KV node, weight, reshape shape or 5-D key left.
    const names = [...index.graph.nodes.map((n) => n.name), ...index.graph.initializers.map((t) => t.name)];
    expect(names.filter((n) => n.includes('MatMul_KV'))).toEqual([]);
    expect(index.graph.nodes.filter((n) => n.opType === 'MultiHeadAttention' && !n.inputs[2])).toEqual([]);
    const attn2 = index.graph.nodes.find((n) => n.name === 'MultiHeadAttention_16')!;
    const scope = '/down_blocks.0/attentions.0/transformer_blocks.0/attn2';
    expect(attn2.inputs).toEqual([`${scope}/to_q/MatMul_output_0`, `${scope}/to_k/MatMul_output_0`, `${scope}/to_v/MatMul_output_0`]);
    expect(attn2.attributes).toEqual([{ name: 'num_heads', type: 2, i: 8 }]);
    expect([attn2.domain, attn2.outputs]).toEqual([MS_DOMAIN, [`${scope}/Reshape_3_output_0`]]);
  });
});

/** A Blob whose slices count the bytes actually read from them (arrayBuffer/bytes/text/stream). */
function countingBlob(bytes: Uint8Array, counter: { read: number }): Blob {
  class Counting extends Blob {
    override slice(start?: number, end?: number, type?: string): Blob {
      const part = super.slice(start, end, type);
      const count = <T>(f: () => T): T => {
        counter.read += part.size;
        return f();
      };
      const proto = Blob.prototype;
      return Object.assign(part, {
        arrayBuffer: () => count(() => proto.arrayBuffer.call(part)),
        text: () => count(() => proto.text.call(part)),
        stream: () => count(() => proto.stream.call(part)),
      });
    }
  }
  return new Counting([bytes as Uint8Array<ArrayBuffer>]);
}

describe('unpackPackedKv builds the new file from slices', () => {
  it.each([false, true])('externalData=%s: reads only the packed weights and attention records; size is original − packed + K/V', async (externalData) => {
    const gen = generateUnet({ style: 'fused-packed-kv', dtype: 'float32', seed: SEED, externalData });
    const ext = externalOf(gen);
    const index = await indexModel(gen.model, { externalData: ext });
    const packedWeights = index.graph.initializers.filter((t) => /^MatMul_KV_\d+_weight$/.test(t.name));
    expect(packedWeights).toHaveLength(16);
    const packedBytes = packedWeights.reduce((s, t) => s + (t.data.kind === 'none' ? 0 : t.data.length), 0);
    const model = { read: 0 };
    const data = { read: 0 };
    const sources: ModelSources = {
      model: countingBlob(gen.model, model),
      externalData: ext && { 'weights.pb': countingBlob(ext['weights.pb'], data) },
    };
    const result = await unpackPackedKv(index, sources);
    const recordBytes = 16 * 400; // the 16 MultiHeadAttention node records (~150 bytes each here)
    if (externalData) {
      expect(data.read).toBe(packedBytes); // exactly the packed weights, nothing else of weights.pb
      expect(model.read).toBeLessThan(recordBytes);
    } else {
      expect(model.read).toBeGreaterThanOrEqual(packedBytes);
      expect(model.read).toBeLessThan(packedBytes + recordBytes);
    }
    // …of files much larger than that: the rest of them is only sliced, never read.
    expect((externalData ? ext!['weights.pb'] : gen.model).length).toBeGreaterThan(20 * (packedBytes + recordBytes));
    // Size: K and V hold the packed bytes again (inline now, when they were external); the
    // packed MatMul + Reshape + shape initializer give way to two MatMuls per site with long
    // scope names: a few hundred bytes per site, far less than the weights (180 KB here).
    const size = (result.model as Blob).size;
    const expected = gen.model.length + (externalData ? packedBytes : 0);
    expect(Math.abs(size - expected)).toBeLessThan(16 * 600);
    expect(16 * 600).toBeLessThan(packedBytes / 10);
    // The Blob of slices holds the same bytes as the rewrite from bytes in memory.
    const fromBytes = await unpackPackedKv(index, sourcesOf(gen));
    const [a, b] = [await bytesOf(result.model), await bytesOf(fromBytes.model)];
    expect(a.length).toBe(b.length);
    expect(Buffer.compare(a, b)).toBe(0); // (toEqual walks 10 MB element by element: too slow)
  });
});

describe('unpackPackedKv leaves other models alone', () => {
  it.each(['fused', 'plain'] as const)('%s: nothing packed, the same file comes back', async (style) => {
    const gen = generateUnet({ style, dtype: 'float16', seed: SEED, externalData: true });
    const sources = sourcesOf(gen);
    const result = await unpackPackedKv(await indexModel(gen.model), sources);
    expect(result.unpacked).toBe(0);
    expect(result.sites).toEqual([]);
    expect(result.model).toBe(sources.model);
    expect(result.externalData).toBe(sources.externalData);
  });

  it('is idempotent: unpacking the unpacked file changes nothing', async () => {
    const { bytes } = await unpack(generateUnet({ style: 'fused-packed-kv', dtype: 'float16', seed: SEED }));
    const again = await unpackPackedKv(await indexModel(bytes), { model: bytes });
    expect(again.unpacked).toBe(0);
    expect(again.model).toBe(bytes);
  });

  it('keeps a packed MatMul something else reads (an appended graph output) and still unpacks the attention', async () => {
    const gen = generateUnet({ style: 'fused-packed-kv', dtype: 'float32', seed: SEED });
    const { bytes: tail, index } = appendGraphOutputs(await indexModel(gen.model), ['MatMul_KV_3_out']);
    const appended = new Uint8Array(gen.model.length + tail.length);
    appended.set(gen.model);
    appended.set(tail, gen.model.length);
    expect(index).toEqual(await indexModel(appended)); // two graph records, both located
    const result = await unpackPackedKv(index, { model: appended });
    expect(result.unpacked).toBe(16);
    const bytes = await bytesOf(result.model);
    const after = await indexModel(bytes);
    expect(after.graph.nodes.filter((n) => n.name.startsWith('MatMul_KV_')).map((n) => n.name)).toEqual(['MatMul_KV_3']);
    expect(after.graph.initializers.filter((t) => t.name.startsWith('MatMul_KV_')).map((t) => t.name)).toEqual(['MatMul_KV_3_weight']);
    expect(describeExecutionRequirements(after).runnable).toBe(true);
    const session = await ortNode.InferenceSession.create(bytes);
    const out = await session.run({
      sample: new ortNode.Tensor('float32', inputs.sample, inputs.dims.sample),
      timestep: new ortNode.Tensor('int64', BigInt64Array.from([700n]), [1]),
      encoder_hidden_states: new ortNode.Tensor('float32', inputs.context, inputs.dims.context),
    });
    await session.release();
    const fused = await runUnet(ortNode, generateUnet({ style: 'fused', dtype: 'float32', seed: SEED }).model);
    expect(maxAbsDiff(out.out_sample.data as Float32Array, fused)).toBeLessThan(1e-4 * maxAbs(fused));
    expect(out.MatMul_KV_3_out.dims).toEqual([1, 77, 2 * 32]); // down_blocks.1: 32 channels in the tiny UNet
  });
});

/**
 * One cross attention in ORT's packed-KV form, with the K/V path replaced by `kvPath` to make
 * malformed variants: q [1, 4, 16] · context [1, 77, 8] → MHA 'bad_mha' (2 heads of 8).
 */
function packedAttention(kvPath: (g: GraphBuilder) => string): Uint8Array {
  const g = new GraphBuilder();
  g.input('query', DataType.FLOAT, [1, 4, 16]);
  g.input('encoder_hidden_states', DataType.FLOAT, [1, 77, 8]);
  const kv = kvPath(g);
  g.node('MultiHeadAttention', ['query', kv], ['out'], { name: 'bad_mha', domain: MS_DOMAIN, attrs: { num_heads: attr.int(2) } });
  g.output('out', DataType.FLOAT, [1, 4, 16]);
  return encodeModel(g, { opsets: { '': 17, [MS_DOMAIN]: 1 } }).model;
}

const kvWeight = (g: GraphBuilder) => g.initializer('w_kv', DataType.FLOAT, [8, 32], randomValues(256, 5));
const shape = (g: GraphBuilder, dims: number[]) => g.initializer('kv_shape', DataType.INT64, [dims.length], BigInt64Array.from(dims.map(BigInt)), 'typed');

describe('unpackPackedKv on malformed packed attention', () => {
  it('control: the well-formed variant unpacks, drops value_info of removed tensors, and computes attention over K and V', async () => {
    const w = randomValues(8 * 32, 5, 0.5);
    const packed = packedAttention((g) => {
      g.node('MatMul', ['encoder_hidden_states', g.initializer('w_kv', DataType.FLOAT, [8, 32], w)], ['kv_flat'], { name: 'kv_matmul' });
      return g.node('Reshape', ['kv_flat', shape(g, [0, 0, 2, 2, 8])], ['kv'], { name: 'kv_reshape' })[0];
    });
    // A trailing graph record with value_info for the packed MatMul's output (as optimisers write).
    const valueInfo = lengthDelimited(Graph.valueInfo, encodeWith((x) => x.uint32(tag(1, 2)).string('kv_flat')));
    const tail = lengthDelimited(Model.graph, valueInfo);
    const model = new Uint8Array([...packed, ...tail]);
    const index = await indexModel(model);
    expect(index.graph.valueInfo.map((v) => v.name)).toEqual(['kv_flat']);
    const result = await unpackPackedKv(index, { model });
    expect(result.sites).toEqual([{ attention: 'bad_mha', packedWeight: 'w_kv', k: { node: 'kv_matmul_k', output: 'kv_flat_k', weight: 'w_kv_k' }, v: { node: 'kv_matmul_v', output: 'kv_flat_v', weight: 'w_kv_v' } }]);
    const bytes = await bytesOf(result.model);
    const after = await indexModel(bytes);
    expect(after.graph.initializers.map((t) => [t.name, t.dims])).toEqual([['w_kv_k', [8, 16]], ['w_kv_v', [8, 16]]]);
    expect(after.graph.valueInfo).toEqual([]);
    expect(after.graph.nodes.map((n) => n.name)).toEqual(['kv_matmul_k', 'kv_matmul_v', 'bad_mha']);
    // Run it and compare with attention computed in float64 straight from the PACKED weight:
    // head h's K columns are [16h, 16h + 8), its V columns [16h + 8, 16h + 16).
    const q = randomValues(4 * 16, 6);
    const ctx = randomValues(77 * 8, 7);
    const session = await ortNode.InferenceSession.create(bytes);
    const out = (await session.run({ query: new ortNode.Tensor('float32', q, [1, 4, 16]), encoder_hidden_states: new ortNode.Tensor('float32', ctx, [1, 77, 8]) })).out;
    await session.release();
    const kv = matmulF64(ctx, w, 77, 8, 32); // [77, 32]
    const want = new Float64Array(4 * 16);
    for (let h = 0; h < 2; h++) for (let s = 0; s < 4; s++) {
      const logits = Array.from({ length: 77 }, (_, t) => {
        let dot = 0;
        for (let j = 0; j < 8; j++) dot += q[s * 16 + h * 8 + j] * kv[t * 32 + 16 * h + j];
        return dot / Math.sqrt(8);
      });
      const top = Math.max(...logits);
      const e = logits.map((x) => Math.exp(x - top));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < 8; j++) want[s * 16 + h * 8 + j] = e.reduce((acc, p, t) => acc + (p / z) * kv[t * 32 + 16 * h + 8 + j], 0);
    }
    expect(maxAbsDiff(out.data as Float32Array, want)).toBeLessThan(1e-5 * Math.max(1, maxAbs(want)));
  });

  const variants: [string, (g: GraphBuilder) => string, RegExp][] = [
    ['K/V from a Transpose', (g) => {
      g.node('MatMul', ['encoder_hidden_states', kvWeight(g)], ['kv_flat'], { name: 'kv_matmul' });
      return g.node('Transpose', ['kv_flat'], ['kv'], { name: 'kv_transpose' })[0];
    }, /MultiHeadAttention 'bad_mha' takes packed K\/V 'kv' from Transpose 'kv_transpose', not from a Reshape of a MatMul/],
    ['K/V a graph input', (g) => {
      g.input('kv_in', DataType.FLOAT, [1, 77, 2, 2, 8]);
      return 'kv_in';
    }, /MultiHeadAttention 'bad_mha' takes packed K\/V 'kv_in' from no node \(a graph input or an initializer\)/],
    ['Reshape of an Add', (g) => {
      g.node('Add', ['encoder_hidden_states', 'encoder_hidden_states'], ['twice'], { name: 'kv_add' });
      return g.node('Reshape', ['twice', shape(g, [0, 0, 2, 2, 2])], ['kv'], { name: 'kv_reshape' })[0];
    }, /MultiHeadAttention 'bad_mha' takes packed K\/V through Reshape 'kv_reshape' of Add 'kv_add', not of a MatMul/],
    ['a computed weight', (g) => {
      g.node('Transpose', [kvWeight(g)], ['w_t'], { name: 'w_transpose', attrs: { perm: attr.ints([0, 1]) } });
      g.node('MatMul', ['encoder_hidden_states', 'w_t'], ['kv_flat'], { name: 'kv_matmul' });
      return g.node('Reshape', ['kv_flat', shape(g, [0, 0, 2, 2, 8])], ['kv'], { name: 'kv_reshape' })[0];
    }, /MultiHeadAttention 'bad_mha': packed KV MatMul 'kv_matmul' has no stored 2-D weight \(input 'w_t'\)/],
    ['a Reshape to other heads', (g) => {
      g.node('MatMul', ['encoder_hidden_states', kvWeight(g)], ['kv_flat'], { name: 'kv_matmul' });
      return g.node('Reshape', ['kv_flat', shape(g, [0, 0, 4, 2, 4])], ['kv'], { name: 'kv_reshape' })[0];
    }, /MultiHeadAttention 'bad_mha': Reshape 'kv_reshape' makes \[0,0,4,2,4\], not \[B, L, 2, 2, 8\] packed K\/V/],
  ];
  it.each(variants)('%s → OnnxFormatError naming the node', async (_, kvPath, message) => {
    const model = packedAttention(kvPath);
    const index = await indexModel(model);
    await expect(unpackPackedKv(index, { model })).rejects.toThrow(message);
    await expect(unpackPackedKv(index, { model })).rejects.toHaveProperty('name', 'OnnxFormatError');
    expect(describeExecutionRequirements(index)).toMatchObject({ runnable: false, unpackable: false });
    expect(describeExecutionRequirements(index).reason).toMatch(message);
  });

  it('packed QKV (self-attention) is reported as not unpackable, with what to do', async () => {
    const g = new GraphBuilder();
    g.input('qkv', DataType.FLOAT, [1, 4, 2, 3, 8]);
    g.node('MultiHeadAttention', ['qkv'], ['out'], { name: 'self_mha', domain: MS_DOMAIN, attrs: { num_heads: attr.int(2) } });
    g.output('out', DataType.FLOAT, [1, 4, 16]);
    const model = encodeModel(g, { opsets: { '': 17, [MS_DOMAIN]: 1 } }).model;
    const index = await indexModel(model);
    expect(describeExecutionRequirements(index)).toMatchObject({ runnable: false, unpackable: false });
    expect(describeExecutionRequirements(index).reason).toMatch(/1 attention nodes use MultiHeadAttention with packed QKV \(e\.g\. 'self_mha'\).*--disable_packed_qkv/);
    expect((await unpackPackedKv(index, { model })).unpacked).toBe(0);
  });
});
