import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, attr, encodeModel } from '../../tools/sdgen/onnx-writer.ts';
import { DataType } from '../../src/lib/onnx/schema.ts';
import { float32ToHalfBytes, floatToHalf, halfBytesToFloat32, halfToFloat } from '../../src/lib/onnx/index.ts';
import { prng } from './onnx-helpers.ts';

/** A one-node model: Cast from `from` to `to` over a 1-D input. onnxruntime is the reference. */
async function castSession(from: number, to: number): Promise<ort.InferenceSession> {
  const g = new GraphBuilder();
  g.input('x', from, ['n']);
  g.node('Cast', ['x'], ['y'], { name: '/Cast', attrs: { to: attr.int(to) } });
  g.output('y', to, ['n']);
  return ort.InferenceSession.create(encodeModel(g, { opsets: { '': 17 } }).model);
}

describe('fp16 conversion', () => {
  it('decodes all 65536 half patterns exactly as onnxruntime casts them (subnormals, ±0, ±inf, NaN)', async () => {
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const out = await (await castSession(DataType.FLOAT16, DataType.FLOAT)).run({ x: new ort.Tensor('float16', bits, [65536]) });
    const ref = out.y.data as Float32Array;
    const mine = halfBytesToFloat32(new Uint8Array(bits.buffer));
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(ref[h])) expect(Number.isNaN(mine[h]) && Number.isNaN(halfToFloat(h))).toBe(true);
      else if (mine[h] !== ref[h] || halfToFloat(h) !== ref[h] || Object.is(mine[h], -0) !== Object.is(ref[h], -0)) {
        throw new Error(`half 0x${h.toString(16)}: got ${mine[h]}, onnxruntime ${ref[h]}`);
      }
    }
    expect([halfToFloat(0x0001), halfToFloat(0x03ff), halfToFloat(0x7bff), halfToFloat(0xfc00)]).toEqual([2 ** -24, 1023 * 2 ** -24, 65504, -Infinity]);
  });

  it('rounds float32 to half like onnxruntime (nearest, ties to even, overflow to inf, subnormals)', async () => {
    const r = prng(3);
    const specials = [0, -0, 1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65519.99, 65520, 1e6, -1e6, Infinity, -Infinity,
      2 ** -24, 2 ** -25, 2 ** -25 * 1.0001, 3 * 2 ** -26, 2 ** -14, 2 ** -14 - 2 ** -25, 1e-10, -5.5e-8, 0.1, -0.3333];
    const random = Array.from({ length: 20000 }, () => (r() < 0.5 ? -1 : 1) * 2 ** (r() * 44 - 28) * (1 + r()));
    const values = Float32Array.from([...specials, ...random]);
    const out = await (await castSession(DataType.FLOAT, DataType.FLOAT16)).run({ x: new ort.Tensor('float32', values, [values.length]) });
    const ref = out.y.data as Uint16Array;
    const bytes = float32ToHalfBytes(values);
    for (let i = 0; i < values.length; i++) {
      const mine = bytes[2 * i] | (bytes[2 * i + 1] << 8);
      if (mine !== ref[i] || floatToHalf(values[i]) !== ref[i]) {
        throw new Error(`${values[i]}: got 0x${mine.toString(16)}, onnxruntime 0x${ref[i].toString(16)}`);
      }
    }
    expect(floatToHalf(NaN) & 0x7c00).toBe(0x7c00);
    expect(floatToHalf(NaN) & 0x3ff).not.toBe(0);
  });
});
