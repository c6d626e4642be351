import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, attr, encodeModel } from '../../tools/sdgen/onnx-writer.ts';
import { generateTextEncoder, generateUnet, generateVaeDecoder } from '../../tools/sdgen/index.ts';
import { normalFor } from '../../tools/sdgen/rng.ts';
import { DataType, MS_DOMAIN } from '../../src/lib/onnx/schema.ts';
import { describeExecutionRequirements, findCrossAttentionSites, indexModel, readSiteProjection } from '../../src/lib/onnx/index.ts';
import { sourcesOf, unetInputs } from './onnx-helpers.ts';

const SEED = 7;
const NAMES = [
  'down_blocks.0.attentions.0', 'down_blocks.0.attentions.1', 'down_blocks.1.attentions.0', 'down_blocks.1.attentions.1',
  'down_blocks.2.attentions.0', 'down_blocks.2.attentions.1', 'mid_block.attentions.0',
  'up_blocks.1.attentions.0', 'up_blocks.1.attentions.1', 'up_blocks.1.attentions.2',
  'up_blocks.2.attentions.0', 'up_blocks.2.attentions.1', 'up_blocks.2.attentions.2',
  'up_blocks.3.attentions.0', 'up_blocks.3.attentions.1', 'up_blocks.3.attentions.2',
].map((n) => `${n}.transformer_blocks.0`);
const LEVELS = [0, 0, 1, 1, 2, 2, 3, 2, 2, 2, 1, 1, 1, 0, 0, 0];
const CHANNELS = [32, 32, 64, 64]; // tiny UNet block widths by level

/**
 * True when `stored` is `unit` times one positive scale, up to the stored dtype's rounding (fp16:
 * half an ulp in the value plus as much in the fitted scale). The generator draws each weight as
 * std · z from the stream of its state-dict name, so comparing against the unit-std stream checks
 * values and layout without depending on the std it picks.
 */
function proportional(stored: Float32Array, unit: Float32Array, relTol: number): boolean {
  const ratios = Array.from(unit, (u, i) => stored[i] / u).filter((_, i) => Math.abs(unit[i]) > 0.5).sort((a, b) => a - b);
  const scale = ratios[ratios.length >> 1];
  if (!(scale > 0)) return false;
  return unit.every((u, i) => Math.abs(stored[i] - scale * u) <= relTol * Math.abs(scale * u) + 2 ** -24);
}

describe('findCrossAttentionSites on generated UNets', () => {
  const styles = ['plain', 'fused', 'fused-packed-kv'] as const;
  for (const style of styles) for (const dtype of ['float32', 'float16'] as const) {
    const externalData = style === 'fused' && dtype === 'float16';
    it(`${style} ${dtype}${externalData ? ' external data' : ''}: 16 sites with levels, heads and the generator's weights`, async () => {
      const gen = generateUnet({ style, dtype, seed: SEED, externalData });
      const sources = sourcesOf(gen);
      const sites = findCrossAttentionSites(await indexModel(gen.model, { externalData: sources.externalData }));
      expect(sites.map((s) => s.name)).toEqual(NAMES);
      expect(sites.map((s) => s.level)).toEqual(LEVELS);
      for (const s of sites) {
        const c = CHANNELS[s.level!];
        expect([s.heads, s.headSize, s.innerDim, s.contextDim, s.style]).toEqual([8, c / 8, c, 32, style]);
        expect(s.qTensor).toBe(`/${s.name.replaceAll('.attentions', '/attentions').replaceAll('.transformer_blocks', '/transformer_blocks')}/attn2/to_q/MatMul_output_0`);
        expect(s.k.packed !== undefined).toBe(style === 'fused-packed-kv');
      }
      // Weights: each projection is the generator's stream for its state-dict name, [in, out].
      for (const s of [sites[0], sites[6], sites[15]]) {
        for (const which of ['q', 'k', 'v'] as const) {
          const m = await readSiteProjection(s, which, sources);
          const rows = which === 'q' ? s.innerDim : 32;
          expect([m.rows, m.cols]).toEqual([rows, s.innerDim]);
          const unit = normalFor(SEED, `${s.name}.attn2.to_${which}.weight`, rows * s.innerDim, 1);
          expect(proportional(m.data, unit, dtype === 'float32' ? 1e-6 : 2 ** -10), `${s.name} to_${which}`).toBe(true);
        }
      }
    });
  }

  it('packed KV reads back exactly the plain export K and V (de-interleaved per head)', async () => {
    const plain = generateUnet({ style: 'plain', dtype: 'float16', seed: SEED });
    const packed = generateUnet({ style: 'fused-packed-kv', dtype: 'float16', seed: SEED });
    const a = findCrossAttentionSites(await indexModel(plain.model));
    const b = findCrossAttentionSites(await indexModel(packed.model));
    for (let i = 0; i < 16; i++) {
      expect(b[i].k.tensor.name).toBe(`MatMul_KV_${i}_weight`);
      for (const which of ['k', 'v'] as const) {
        expect((await readSiteProjection(b[i], which, sourcesOf(packed))).data).toEqual((await readSiteProjection(a[i], which, sourcesOf(plain))).data);
      }
    }
  });
});

/**
 * One SD 2.x-style cross attention (heads of 4 here, 5 heads) written the way torch exports
 * diffusers' `view(batch, -1, heads, head_dim)`: Concat(Unsqueeze(Gather(Shape)), -1, 5, 4).
 */
function sd2StyleBlock(fused: boolean) {
  const g = new GraphBuilder();
  g.input('hidden', DataType.FLOAT, ['batch', 16, 20]);
  g.input('encoder_hidden_states', DataType.FLOAT, ['batch', 77, 12]);
  g.node('Identity', ['hidden'], ['h0'], { name: '/down_blocks.3/resnets.0/Identity' }); // a UNet has 4 down blocks
  const scope = '/mid_block/attentions.0/transformer_blocks.0/attn2';
  const w = (name: string, rows: number) => g.initializer(name, DataType.FLOAT, [rows, 20], new Float32Array(rows * 20));
  const q = g.node('MatMul', ['h0', w('onnx::MatMul_1', 20)], [`${scope}/to_q/MatMul_output_0`], { name: `${scope}/to_q/MatMul` })[0];
  const k = g.node('MatMul', ['encoder_hidden_states', w('onnx::MatMul_2', 12)], [`${scope}/to_k/MatMul_output_0`], { name: `${scope}/to_k/MatMul` })[0];
  const v = g.node('MatMul', ['encoder_hidden_states', w('onnx::MatMul_3', 12)], [`${scope}/to_v/MatMul_output_0`], { name: `${scope}/to_v/MatMul` })[0];
  if (fused) {
    g.node('MultiHeadAttention', [q, k, v], ['out'], { name: 'MultiHeadAttention_16', domain: MS_DOMAIN, attrs: { num_heads: attr.int(5) } });
  } else {
    const shape = g.node('Shape', [q], ['s'], { name: `${scope}/Shape` })[0];
    g.initializer('zero', DataType.INT64, [], new BigInt64Array([0n]));
    const batch = g.node('Gather', [shape, 'zero'], ['b'], { name: `${scope}/Gather` })[0];
    g.initializer('axes', DataType.INT64, [1], new BigInt64Array([0n]));
    const b1 = g.node('Unsqueeze', [batch, 'axes'], ['b1'], { name: `${scope}/Unsqueeze` })[0];
    const c = (name: string, v: bigint) => g.node('Constant', [], [name], { name: `${scope}/${name}`, attrs: { value: attr.tensor({ dataType: DataType.INT64, dims: [1], data: new BigInt64Array([v]) }) } })[0];
    const cat = g.node('Concat', [b1, c('m1', -1n), c('heads', 5n), c('dim', 4n)], ['shape4'], { name: `${scope}/Concat`, attrs: { axis: attr.int(0) } })[0];
    g.node('Reshape', [q, cat], ['out'], { name: `${scope}/Reshape` });
  }
  g.output('out', DataType.FLOAT, ['batch', 16, 20]);
  return encodeModel(g, { opsets: { '': 17, [MS_DOMAIN]: 1 } }).model;
}

describe('head count and errors', () => {
  it('derives 5 heads of 4 from the torch Reshape pattern and from num_heads (never assumes 8)', async () => {
    for (const fused of [false, true]) {
      const [site] = findCrossAttentionSites(await indexModel(sd2StyleBlock(fused)));
      expect(site).toMatchObject({ name: 'mid_block.attentions.0.transformer_blocks.0', level: 3, heads: 5, headSize: 4, innerDim: 20, contextDim: 12, style: fused ? 'fused' : 'plain' });
      expect(site.k.tensor.name).toBe('onnx::MatMul_2');
      expect(site.v.tensor.name).toBe('onnx::MatMul_3');
    }
  });

  it('says what a text encoder or VAE is instead of returning nothing', async () => {
    const te = await indexModel(generateTextEncoder({}).model);
    expect(() => findCrossAttentionSites(te)).toThrow(/found 0 cross-attention sites.*inputs: input_ids.*\/text_model\/.*is this the text encoder/);
    const vae = await indexModel(generateVaeDecoder({}).model);
    expect(() => findCrossAttentionSites(vae)).toThrow(/no input 'encoder_hidden_states' \(inputs: latent_sample\)/);
  });

  it('fails clearly when encoder_hidden_states feeds no MatMul', async () => {
    const g = new GraphBuilder();
    g.input('encoder_hidden_states', DataType.FLOAT, [1, 77, 8]);
    g.node('Relu', ['encoder_hidden_states'], ['y'], { name: '/relu' });
    g.output('y', DataType.FLOAT, [1, 77, 8]);
    const idx = await indexModel(encodeModel(g, { opsets: { '': 17 } }).model);
    expect(() => findCrossAttentionSites(idx)).toThrow(/no MatMul reads 'encoder_hidden_states' \(its consumers: Relu '\/relu'\)/);
  });
});

describe('describeExecutionRequirements', () => {
  it('flags packed KV as not runnable but unpackable, in agreement with what onnxruntime CPU does', async () => {
    const { sample, context, dims } = unetInputs(32, 1);
    const feeds = {
      sample: new ort.Tensor('float32', sample, dims.sample),
      timestep: new ort.Tensor('int64', BigInt64Array.from([500n]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', context, dims.context),
    };
    for (const style of ['fused', 'fused-packed-kv'] as const) {
      const gen = generateUnet({ style, dtype: 'float32', seed: 1 });
      const req = describeExecutionRequirements(await indexModel(gen.model));
      expect(req.contribOps).toEqual(['MultiHeadAttention']);
      expect(req.float16).toBe(false);
      const session = await ort.InferenceSession.create(gen.model);
      const run = session.run(feeds);
      if (style === 'fused') {
        expect(req).toMatchObject({ runnable: true, unpackable: false, reason: null });
        await expect(run).resolves.toHaveProperty('out_sample');
      } else {
        expect(req).toMatchObject({ runnable: false, unpackable: true });
        expect(req.reason).toMatch(/16 attention nodes use MultiHeadAttention with packed KV \(e\.g\. 'MatMul_KV_0_out'\), which no onnxruntime-web engine.*unpackPackedKv/);
        await expect(run).rejects.toThrow(/Packed KV not implemented for CPU/);
      }
      await session.release();
    }
    expect(describeExecutionRequirements(await indexModel(generateUnet({ dtype: 'float16' }).model))).toMatchObject({ runnable: true, float16: true, contribOps: [] });
  });
});
