import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { runCase } from '../../tools/erase-cli.ts';
import { writePipeline } from '../../tools/sdgen/index.ts';
import { deserializeContextMap, denseMatrix, readSafetensors } from '../../src/lib/erasure/index.ts';
import { tokenizer } from './pipeline-helpers.ts';

let dir: string;
const quiet = () => {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'erase-cli-'));
  writePipeline(join(dir, 'tiny'), { size: 'tiny', seed: 4 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeCase(name: string, body: object): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(body));
  return path;
}

describe('npm run erase', () => {
  it('writes the map, its diagnostics and the edited weights of a case', async () => {
    const out = await runCase(
      writeCase('uce', { model: 'tiny', request: { method: 'uce', erase: ['car'], preserve: ['bus'] }, out: 'out-uce', safetensors: 'F32' }),
      quiet,
    );
    const map = deserializeContextMap(readFileSync(join(out, 'map.json'), 'utf8'));
    expect(map.d).toBe(32);
    const diag = JSON.parse(readFileSync(join(out, 'diagnostics.json'), 'utf8'));
    expect(diag.method).toBe('uce');
    expect(diag.diagnostics.rank).toBe(1);
    expect(diag.diagnostics.erased[0].prompt).toBe('car');
    const file = readSafetensors(new Uint8Array(readFileSync(join(out, 'unet-edit.safetensors'))));
    expect(file.tensors.size).toBe(32);
    const t = file.tensors.get('mid_block.attentions.0.transformer_blocks.0.attn2.to_v.weight')!;
    expect(t.shape).toEqual([64, 32]); // [out, in] as the UCE code saves it
  });

  it('gives the same map from precomputed encodings as from the text encoder', async () => {
    const session = await ort.InferenceSession.create(join(dir, 'tiny/text_encoder/model.onnx'));
    const table: Record<string, { ids: number[]; hidden: number[] }> = {};
    for (const text of ['car', 'bus', '']) {
      const { ids } = tokenizer.encodePrompt(text);
      const r = await session.run({ input_ids: new ort.Tensor('int32', ids, [1, 77]) });
      table[text] = { ids: Array.from(ids), hidden: Array.from(r.last_hidden_state!.data as Float32Array) };
    }
    writeFileSync(join(dir, 'enc.json'), JSON.stringify(table));
    const request = { method: 'uce', erase: ['car'], preserve: ['bus'] };
    const a = await runCase(writeCase('a', { model: 'tiny', request, out: 'a' }), quiet);
    const b = await runCase(writeCase('b', { embeddings: 'enc.json', request, out: 'b' }), quiet);
    const ma = denseMatrix(deserializeContextMap(readFileSync(join(a, 'map.json'), 'utf8')));
    const mb = denseMatrix(deserializeContextMap(readFileSync(join(b, 'map.json'), 'utf8')));
    expect(Math.max(...Array.from(ma, (x, i) => Math.abs(x - mb[i]!)))).toBeLessThan(1e-9);
  });

  it('names what is wrong with a bad case', async () => {
    await expect(runCase(writeCase('typo', { model: 'tiny', request: { method: 'uce', erase: ['car'], lamda: 1 }, out: 'x' }), quiet)).rejects.toThrow(
      /unknown field 'lamda' for method 'uce'/,
    );
    await expect(runCase(writeCase('rece', { embeddings: 'enc.json', request: { method: 'rece', erase: ['car'] }, out: 'x' }), quiet)).rejects.toThrow(
      /RECE needs "model"/,
    );
    await expect(runCase(writeCase('missing', { embeddings: 'enc.json', request: { method: 'uce', erase: ['truck'] }, out: 'x' }), quiet)).rejects.toThrow(
      /no entry for the prompt "truck"/,
    );
    await expect(runCase(writeCase('noout', { model: 'tiny', request: { method: 'uce', erase: ['car'] } }), quiet)).rejects.toThrow(/"out" must name/);
    await expect(runCase(join(dir, 'nope.json'), quiet)).rejects.toThrow(/case file not found/);
  });
});
