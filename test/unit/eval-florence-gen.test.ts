/**
 * The tiny Florence-2-shaped model (tools/florence-gen) in Node: its 4-bit matrices are what
 * MatMulNBits computes, and transformers.js loads the folder and generates with the decoder's
 * KV cache exactly what a cache-free greedy loop computes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { AutoProcessor, env, Florence2ForConditionalGeneration, RawImage, Tensor, type Florence2Processor } from '@huggingface/transformers';
import { encodeModel, GraphBuilder, attr } from '../../tools/sdgen/onnx-writer.ts';
import { DataType } from '../../src/lib/onnx/schema.ts';
import { quantizeQ4 } from '../../tools/florence-gen/graphs.ts';
import { writeTinyFlorence } from '../../tools/florence-gen/index.ts';
import { parseFlorenceOutput } from '../../src/lib/eval/florence-parse.ts';

describe('quantizeQ4', () => {
  it('matches what onnxruntime MatMulNBits computes (x · dequantized W, in float64 here)', async () => {
    const K = 32, N = 5, M = 3;
    const w = Float32Array.from({ length: K * N }, (_, i) => Math.sin(i * 1.7) * 0.8);
    const q = quantizeQ4(w, K, N, 16);
    // Quantisation error per element is at most half a step of its block's scale.
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) {
      const scale = q.scales[n * 2 + Math.floor(k / 16)]!;
      expect(Math.abs(q.dequantized[k * N + n]! - w[k * N + n]!)).toBeLessThanOrEqual(scale / 2 + 1e-6);
    }
    const g = new GraphBuilder();
    g.input('x', DataType.FLOAT, [M, K]);
    g.initializer('B', DataType.UINT8, [N, 2, 8], q.packed);
    g.initializer('S', DataType.FLOAT, [N * 2], q.scales);
    g.node('MatMulNBits', ['x', 'B', 'S'], ['y'], { domain: 'com.microsoft', attrs: { K: attr.int(K), N: attr.int(N), bits: attr.int(4), block_size: attr.int(16) } });
    g.output('y', DataType.FLOAT, [M, N]);
    const session = await ort.InferenceSession.create(encodeModel(g, { opsets: { '': 17, 'com.microsoft': 1 } }).model);
    const x = Float32Array.from({ length: M * K }, (_, i) => Math.cos(i * 0.3));
    const y = (await session.run({ x: new ort.Tensor('float32', x, [M, K]) })).y!.data as Float32Array;
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      let ref = 0;
      for (let k = 0; k < K; k++) ref += x[m * K + k]! * q.dequantized[k * N + n]!;
      expect(y[m * N + n]).toBeCloseTo(ref, 4);
    }
  });
});

describe('tiny Florence-2 through transformers.js (Node, onnxruntime-node CPU)', () => {
  let dir: string;
  let model: Florence2ForConditionalGeneration;
  let processor: Florence2Processor;
  const image = new RawImage(new Uint8ClampedArray(48 * 40 * 3).map((_, i) => (i * 37) % 256), 48, 40, 3);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'florence-tiny-'));
    writeTinyFlorence(dir);
    env.allowRemoteModels = false;
    env.useFSCache = false;
    const dtype = { embed_tokens: 'fp32', vision_encoder: 'fp32', encoder_model: 'q4', decoder_model_merged: 'q4' } as const;
    model = (await Florence2ForConditionalGeneration.from_pretrained(dir, { dtype, device: 'cpu' })) as Florence2ForConditionalGeneration;
    processor = (await AutoProcessor.from_pretrained(dir)) as Florence2Processor;
  });
  afterAll(async () => {
    await model?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has the real session I/O names', () => {
    const s = (model as unknown as { sessions: Record<string, { inputNames: string[]; outputNames: string[] }> }).sessions;
    expect(Object.keys(s).sort()).toEqual(['decoder_model_merged', 'embed_tokens', 'model', 'vision_encoder']);
    expect(s.decoder_model_merged!.inputNames).toEqual(expect.arrayContaining(['inputs_embeds', 'encoder_hidden_states', 'encoder_attention_mask', 'use_cache_branch', 'past_key_values.0.decoder.key', 'past_key_values.0.encoder.value']));
    expect(s.decoder_model_merged!.outputNames).toEqual(['logits', 'present.0.decoder.key', 'present.0.decoder.value', 'present.0.encoder.key', 'present.0.encoder.value']);
  });

  it('generates with the KV cache exactly what a cache-free greedy loop computes, and the output parses', async () => {
    const inputs = await processor(image, '<OD>');
    expect((inputs.pixel_values as Tensor).dims).toEqual([1, 3, 32, 32]);
    const steps = 8;
    const ids = (await model.generate({ ...inputs, max_new_tokens: steps, num_beams: 1, do_sample: false } as never)) as Tensor;
    const generated = (ids.tolist() as bigint[][])[0]!.map(Number);
    // Reference: re-run the whole decoder input every step (no past), take the argmax of the last position.
    const ref = [2]; // decoder_start_token_id
    for (let i = 0; i < generated.length - 1; i++) {
      if (i === 0) { ref.push(0); continue; } // forced_bos_token_id
      const { logits } = await model({ ...inputs, decoder_input_ids: new Tensor('int64', BigInt64Array.from(ref.map(BigInt)), [1, ref.length]) } as never) as { logits: Tensor };
      const V = logits.dims.at(-1)!;
      const last = (logits.data as Float32Array).subarray((ref.length - 1) * V, ref.length * V);
      if (ref.at(-1) === 2 && ref.length > 2) break;
      ref.push(last.indexOf(Math.max(...last)));
    }
    // The last token is </s>: generated, or forced at max_length (generation_config forced_eos_token_id).
    expect(generated.slice(0, -1)).toEqual(ref.slice(0, generated.length - 1));
    expect(generated.at(-1)).toBe(2);
    expect(generated.length).toBeGreaterThan(3);
    const text = processor.batch_decode(ids as never, { skip_special_tokens: false })[0]!;
    expect(text.startsWith('</s><s>')).toBe(true);
    const r = parseFlorenceOutput('<OD>', text, [48, 40]);
    // Independent count: label-or-nothing followed by four location tokens.
    const groups = text.replace(/<\/?s>|<pad>/g, '').match(/([^<]+)?<loc_\d+><loc_\d+><loc_\d+><loc_\d+>/g) ?? [];
    expect(r.kind === 'boxes' && r.bboxes.length).toBe(groups.length);
  });
});
