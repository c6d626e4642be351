import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs/minimal.js';
import { GraphBuilder, attr, encodeModel } from '../../tools/sdgen/onnx-writer.ts';
import { DataType } from '../../src/lib/onnx/schema.ts';
import { halfToFloat as fromHalfBits, float32ToHalfBits as toHalfArray, floatToHalf as toHalfBits } from '../../src/lib/onnx/fp16.ts';

/** y = LeakyRelu(Transpose(x·W + c)) with W, c as given; x [batch, 3]. */
function smallGraph(): GraphBuilder {
  const g = new GraphBuilder();
  g.input('x', DataType.FLOAT, ['batch', 3]);
  g.initializer('w', DataType.FLOAT, [3, 2], new Float32Array([1, 2, 3, 4, 5, 6]));
  g.node('MatMul', ['x', 'w'], ['xw'], { name: '/proj/MatMul' });
  g.node('Constant', [], ['c'], { name: '/c', attrs: { value: attr.tensor({ dataType: DataType.FLOAT, dims: [2], data: new Float32Array([10, -20]) }) } });
  g.node('Add', ['xw', 'c'], ['z']);
  g.node('Transpose', ['z'], ['zt'], { attrs: { perm: attr.ints([1, 0]) } });
  g.node('LeakyRelu', ['zt'], ['y'], { attrs: { alpha: attr.float(0.5) } });
  g.output('y', DataType.FLOAT, [2, 'batch']);
  return g;
}

/** Independent reference of smallGraph in float64. */
function reference(x: number[][]): number[][] {
  const w = [[1, 2], [3, 4], [5, 6]];
  const c = [10, -20];
  const z = x.map((row) => [0, 1].map((j) => row.reduce((s, v, k) => s + v * w[k][j], 0) + c[j]));
  return [0, 1].map((j) => z.map((row) => (row[j] >= 0 ? row[j] : 0.5 * row[j])));
}

/** Top-level fields of a protobuf message: field number → list of raw values. */
function fields(buf: Uint8Array): Map<number, (number | Uint8Array)[]> {
  const r = protobuf.Reader.create(buf);
  const out = new Map<number, (number | Uint8Array)[]>();
  while (r.pos < r.len) {
    const tag = r.uint32();
    const f = tag >>> 3;
    const v = (tag & 7) === 2 ? r.bytes() : (tag & 7) === 0 ? Number(r.int64()) : (tag & 7) === 5 ? r.float() : (r.skipType(tag & 7), NaN);
    out.set(f, [...(out.get(f) ?? []), v]);
  }
  return out;
}

describe('sdgen onnx-writer', () => {
  const x = [[1, 0, -1], [1, 1, 1], [-2, 0.5, -3]];
  const feeds = { x: new ort.Tensor('float32', Float32Array.from(x.flat()), [3, 3]) };

  it('encodes a graph that onnxruntime runs and that computes the reference', async () => {
    const { model, externalData } = encodeModel(smallGraph(), { opsets: { '': 17 } });
    expect(externalData).toBeUndefined();
    const session = await ort.InferenceSession.create(model);
    const y = (await session.run(feeds)).y;
    expect(y.dims).toEqual([2, 3]);
    expect(Array.from(y.data as Float32Array)).toEqual(reference(x).flat());
  });

  it('moves tensors at or over the threshold to external data with location/offset/length', async () => {
    const g = smallGraph();
    g.initializer('unused_big', DataType.FLOAT, [4], new Float32Array([7, 8, 9, 10]));
    const { model, externalData } = encodeModel(g, { opsets: { '': 17 }, externalData: { location: 'weights.pb', sizeThreshold: 16 } });
    // w (24 bytes) then unused_big (16 bytes), back to back.
    expect(externalData!.byteLength).toBe(40);
    expect(Array.from(new Float32Array(externalData!.slice(24).buffer))).toEqual([7, 8, 9, 10]);
    const graph = fields(model).get(7)![0] as Uint8Array;
    const inits = (fields(graph).get(5) ?? []).map((b) => fields(b as Uint8Array));
    const w = inits.find((t) => new TextDecoder().decode(t.get(8)![0] as Uint8Array) === 'w')!;
    expect(w.get(14)).toEqual([1]); // data_location EXTERNAL
    expect(w.get(9)).toBeUndefined(); // no raw_data
    const entries = (w.get(13) as Uint8Array[]).map((e) => fields(e)).map((e) => [e.get(1)![0], e.get(2)![0]].map((b) => new TextDecoder().decode(b as Uint8Array)));
    expect(entries).toEqual([['location', 'weights.pb'], ['offset', '0'], ['length', '24']]);
    const session = await ort.InferenceSession.create(model, { externalData: [{ path: 'weights.pb', data: externalData! }] });
    expect(Array.from((await session.run(feeds)).y.data as Float32Array)).toEqual(reference(x).flat());
  });

  it('writes fields in field-number order and repeated scalars unpacked, as onnx does', () => {
    const { model } = encodeModel(smallGraph(), { opsets: { '': 17, 'com.microsoft': 1 }, irVersion: 8 });
    const top = fields(model);
    expect([...top.keys()]).toEqual([1, 2, 3, 7, 8]);
    expect(top.get(1)).toEqual([8]);
    const opsets = (top.get(8) as Uint8Array[]).map((b) => fields(b));
    expect(opsets.map((o) => o.get(2)![0])).toEqual([17, 1]);
    const graph = fields(top.get(7)![0] as Uint8Array);
    const transpose = (graph.get(1) as Uint8Array[]).map((n) => fields(n)).find((n) => new TextDecoder().decode(n.get(4)![0] as Uint8Array) === 'Transpose')!;
    const perm = fields(transpose.get(5)![0] as Uint8Array);
    expect(perm.get(8)).toEqual([1, 0]); // two separate `ints` entries
    expect(perm.get(20)).toEqual([7]); // AttributeType.INTS
    const input = fields((graph.get(11) as Uint8Array[])[0]);
    const shape = fields(fields(fields(input.get(2)![0] as Uint8Array).get(1)![0] as Uint8Array).get(2)![0] as Uint8Array);
    const dims = (shape.get(1) as Uint8Array[]).map((d) => fields(d));
    expect(new TextDecoder().decode(dims[0].get(2)![0] as Uint8Array)).toBe('batch');
    expect(dims[1].get(1)).toEqual([3]);
  });

  it("stores 'typed' initializers in int64_data/float_data that onnxruntime reads", async () => {
    const g = new GraphBuilder();
    g.input('x', DataType.FLOAT, ['batch', 6]);
    g.initializer('shape', DataType.INT64, [3], BigInt64Array.from([0n, -1n, 2n]), 'typed');
    g.initializer('b', DataType.FLOAT, [2], new Float32Array([0.5, -1]), 'typed');
    g.node('Reshape', ['x', 'shape'], ['r']);
    g.node('Add', ['r', 'b'], ['y']);
    g.output('y', DataType.FLOAT, ['batch', 3, 2]);
    const session = await ort.InferenceSession.create(encodeModel(g, { opsets: { '': 17 } }).model);
    const y = (await session.run({ x: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4, 5, 6]), [1, 6]) })).y;
    expect(y.dims).toEqual([1, 3, 2]);
    expect(Array.from(y.data as Float32Array)).toEqual([1.5, 1, 3.5, 3, 5.5, 5]);
  });

  it('rejects data that does not match dims, and duplicate value names', () => {
    const g = new GraphBuilder();
    expect(() => g.initializer('w', DataType.FLOAT, [2, 3], new Float32Array(5))).toThrow(/dims \[2, 3\] need 6 elements/);
    g.input('x', DataType.FLOAT, [1]);
    expect(() => g.node('Relu', ['x'], ['x'])).toThrow(/"x".*already defined/);
    expect(() => g.node('Foo', [], ['y'], { attrs: { n: attr.int(1.5) } })).not.toThrow();
    expect(() => encodeModel(g, { opsets: { '': 17 } })).toThrow(/1.5 is not an integer/);
  });

  it('converts to IEEE half with round-to-nearest-even', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(65520)).toBe(0x7c00); // rounds up to Infinity
    expect(toHalfBits(2 ** -24)).toBe(1); // smallest subnormal
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    for (const v of [0.1, -3.14159, 1e-5, 1234.5]) expect(Math.abs(fromHalfBits(toHalfBits(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    const values = Float32Array.from([0, -0, 1, -2, 65504, 65520, 2 ** -24, 1 + 2 ** -11, Infinity, NaN, 3e-8, -7.25e-6]);
    const bits = toHalfArray(values.subarray(1)); // a view with an offset
    expect(Array.from(bits)).toEqual(Array.from(values.subarray(1), (v) => toHalfBits(v)));
    expect(bits[8]).toBe(0x7e00); // NaN stays NaN
  });
});
