/**
 * Shared suite of sdgen-models-{node,web}.test.ts (two files so vitest runs the engines in
 * parallel): every tiny UNet export (style × dtype × inline/external) and the text encoder /
 * VAE decoder load and run on one onnxruntime engine; fused equals plain; float16 agrees with
 * float32; packed KV is refused by the CPU engines.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { generateTextEncoder, generateUnet, generateVaeDecoder, type PipelineSpec } from '../../tools/sdgen/index.ts';

export type Engine = 'node' | 'web';
type Ort = typeof ortNode | typeof ortWeb;
const engines: Record<Engine, Ort> = { node: ortNode, web: ortWeb };
const D = 32;
const LATENT = 8;
const BATCH = 2;

beforeAll(() => {
  ortWeb.env.wasm.numThreads = 1;
});

/** Deterministic pseudo-random values in [-scale, scale] (an LCG; full rank, unlike a sinusoid). */
function pattern(n: number, seed: number, scale = 1): Float32Array {
  let x = (seed * 2654435761 + 12345) >>> 0;
  return Float32Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x / 2 ** 31 - 1) * scale;
  });
}

function stats(a: Float32Array): { finite: boolean; min: number; max: number; std: number } {
  let min = Infinity;
  let max = -Infinity;
  let s = 0;
  let s2 = 0;
  let finite = true;
  for (const v of a) {
    if (!Number.isFinite(v)) finite = false;
    min = Math.min(min, v);
    max = Math.max(max, v);
    s += v;
    s2 += v * v;
  }
  const mean = s / a.length;
  return { finite, min, max, std: Math.sqrt(s2 / a.length - mean * mean) };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function session(ort: Ort, model: { model: Uint8Array; externalData?: { location: string; bytes: Uint8Array } }) {
  const options = model.externalData ? { externalData: [{ path: model.externalData.location, data: model.externalData.bytes }] } : {};
  return (ort.InferenceSession as typeof ortNode.InferenceSession).create(model.model, options);
}

const unetCache = new Map<string, ReturnType<typeof generateUnet>>();

/** Generated once per spec and reused by both engines' tests in this worker. */
function cachedUnet(spec: PipelineSpec): ReturnType<typeof generateUnet> {
  const key = JSON.stringify(spec);
  if (!unetCache.has(key)) unetCache.set(key, generateUnet(spec));
  return unetCache.get(key)!;
}

async function runUnet(ort: Ort, spec: PipelineSpec, ehsPhase = 1): Promise<Float32Array> {
  const s = await session(ort, cachedUnet(spec));
  const feeds = {
    sample: new ort.Tensor('float32', pattern(BATCH * 4 * LATENT * LATENT, 0, 1.5), [BATCH, 4, LATENT, LATENT]),
    timestep: new ort.Tensor('int64', BigInt64Array.from([981n]), [1]),
    encoder_hidden_states: new ort.Tensor('float32', pattern(BATCH * 77 * D, ehsPhase), [BATCH, 77, D]),
  };
  const out = (await s.run(feeds as never)).out_sample;
  expect(out.dims).toEqual([BATCH, 4, LATENT, LATENT]);
  expect(out.type).toBe('float32');
  return out.data as Float32Array;
}

const runnable = [
  { style: 'plain', dtype: 'float32' },
  { style: 'fused', dtype: 'float32' },
  { style: 'plain', dtype: 'float16' },
  { style: 'fused', dtype: 'float16' },
] as const;

/** Declares the model suite for one engine. */
export function defineModelSuite(engine: Engine): void {
  describe(`sdgen models on onnxruntime-${engine}`, () => {
    const ort = engines[engine];
    const outputs = new Map<string, Float32Array>();

    it.each(runnable.flatMap((r) => [false, true].map((externalData) => ({ ...r, externalData }))))(
      '$style $dtype externalData=$externalData runs with finite, varied output',
      async (spec) => {
        const out = await runUnet(ort, spec);
        const st = stats(out);
        expect(st.finite).toBe(true);
        expect(st.std).toBeGreaterThan(0.05);
        expect(st.max - st.min).toBeGreaterThan(0.5);
        expect(Math.max(-st.min, st.max)).toBeLessThan(50);
        const key = `${spec.style}/${spec.dtype}`;
        // inline and external files of one spec hold the same weights: identical output.
        if (outputs.has(key)) expect(maxAbsDiff(out, outputs.get(key)!)).toBe(0);
        outputs.set(key, out);
      },
    );

    it('fused (MultiHeadAttention) equals plain to float32 tolerance', () => {
      const plain = outputs.get('plain/float32')!;
      const diff = maxAbsDiff(outputs.get('fused/float32')!, plain);
      expect(diff).toBeLessThan(1e-4);
    });

    it('float16 agrees with float32 to float16 tolerance, and is not identical', () => {
      for (const style of ['plain', 'fused']) {
        const f32 = outputs.get(`${style}/float32`)!;
        const diff = maxAbsDiff(outputs.get(`${style}/float16`)!, f32);
        const range = stats(f32);
        expect(diff).toBeLessThan(0.02 * Math.max(-range.min, range.max));
        expect(diff).toBeGreaterThan(0);
      }
    });

    it.each([false, true])('fused-packed-kv (externalData=%s) is refused: packed KV not implemented for CPU', async (externalData) => {
      await expect(runUnet(ort, { style: 'fused-packed-kv', externalData })).rejects.toThrow(/Packed KV not implemented for CPU/);
    });

    it.each(['float32', 'float16'] as const)('text encoder %s: input_ids int32 [1, 77] → last_hidden_state [1, 77, 32]', async (dtype) => {
      const s = await session(ort, generateTextEncoder({ dtype }));
      const ids = new Int32Array(77).fill(49407);
      ids.set([49406, 320, 1125, 539, 320, 2368, 49407]);
      const out = (await s.run({ input_ids: new ort.Tensor('int32', ids, [1, 77]) } as never)).last_hidden_state;
      expect(out.dims).toEqual([1, 77, D]);
      expect(out.type).toBe('float32');
      const st = stats(out.data as Float32Array);
      expect(st.finite).toBe(true);
      expect(st.std).toBeGreaterThan(0.5); // final layer norm: about unit scale
    });

    it.each(['float32', 'float16'] as const)('VAE decoder %s: [1, 4, 8, 8] → sample [1, 3, 64, 64] in a sane range', async (dtype) => {
      const s = await session(ort, generateVaeDecoder({ dtype }));
      const latent = pattern(4 * LATENT * LATENT, 3, 1 / 0.18215);
      const out = (await s.run({ latent_sample: new ort.Tensor('float32', latent, [1, 4, LATENT, LATENT]) } as never)).sample;
      expect(out.dims).toEqual([1, 3, 8 * LATENT, 8 * LATENT]);
      const st = stats(out.data as Float32Array);
      expect(st.finite).toBe(true);
      expect(st.std).toBeGreaterThan(0.05);
      expect(Math.max(-st.min, st.max)).toBeLessThan(20);
    });
  });
}
