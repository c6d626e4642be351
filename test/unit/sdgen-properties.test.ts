/**
 * Properties of the generated files, checked by parsing them with an independent minimal ONNX
 * reader (protobufjs Reader) and by running them in onnxruntime-node: determinism, causality,
 * the text encoder against a float64 reference, the documented packed-KV layout, external data,
 * exposed attention probabilities, and the pipeline writer.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs/minimal.js';
import { generateTextEncoder, generateUnet, writePipeline, pipelineManifest } from '../../tools/sdgen/index.ts';
import { parseArgs } from '../../tools/sdgen/cli.ts';

// ---- a minimal ONNX reader, written independently of the generator --------------------------

interface PNode { name: string; op: string; domain: string; inputs: string[]; outputs: string[] }
interface PTensor { name: string; dims: number[]; type: number; raw?: Uint8Array; int64: number[]; external?: Record<string, string> }
interface PModel { nodes: PNode[]; inits: Map<string, PTensor>; inputs: string[]; outputs: string[] }

function each(buf: Uint8Array, fn: (field: number, r: protobuf.Reader, wire: number) => void): void {
  const r = protobuf.Reader.create(buf);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const before = r.pos;
    fn(tag >>> 3, r, tag & 7);
    if (r.pos === before) r.skipType(tag & 7);
  }
}
const str = (r: protobuf.Reader): string => r.string();

function parseModel(bytes: Uint8Array): PModel {
  const m: PModel = { nodes: [], inits: new Map(), inputs: [], outputs: [] };
  each(bytes, (f, r) => {
    if (f !== 7) return;
    each(r.bytes(), (g, gr) => {
      if (g === 1) {
        const n: PNode = { name: '', op: '', domain: '', inputs: [], outputs: [] };
        each(gr.bytes(), (k, nr) => {
          if (k === 1) n.inputs.push(str(nr));
          else if (k === 2) n.outputs.push(str(nr));
          else if (k === 3) n.name = str(nr);
          else if (k === 4) n.op = str(nr);
          else if (k === 7) n.domain = str(nr);
        });
        m.nodes.push(n);
      } else if (g === 5) {
        const t: PTensor = { name: '', dims: [], type: 0, int64: [] };
        each(gr.bytes(), (k, tr, wire) => {
          if (k === 1) t.dims.push(Number(tr.int64()));
          else if (k === 2) t.type = tr.int32();
          else if (k === 8) t.name = str(tr);
          else if (k === 9) t.raw = tr.bytes();
          else if (k === 7 && wire === 0) t.int64.push(Number(tr.int64()));
          else if (k === 7 && wire === 2) {
            const packed = protobuf.Reader.create(tr.bytes());
            while (packed.pos < packed.len) t.int64.push(Number(packed.int64()));
          }
          else if (k === 13) {
            let key = '';
            let value = '';
            each(tr.bytes(), (e, er) => (e === 1 ? (key = str(er)) : (value = str(er))));
            (t.external ??= {})[key] = value;
          }
        });
        m.inits.set(t.name, t);
      } else if (g === 11 || g === 12) {
        let name = '';
        each(gr.bytes(), (k, vr) => { if (k === 1) name = str(vr); });
        (g === 11 ? m.inputs : m.outputs).push(name);
      }
    });
  });
  return m;
}

function f32(t: PTensor): Float64Array {
  const raw = t.raw!;
  return Float64Array.from(new Float32Array(raw.slice().buffer));
}
const byName = (m: PModel, name: string): PNode => {
  const n = m.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
};
const producer = (m: PModel, value: string): PNode | undefined => m.nodes.find((n) => n.outputs.includes(value));

// ---- helpers ------------------------------------------------------------------------------------

const D = 32;
/** Deterministic pseudo-random values in [-scale, scale] (an LCG; full rank, unlike a sinusoid). */
function pattern(n: number, seed: number, scale = 1): Float32Array {
  let x = (seed * 2654435761 + 12345) >>> 0;
  return Float32Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x / 2 ** 31 - 1) * scale;
  });
}

async function runText(model: Uint8Array, ids: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(model);
  const full = new Int32Array(77).fill(49407);
  full.set(ids);
  return (await s.run({ input_ids: new ort.Tensor('int32', full, [1, 77]) })).last_hidden_state.data as Float32Array;
}

/** Blocks in graph order and the latent scale (1, 2, 4, 8 = downsampling) each runs at. */
const SITES: [string, number][] = [
  ...[0, 1, 2].flatMap((b) => [0, 1].map((a): [string, number] => [`/down_blocks.${b}/attentions.${a}/transformer_blocks.0`, 2 ** b])),
  ['/mid_block/attentions.0/transformer_blocks.0', 8],
  ...[1, 2, 3].flatMap((b) => [0, 1, 2].map((a): [string, number] => [`/up_blocks.${b}/attentions.${a}/transformer_blocks.0`, 2 ** (3 - b)])),
];

describe('sdgen generated files', () => {
  it('are deterministic per seed and differ across seeds', () => {
    const a = generateUnet({ seed: 7 }).model;
    expect(Buffer.compare(a, generateUnet({ seed: 7 }).model)).toBe(0);
    const b = generateUnet({ seed: 8 }).model;
    expect(b.length).toBe(a.length);
    expect(Buffer.compare(a, b)).not.toBe(0);
    expect(Buffer.compare(generateTextEncoder({ seed: 7 }).model, generateTextEncoder({ seed: 8 }).model)).not.toBe(0);
  });

  it('text encoder is causal: changing token 5 leaves outputs 0..4 unchanged', async () => {
    const { model } = generateTextEncoder({});
    const a = await runText(model, [49406, 320, 1125, 539, 320, 2368, 49407]);
    const b = await runText(model, [49406, 320, 1125, 539, 320, 1929, 49407]);
    expect(Array.from(a.subarray(0, 5 * D))).toEqual(Array.from(b.subarray(0, 5 * D)));
    const row5 = Math.max(...a.subarray(5 * D, 6 * D).map((v, i) => Math.abs(v - b[5 * D + i])));
    expect(row5).toBeGreaterThan(0.01);
  });

  it('text encoder BOS output equals a float64 CLIP reference computed from the file weights', async () => {
    const { model, config } = generateTextEncoder({});
    const m = parseModel(model);
    const init = (name: string) => f32(m.inits.get(name)!);
    const matmulW = (scope: string) => init(byName(m, `${scope}/MatMul`).inputs[1]);
    // Position 0 attends only to itself: attention = out_proj(v_proj(x)).
    const lin = (x: Float64Array, scope: string, inF: number, outF: number) => {
      const w = matmulW(scope);
      const b = init(`${scope.slice(1).replaceAll('/', '.')}.bias`);
      return Float64Array.from({ length: outF }, (_, j) => b[j] + x.reduce((s, v, i) => s + v * w[i * outF + j], 0));
    };
    const ln = (x: Float64Array, state: string) => {
      const mean = x.reduce((s, v) => s + v, 0) / x.length;
      const vr = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
      const g = init(`${state}.weight`);
      const b = init(`${state}.bias`);
      return x.map((v, i) => ((v - mean) / Math.sqrt(vr + 1e-5)) * g[i] + b[i]);
    };
    const tok = init('text_model.embeddings.token_embedding.weight').subarray(49406 * D, 49407 * D);
    const pos = init('text_model.embeddings.position_embedding.weight').subarray(0, D);
    let x = tok.map((v, i) => v + pos[i]);
    for (let l = 0; l < config.layers; l++) {
      const p = `/text_model/encoder/layers.${l}`;
      const s = `text_model.encoder.layers.${l}`;
      const attn = lin(lin(ln(x, `${s}.layer_norm1`), `${p}/self_attn/v_proj`, D, D), `${p}/self_attn/out_proj`, D, D);
      x = x.map((v, i) => v + attn[i]);
      const up = lin(ln(x, `${s}.layer_norm2`), `${p}/mlp/fc1`, D, 4 * D).map((v) => v / (1 + Math.exp(-1.702 * v)));
      const down = lin(up, `${p}/mlp/fc2`, 4 * D, D);
      x = x.map((v, i) => v + down[i]);
    }
    const expected = ln(x, 'text_model.final_layer_norm');
    const got = (await runText(model, [49406, 320, 2368, 49407])).subarray(0, D);
    for (let i = 0; i < D; i++) expect(got[i]).toBeCloseTo(expected[i], 4);
  });

  it('UNet output depends on encoder_hidden_states and on the timestep', async () => {
    const s = await ort.InferenceSession.create(generateUnet({ timestepDtype: 'float32' }).model);
    const run = async (phase: number, t: number) => (await s.run({
      sample: new ort.Tensor('float32', pattern(4 * 64, 0, 1.5), [1, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.from([t]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', pattern(77 * D, phase), [1, 77, D]),
    })).out_sample.data as Float32Array;
    const base = await run(1, 500);
    const diff = (o: Float32Array) => Math.max(...o.map((v, i) => Math.abs(v - base[i])));
    expect(diff(await run(2, 500))).toBeGreaterThan(0.05);
    expect(diff(await run(1, 20))).toBeGreaterThan(0.05);
    expect(diff(await run(1, 500))).toBe(0);
  });

  it('plain UNet: 16 blocks whose attn2 to_k/to_v MatMuls read encoder_hidden_states with anonymous [32, C] weights', () => {
    const m = parseModel(generateUnet({}).model);
    for (const [site] of SITES) {
      for (const p of ['to_k', 'to_v']) {
        const n = byName(m, `${site}/attn2/${p}/MatMul`);
        expect(n.inputs[0]).toBe('encoder_hidden_states');
        expect(n.inputs[1]).toMatch(/^onnx::MatMul_\d+$/);
        expect(m.inits.get(n.inputs[1])!.dims[0]).toBe(D);
      }
      expect(byName(m, `${site}/attn2/Softmax`).op).toBe('Softmax');
      expect(m.inits.has(`${site.slice(1).replaceAll('/', '.')}.attn2.to_out.0.bias`)).toBe(true);
    }
    expect(m.nodes.filter((n) => n.name.endsWith('/attn2/to_k/MatMul')).length).toBe(16);
  });

  it('fused-packed-kv: MatMul_KV_<j>_weight interleaves plain to_k/to_v per head, as documented', () => {
    const plain = parseModel(generateUnet({}).model);
    const bytes = generateUnet({ style: 'fused-packed-kv' }).model;
    const packed = parseModel(bytes);
    expect(packed.nodes.some((n) => n.name.endsWith('/attn2/to_k/MatMul') || n.name.endsWith('/attn2/to_v/MatMul'))).toBe(false);
    expect(packed.nodes.filter((n) => n.op === 'MultiHeadAttention' && n.domain === 'com.microsoft').length).toBe(32);
    SITES.forEach(([site], j) => {
      const k = f32(plain.inits.get(byName(plain, `${site}/attn2/to_k/MatMul`).inputs[1])!);
      const v = f32(plain.inits.get(byName(plain, `${site}/attn2/to_v/MatMul`).inputs[1])!);
      const w = packed.inits.get(`MatMul_KV_${j}_weight`)!;
      const C = k.length / D;
      const d = C / 8;
      expect(w.dims).toEqual([D, 2 * C]);
      const kv = f32(w);
      for (let c = 0; c < D; c++) for (let h = 0; h < 8; h++) for (let t = 0; t < d; t++) {
        expect(kv[c * 2 * C + h * 2 * d + t]).toBe(k[c * C + h * d + t]);
        expect(kv[c * 2 * C + h * 2 * d + d + t]).toBe(v[c * C + h * d + t]);
      }
      const mm = byName(packed, `MatMul_KV_${j}`);
      expect(mm.inputs).toEqual(['encoder_hidden_states', `MatMul_KV_${j}_weight`]);
      const reshape = byName(packed, `MatMul_KV_${j}_reshape`);
      expect(reshape.inputs).toEqual([`MatMul_KV_${j}_out`, `MatMul_KV_${j}_reshape_shape`]);
      const mha = byName(packed, `MultiHeadAttention_${16 + j}`);
      expect(mha.inputs).toEqual([`${site}/attn2/to_q/MatMul_output_0`, `MultiHeadAttention_${16 + j}_kv_input`]);
      expect(producer(packed, mha.inputs[0])!.name).toBe(`${site}/attn2/to_q/MatMul`);
      expect(producer(packed, byName(packed, `MultiHeadAttention_${j}`).inputs[0])!.name).toBe(`${site}/attn1/to_q/MatMul`);
      const shape = packed.inits.get(`MatMul_KV_${j}_reshape_shape`)!;
      expect(shape.raw).toBeUndefined(); // int64_data, as make_tensor(raw=False)
      expect(shape.int64).toEqual([0, 0, 8, 2, d]);
    });
  });

  it('external data: every tensor of 1024+ bytes is in weights.pb, back to back; smaller ones inline', () => {
    const { model, externalData } = generateUnet({ externalData: true, dtype: 'float16' });
    const m = parseModel(model);
    let offset = 0;
    for (const t of m.inits.values()) {
      const size = t.dims.reduce((p, x) => p * x, 1) * (t.type === 10 ? 2 : t.type === 7 ? 8 : 4);
      if (t.external) {
        expect(t.raw).toBeUndefined();
        expect(size).toBeGreaterThanOrEqual(1024);
        expect(t.external).toEqual({ location: 'weights.pb', offset: String(offset), length: String(size) });
        offset += size;
      } else {
        expect(size).toBeLessThan(1024);
      }
    }
    expect(offset).toBe(externalData!.bytes.byteLength);
    expect(model.byteLength).toBeLessThan(1_000_000);
  });

  it('exposeCrossAttentionProbs adds 16 attn2 softmax outputs [B, 8, HW, 77] whose rows sum to 1', async () => {
    const { model } = generateUnet({ exposeCrossAttentionProbs: true });
    const s = await ort.InferenceSession.create(model);
    expect(s.outputNames).toEqual(['out_sample', ...SITES.map(([site]) => `attn2_probs:${site}`)]);
    const H = 16;
    const out = await s.run({
      sample: new ort.Tensor('float32', pattern(2 * 4 * H * H, 0), [2, 4, H, H]),
      timestep: new ort.Tensor('int64', BigInt64Array.from([10n]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', pattern(2 * 77 * D, 1), [2, 77, D]),
    });
    for (const [site, down] of SITES) {
      const p = out[`attn2_probs:${site}`];
      const hw = (H / down) ** 2;
      expect(p.dims).toEqual([2, 8, hw, 77]);
      const data = p.data as Float32Array;
      for (let row = 0; row < 2 * 8 * hw; row += 7) {
        const sum = data.subarray(row * 77, row * 77 + 77).reduce((a, b) => a + b, 0);
        expect(sum).toBeCloseTo(1, 5);
      }
    }
    expect(() => generateUnet({ style: 'fused', exposeCrossAttentionProbs: true })).toThrow(/needs style 'plain'/);
  });

  it('writePipeline writes the pipeline once and skips when pipeline.json matches', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdgen-'));
    try {
      const spec = { latentSize: 16, externalData: true };
      expect(writePipeline(dir, spec)).toBe(true);
      for (const f of ['text_encoder/model.onnx', 'unet/model.onnx', 'unet/weights.pb', 'vae_decoder/model.onnx']) expect(existsSync(join(dir, f))).toBe(true);
      const manifest = JSON.parse(readFileSync(join(dir, 'pipeline.json'), 'utf8'));
      expect(manifest).toMatchObject({ d: 32, channels: [32, 32, 64, 64], heads: 8, latentSize: 16, style: 'plain', dtype: 'float32', seed: 0, vaeScalingFactor: 0.18215, timestepDtype: 'int64' });
      expect(manifest).toEqual(JSON.parse(JSON.stringify(pipelineManifest(spec))));
      expect(writePipeline(dir, spec)).toBe(false);
      expect(writePipeline(dir, { ...spec, seed: 1 })).toBe(true);
      writeFileSync(join(dir, 'pipeline.json'), '{}');
      expect(writePipeline(dir, spec)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the CLI parses flags and explains bad ones', () => {
    expect(parseArgs(['--demo'])).toEqual({ out: 'public/models/tiny', spec: { size: 'tiny', style: 'plain', dtype: 'float32', seed: 0, latentSize: 32 } });
    expect(parseArgs(['--out', '/tmp/x', '--style', 'fused-packed-kv', '--dtype', 'float16', '--seed', '3']).spec).toEqual({ style: 'fused-packed-kv', dtype: 'float16', seed: 3 });
    expect(() => parseArgs(['--size', 'sd15', '--out', '/tmp/x'])).toThrow(/--external-data/);
    expect(() => parseArgs(['--bogus'])).toThrow(/unknown flag "--bogus"/);
    expect(() => parseArgs(['--seed', 'x', '--out', 'd'])).toThrow(/non-negative integer/);
    expect(() => generateUnet({ latentSize: 12 })).toThrow(/multiple of 8/);
  });
});
