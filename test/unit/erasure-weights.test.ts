import { describe, expect, it } from 'vitest';
import { bfloat16ToFloat as bfloat16BitsToFloat32, halfToFloat as float16BitsToFloat32, floatToBfloat16 as float32ToBfloat16Bits, floatToHalf as float32ToFloat16Bits } from '../../src/lib/onnx/fp16.ts';
import { readSafetensors, writeSafetensors } from '../../src/lib/erasure/safetensors.ts';
import {
  diffusersWeightName, exportEditedWeights, gramOfProjections, materializeWeight, recoverContextMap, type ProjectionWeight,
} from '../../src/lib/erasure/weights.ts';
import { denseMatrix, lowRankMap } from '../../src/lib/erasure/context-map.ts';
import { add, eye, fromFlat, mul, randMat, randVec, relErr, rng, toFlat, tr } from './erasure-helpers.ts';

describe('float16 / bfloat16', () => {
  it('known bit patterns', () => {
    const cases: [number, number][] = [[1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [0.1, 0x2e66], [2 ** -24, 0x0001], [1e-8, 0], [2 ** -14, 0x0400], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02]];
    for (const [v, bits] of cases) expect(float32ToFloat16Bits(v)).toBe(bits);
    expect(float16BitsToFloat32(0x3555)).toBeCloseTo(0.33325195, 8);
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
    expect(float32ToBfloat16Bits(1)).toBe(0x3f80);
    expect(float32ToBfloat16Bits(Math.PI)).toBe(0x4049);
    expect(bfloat16BitsToFloat32(0x4049)).toBe(3.140625);
  });
  it('round trip error within half an ulp', () => {
    const r = rng(1);
    for (let i = 0; i < 2000; i++) {
      const v = (r() - 0.5) * 2 ** (Math.floor(r() * 20) - 10);
      const h = float16BitsToFloat32(float32ToFloat16Bits(v));
      expect(Math.abs(h - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25) * 1.0001);
      const b = bfloat16BitsToFloat32(float32ToBfloat16Bits(v));
      expect(Math.abs(b - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -8 * 1.0001);
    }
  });
});

describe('safetensors', () => {
  const tensors = [
    { name: 'a.weight', shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 0.25, 1e-3, 7) },
    { name: 'b.weight', shape: [4], data: Float32Array.of(0.1, 0.2, 0.3, 0.4) },
  ];
  it('round trips F32 exactly and F16/BF16 within their precision; header is 8-aligned', () => {
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const bytes = writeSafetensors(tensors, { dtype, metadata: { format: 'pt' } });
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect((8 + n) % 8).toBe(0);
      const back = readSafetensors(bytes);
      expect(back.metadata).toEqual({ format: 'pt' });
      for (const t of tensors) {
        const got = back.tensors.get(t.name)!;
        expect(got.shape).toEqual(t.shape);
        expect(got.dtype).toBe(dtype);
        expect(relErr(got.data, t.data)).toBeLessThan(dtype === 'F32' ? 1e-12 : dtype === 'F16' ? 1e-3 : 1e-2);
      }
    }
  });
  it('malformed files give errors that name the problem', () => {
    const good = writeSafetensors(tensors);
    const n = Number(new DataView(good.buffer).getBigUint64(0, true));
    const withHeader = (h: unknown, dataBytes = 40) => {
      const json = new TextEncoder().encode(JSON.stringify(h));
      const out = new Uint8Array(8 + json.length + dataBytes);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      return out;
    };
    expect(() => readSafetensors(new Uint8Array(4))).toThrow(/too short/);
    expect(() => readSafetensors(good.subarray(0, 8 + n - 1))).toThrow(/header length \d+ does not fit/);
    expect(() => readSafetensors(good.subarray(0, good.length - 4))).toThrow(/past the \d+-byte data buffer|cover/);
    expect(() => readSafetensors(withHeader('x'))).toThrow(/does not start with "\{"/);
    const bad = withHeader({}); bad[9] = 0x7b; bad[8] = 0x7b; // "{{"
    expect(() => readSafetensors(bad)).toThrow(/not valid JSON/);
    expect(() => readSafetensors(withHeader({ t: { dtype: 'I64', shape: [5], data_offsets: [0, 40] } }))).toThrow(/tensor t has unsupported dtype "I64"/);
    expect(() => readSafetensors(withHeader({ t: { dtype: 'F32', shape: [5], data_offsets: [0, 40] } }))).toThrow(/spans 40 bytes but shape \[5\] of F32 needs 20/);
    expect(() => readSafetensors(withHeader({ t: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 16))).toThrow(/starts at byte 8, expected 0/);
    expect(() => readSafetensors(withHeader({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 16))).toThrow(/cover 8 bytes but the data buffer has 16/);
    expect(() => readSafetensors(withHeader({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 8] } }))).toThrow(/invalid shape/);
    expect(() => readSafetensors(withHeader({ t: { dtype: 'F32', shape: [2], data_offsets: [8] } }))).toThrow(/invalid data_offsets/);
    expect(() => writeSafetensors([{ name: 'x', shape: [3], data: new Float32Array(2) }])).toThrow(/has 2 values but shape \[3\] needs 3/);
  });
});

describe('projection weights', () => {
  const d = 8, r = rng(2);
  const outs = [6, 10, 12];
  const Ws = outs.map((o) => randMat(o, d, r)); // torch layout [out, in]
  const names = outs.map((_, i) => `down_blocks.${i}.attentions.0.transformer_blocks.0.attn2.to_k.weight`);
  const torchW = (i: number): ProjectionWeight => ({ name: names[i], layout: 'torch', rows: outs[i], cols: d, data: Float32Array.from(Ws[i].flat()) });
  const onnxW = (i: number): ProjectionWeight => ({ name: names[i], layout: 'onnx', rows: d, cols: outs[i], data: Float32Array.from(tr(Ws[i]).flat()) });
  const map = lowRankMap(d, randVec(2 * d, r, 0.4), randVec(2 * d, r, 0.4), { method: 'test' });
  const M = fromFlat(denseMatrix(map), d, d);

  it('Gram Σ WᵀW is the same from either layout and equals the naive sum', () => {
    const ref = toFlat(Ws.reduce((acc, W) => add(acc, mul(tr(f32ToMat(W)), f32ToMat(W))), eye(d, 0)));
    expect(relErr(gramOfProjections(outs.map((_, i) => torchW(i))), ref)).toBeLessThan(1e-12);
    expect(relErr(gramOfProjections(outs.map((_, i) => onnxW(i))), ref)).toBeLessThan(1e-12);
  });
  it('materialise: torch W·M and onnx Mᵀ·W_onnx', () => {
    const W = f32ToMat(Ws[1]);
    expect(relErr(materializeWeight(torchW(1), map), toFlat(mul(W, M)))).toBeLessThan(1e-6);
    expect(relErr(materializeWeight(onnxW(1), map), toFlat(tr(mul(W, M))))).toBeLessThan(1e-6);
    expect(() => materializeWeight({ ...torchW(1), data: new Float32Array(3) }, map)).toThrow(/3 values but shape 10×8/);
  });
  it('export → read → recover M with a tiny residual (both layouts)', () => {
    for (const layout of ['torch', 'onnx'] as const) {
      const ws = outs.map((_, i) => (layout === 'torch' ? torchW(i) : onnxW(i)));
      const file = readSafetensors(exportEditedWeights(ws, map));
      const t = file.tensors.get(names[2])!;
      expect(t.shape).toEqual([12, d]);
      expect(relErr(t.data, toFlat(mul(f32ToMat(Ws[2]), M)))).toBeLessThan(1e-6);
      expect(JSON.parse(file.metadata['erasure-lab.provenance'])).toEqual({ method: 'test' });
      const rec = recoverContextMap(ws, file.tensors);
      expect(rec.shared).toBe(true);
      expect(rec.residualOfEdit).toBeLessThan(1e-5);
      expect(relErr(denseMatrix(rec.map), toFlat(M))).toBeLessThan(1e-5);
      expect(rec.message).toMatch(/shared context map recovered/);
    }
  });
  it('a random per-layer delta is not a shared map: large residual and a weight-patching message', () => {
    const ws = outs.map((_, i) => torchW(i));
    const rr = rng(9);
    const edited = new Map(ws.map((w) => [w.name, { dtype: 'F32' as const, shape: [w.rows, d], data: w.data.map((v) => v + 0.3 * (rr() - 0.5)) }]));
    const rec = recoverContextMap(ws, edited);
    expect(rec.shared).toBe(false);
    expect(rec.residualOfEdit).toBeGreaterThan(0.5);
    expect(rec.message).toMatch(/not a shared context map; use weight patching/);
  });
  it('recovery errors: missing tensor, wrong shape, too few rows for an invertible Gram', () => {
    const ws = outs.map((_, i) => torchW(i));
    const file = readSafetensors(exportEditedWeights(ws, map));
    file.tensors.delete(names[0]);
    expect(() => recoverContextMap(ws, file.tensors)).toThrow(new RegExp(`has no tensor ${names[0].replace(/\./g, '\\.')}`));
    const wrong = new Map([[names[0], { dtype: 'F32' as const, shape: [d, 6], data: new Float32Array(48) }]]);
    expect(() => recoverContextMap([ws[0]], wrong)).toThrow(/is \[8,6\] in the edited file, expected \[6, 8\]/);
    const one = readSafetensors(exportEditedWeights([ws[0]], map));
    expect(() => recoverContextMap([ws[0]], one.tensors)).toThrow(/Σ WᵀW is singular/);
    expect(() => gramOfProjections([ws[0], { ...onnxW(1), rows: 4, cols: 20, data: new Float32Array(80) }])).toThrow(/input width 4, others have 8/);
  });
  it('diffusers names from ONNX node names', () => {
    expect(diffusersWeightName('/down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_k/MatMul')).toBe('down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight');
    expect(diffusersWeightName('/mid_block/attentions.0/transformer_blocks.0/attn2/to_v/MatMul')).toBe('mid_block.attentions.0.transformer_blocks.0.attn2.to_v.weight');
    expect(() => diffusersWeightName('onnx::MatMul_1234')).toThrow(/is not an ONNX MatMul node name/);
  });
});

/** Round a matrix to float32 like the stored weights. */
function f32ToMat(m: number[][]): number[][] {
  return m.map((row) => row.map((v) => Math.fround(v)));
}
