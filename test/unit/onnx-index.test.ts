import { describe, expect, it } from 'vitest';
import { GraphBuilder, attr, encodeModel } from '../../tools/sdgen/onnx-writer.ts';
import { generateUnet } from '../../tools/sdgen/index.ts';
import { DataType, MS_DOMAIN } from '../../src/lib/onnx/schema.ts';
import { indexModel, OnnxFormatError, readInitializer, type TensorInfo } from '../../src/lib/onnx/index.ts';
import { blobOf, sourcesOf } from './onnx-helpers.ts';

/** A small model exercising every field the index records. */
function craftedModel() {
  const g = new GraphBuilder('crafted');
  g.input('x', DataType.FLOAT, ['batch', 'seq', 4]);
  g.input('ids', DataType.INT64, [2, 3]);
  const w = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
  g.initializer('w', DataType.FLOAT, [4, 2], w);
  g.initializer('w16', DataType.FLOAT16, [2], new Uint16Array([0x3c00, 0xc000])); // 1, -2
  g.initializer('shape', DataType.INT64, [3], new BigInt64Array([0n, -1n, 2n]), 'typed');
  g.node('MatMul', ['x', 'w'], ['y'], { name: '/proj/MatMul' });
  g.node('Constant', [], ['c'], { name: '/c', attrs: { value: attr.tensor({ dataType: DataType.FLOAT, dims: [3], data: new Float32Array([0.5, 1.5, 2.5]) }) } });
  g.node('Softmax', ['y'], ['s'], { name: '/soft', attrs: { axis: attr.int(-1) } });
  g.node('Custom', ['s'], ['z'], {
    name: '/custom',
    domain: MS_DOMAIN,
    attrs: { alpha: attr.float(0.25), mode: attr.string('nearest'), perm: attr.ints([0, 2, -1]), scales: attr.floats([1, 2.5]) },
  });
  g.output('z', DataType.FLOAT, ['batch', 'seq', 2]);
  const { model } = encodeModel(g, { opsets: { '': 17, [MS_DOMAIN]: 1 }, metadata: { origin: 'test' } });
  return { model, w };
}

const bytesAt = (model: Uint8Array, t: TensorInfo) => {
  if (t.data.kind === 'none' || t.data.kind === 'external') throw new Error('not inline');
  return model.subarray(t.data.offset, t.data.offset + t.data.length);
};

describe('indexModel', () => {
  it('records model fields, graph I/O with dim_param, nodes and decoded attributes', async () => {
    const { model } = craftedModel();
    const idx = await indexModel(model);
    expect(idx.irVersion).toBe(8);
    expect(idx.producerName).toBe('erasure-lab sdgen');
    expect(idx.opsetImports).toEqual([{ domain: '', version: 17 }, { domain: MS_DOMAIN, version: 1 }]);
    expect(idx.metadata).toEqual({ origin: 'test' });
    expect(idx.byteLength).toBe(model.length);
    expect(idx.graph.name).toBe('crafted');
    expect(idx.graph.inputs).toEqual([
      { name: 'x', elemType: DataType.FLOAT, dims: ['batch', 'seq', 4] },
      { name: 'ids', elemType: DataType.INT64, dims: [2, 3] },
    ]);
    expect(idx.graph.outputs).toEqual([{ name: 'z', elemType: DataType.FLOAT, dims: ['batch', 'seq', 2] }]);
    expect(idx.graph.nodes.map((n) => [n.name, n.opType, n.domain, n.inputs, n.outputs])).toEqual([
      ['/proj/MatMul', 'MatMul', '', ['x', 'w'], ['y']],
      ['/c', 'Constant', '', [], ['c']],
      ['/soft', 'Softmax', '', ['y'], ['s']],
      ['/custom', 'Custom', MS_DOMAIN, ['s'], ['z']],
    ]);
    expect(idx.graph.nodes[2].attributes).toEqual([{ name: 'axis', type: 2, i: -1 }]);
    const custom = Object.fromEntries(idx.graph.nodes[3].attributes.map((a) => [a.name, a]));
    expect(custom.alpha).toEqual({ name: 'alpha', type: 1, f: 0.25 });
    expect(custom.mode).toEqual({ name: 'mode', type: 3, s: 'nearest' });
    expect(custom.perm).toEqual({ name: 'perm', type: 7, ints: [0, 2, -1] });
    expect(custom.scales).toEqual({ name: 'scales', type: 6, floats: [1, 2.5] });
  });

  it('locates tensor bytes without copying: ranges hold exactly the written elements', async () => {
    const { model, w } = craftedModel();
    const idx = await indexModel(model);
    const [wt, w16, shape] = idx.graph.initializers;
    expect(wt).toMatchObject({ name: 'w', dataType: DataType.FLOAT, dims: [4, 2], data: { kind: 'raw', length: 32 } });
    expect(bytesAt(model, wt)).toEqual(new Uint8Array(w.buffer));
    expect(w16).toMatchObject({ dims: [2], data: { kind: 'raw', length: 4 }, values: [1, -2] });
    expect(Array.from(bytesAt(model, w16))).toEqual([0x00, 0x3c, 0x00, 0xc0]);
    expect(shape).toMatchObject({ dataType: DataType.INT64, data: { kind: 'int64_data' }, values: [0, -1, 2] });
    const constant = idx.graph.nodes[1].attributes[0];
    expect(constant.type).toBe(4);
    expect(constant.t).toMatchObject({ dims: [3], data: { kind: 'raw', length: 12 }, values: [0.5, 1.5, 2.5] });
    expect(new Float32Array(bytesAt(model, constant.t!).slice().buffer)).toEqual(new Float32Array([0.5, 1.5, 2.5]));
  });

  it('gives the same index from bytes, an ArrayBuffer and a Blob read in tiny windows', async () => {
    const gen = generateUnet({ style: 'fused', dtype: 'float16', externalData: true, seed: 3 });
    const ext = { [gen.externalData!.location]: gen.externalData!.bytes };
    const fromBytes = await indexModel(gen.model, { externalData: ext });
    const ab = gen.model.slice().buffer;
    expect(await indexModel(ab, { externalData: ext })).toEqual(fromBytes);
    const fromBlob = await indexModel(blobOf(gen.model), { windowSize: 4096, externalData: { 'weights.pb': blobOf(gen.externalData!.bytes) } });
    expect(fromBlob).toEqual(fromBytes);
    expect(fromBytes.externalLocations).toEqual(['weights.pb']);
  });

  it('reads a Blob in windows, skipping tensor payloads unread', async () => {
    // Four 4 MiB weights between small nodes: the index must not read the payloads.
    const g = new GraphBuilder();
    g.input('x', DataType.FLOAT, [1, 1024]);
    let x = 'x';
    for (let i = 0; i < 4; i++) {
      g.initializer(`w${i}`, DataType.FLOAT, [1024, 1024], new Float32Array(1024 * 1024).fill(i));
      x = g.node('MatMul', [x, `w${i}`], [`y${i}`], { name: `/l${i}/MatMul` })[0];
    }
    g.output(x, DataType.FLOAT, [1, 1024]);
    const { model } = encodeModel(g, { opsets: { '': 17 } });
    let fetched = 0;
    class CountingBlob extends Blob {
      override slice(start?: number, end?: number, type?: string): Blob {
        fetched += (end ?? this.size) - (start ?? 0);
        return super.slice(start, end, type);
      }
    }
    const idx = await indexModel(new CountingBlob([model as Uint8Array<ArrayBuffer>]), { windowSize: 8192 });
    expect(idx.graph.initializers.map((t) => t.data)).toEqual(
      (await indexModel(model)).graph.initializers.map((t) => t.data),
    );
    expect(model.length).toBeGreaterThan(16 << 20);
    expect(fetched).toBeLessThan(64 * 1024); // a few windows, not 16 MiB
  });

  it('indexes external data: every initializer reads the same as in the inline export', async () => {
    const inline = generateUnet({ style: 'fused', dtype: 'float16', seed: 5 });
    const external = generateUnet({ style: 'fused', dtype: 'float16', seed: 5, externalData: true });
    const a = await indexModel(inline.model);
    const b = await indexModel(external.model, { externalData: { 'weights.pb': external.externalData!.bytes } });
    expect(b.graph.initializers.map((t) => t.name)).toEqual(a.graph.initializers.map((t) => t.name));
    const ext = b.graph.initializers.filter((t) => t.data.kind === 'external');
    expect(ext.length).toBeGreaterThan(100);
    for (const t of ext) {
      expect(t.data.kind === 'external' && t.data.offset + t.data.length).toBeLessThanOrEqual(external.externalData!.bytes.length);
      const va = await readInitializer(a, t.name, sourcesOf(inline));
      const vb = await readInitializer(b, t.name, sourcesOf(external));
      expect(vb).toEqual(va);
    }
  });

  it('names a missing or short external data file', async () => {
    const gen = generateUnet({ style: 'plain', dtype: 'float32', seed: 5, externalData: true });
    await expect(indexModel(gen.model, { externalData: {} })).rejects.toThrow(/external file 'weights.pb', which was not given/);
    const short = gen.externalData!.bytes.subarray(0, 1000);
    await expect(indexModel(gen.model, { externalData: { 'weights.pb': short } })).rejects.toThrow(/which has only 1000 bytes.*truncated/);
    // Without the file, indexing works and reading names what is missing.
    const idx = await indexModel(gen.model);
    const t = idx.graph.initializers.find((x) => x.data.kind === 'external')!;
    await expect(readInitializer(idx, t.name, { model: gen.model })).rejects.toThrow(OnnxFormatError);
  });
});
