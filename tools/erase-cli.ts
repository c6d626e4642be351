/**
 * `npm run erase -- case.json`: compute an erasure for researchers, outside the browser.
 *
 * A case file (paths relative to the case file):
 *   {
 *     "model": "fixtures/tiny",              // a folder laid out like a diffusers ONNX export:
 *                                            //   text_encoder/model.onnx, unet/model.onnx (+ weights.pb)
 *     "tokenizer": "../public/tokenizers/clip", // optional; default: the app's CLIP tokenizer
 *     "padTokenId": 49407,                   // optional; 49407 SD 1.x, 0 SD 2.x / SD-Turbo
 *     "embeddings": "encodings.json",        // optional instead of a text encoder: { prompt: { ids: [77], hidden: [77·d] } }
 *     "request": { "method": "uce", "erase": ["car"], "preserve": ["bus"], "lambda": 0.5 },
 *     "out": "out/car",                      // folder for the results (created)
 *     "safetensors": "F32"                   // optional: also write W·M per projection ("F32" or "F16")
 *   }
 * writes out/map.json (the context map, versioned JSON), out/diagnostics.json and, on request,
 * out/unet-edit.safetensors (diffusers names, [out, in], as the UCE code saves its edits).
 */
import * as ort from 'onnxruntime-node';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  EraseRequestError,
  exportEditedWeights,
  gramOfProjections,
  parseEraseRequest,
  runErasure,
  serializeContextMap,
  type EncodedPrompt,
} from '../src/lib/erasure/index.ts';
import { ClipPromptTokenizer } from '../src/lib/models/tokenizer.ts';
import { readCrossAttentionProjections } from '../workers/unet-projections.ts';
import type { ModelSources } from '../src/lib/onnx/index.ts';

const CASE_KEYS = ['model', 'tokenizer', 'padTokenId', 'embeddings', 'request', 'out', 'safetensors'];

class CaseError extends Error {}

function readJson(path: string, what: string): unknown {
  if (!existsSync(path)) throw new CaseError(`${what} not found: ${path}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CaseError(`${what} ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

function unetSources(modelDir: string): ModelSources {
  const model = join(modelDir, 'unet/model.onnx');
  if (!existsSync(model)) throw new CaseError(`no UNet at ${model}: "model" must be a folder with unet/model.onnx`);
  const external = join(modelDir, 'unet/weights.pb');
  return { model: readFileSync(model), ...(existsSync(external) ? { externalData: { 'weights.pb': readFileSync(external) } } : {}) };
}

/** Prompt encoder from a text encoder + tokenizer, or from precomputed encodings. */
async function promptEncoder(c: Record<string, unknown>, base: string): Promise<(texts: string[]) => Promise<EncodedPrompt[]>> {
  if (typeof c.embeddings === 'string') {
    const table = readJson(resolve(base, c.embeddings), 'embeddings file') as Record<string, { ids: number[]; hidden: number[] }>;
    return async (texts) =>
      texts.map((text) => {
        const e = table[text];
        if (!e) throw new CaseError(`the embeddings file has no entry for the prompt ${JSON.stringify(text)}; add it or give "model" with a text encoder`);
        if (e.ids?.length !== 77 || !e.hidden || e.hidden.length % 77 !== 0) throw new CaseError(`embeddings for ${JSON.stringify(text)} need ids [77] and hidden [77·d]`);
        return { text, ids: Int32Array.from(e.ids), hidden: Float32Array.from(e.hidden), d: e.hidden.length / 77 };
      });
  }
  if (typeof c.model !== 'string') throw new CaseError('give "model" (a pipeline folder) or "embeddings" (a JSON file of encodings)');
  const tokDir = resolve(base, typeof c.tokenizer === 'string' ? c.tokenizer : resolve(import.meta.dirname, '../public/tokenizers/clip'));
  const tokenizer = new ClipPromptTokenizer(
    {
      tokenizerJson: readJson(join(tokDir, 'tokenizer.json'), 'tokenizer') as object,
      tokenizerConfig: readJson(join(tokDir, 'tokenizer_config.json'), 'tokenizer config') as object,
    },
    { padId: typeof c.padTokenId === 'number' ? c.padTokenId : 49407 },
  );
  const te = join(resolve(base, c.model), 'text_encoder/model.onnx');
  if (!existsSync(te)) throw new CaseError(`no text encoder at ${te}`);
  const session = await ort.InferenceSession.create(te);
  const type = session.inputMetadata.find((m) => m.name === 'input_ids');
  return async (texts) => {
    const out: EncodedPrompt[] = [];
    for (const text of texts) {
      const { ids } = tokenizer.encodePrompt(text);
      const input =
        type?.isTensor && type.type === 'int64'
          ? new ort.Tensor('int64', BigInt64Array.from(ids, (x) => BigInt(x)), [1, 77])
          : new ort.Tensor('int32', ids, [1, 77]);
      const r = await session.run({ input_ids: input });
      const hidden = r.last_hidden_state!.data as Float32Array;
      out.push({ text, ids, hidden, d: hidden.length / 77 });
    }
    return out;
  };
}

export async function runCase(casePath: string, log: (s: string) => void = console.log): Promise<string> {
  const base = dirname(resolve(casePath));
  const c = readJson(resolve(casePath), 'case file') as Record<string, unknown>;
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new CaseError('the case file must hold a JSON object');
  const unknown = Object.keys(c).filter((k) => !CASE_KEYS.includes(k));
  if (unknown.length) throw new CaseError(`unknown field(s) ${unknown.join(', ')} in the case file (allowed: ${CASE_KEYS.join(', ')})`);
  if (typeof c.out !== 'string') throw new CaseError('"out" must name the folder for the results');
  if (c.safetensors !== undefined && c.safetensors !== 'F32' && c.safetensors !== 'F16') throw new CaseError('"safetensors" must be "F32" or "F16"');
  const request = parseEraseRequest(c.request);

  const encode = await promptEncoder(c, base);
  const needsUnet = request.method === 'rece' || c.safetensors !== undefined;
  if (needsUnet && typeof c.model !== 'string') throw new CaseError(`${request.method === 'rece' ? 'RECE' : 'exporting weights'} needs "model" (the UNet's weights)`);
  const projections = needsUnet ? await readCrossAttentionProjections(unetSources(resolve(base, c.model as string))) : null;

  const t0 = performance.now();
  const outcome = await runErasure(request, encode, async () => gramOfProjections(projections!));
  const ms = performance.now() - t0;

  const out = resolve(base, c.out);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'map.json'), serializeContextMap(outcome.map, 'float64'));
  const stages = outcome.stages.map((s) => ({ label: s.label, diagnostics: s.result.diagnostics }));
  writeFileSync(join(out, 'diagnostics.json'), JSON.stringify({ method: outcome.method, ms, diagnostics: outcome.diagnostics, stages }, null, 2));
  if (c.safetensors) writeFileSync(join(out, 'unet-edit.safetensors'), exportEditedWeights(projections!, outcome.map, c.safetensors as 'F32' | 'F16'));

  const d = outcome.diagnostics;
  log(`${outcome.method}: rank(M − I) = ${d.rank}, condition number ${d.conditionNumber.toExponential(2)}, ${ms.toFixed(1)} ms`);
  log(`  erased vectors: mean remaining distance to target ${d.summary.erasedMeanRemaining.toFixed(4)} (max ${d.summary.erasedMaxRemaining.toFixed(4)})`);
  log(`  preserved vectors: mean relative change ${d.summary.preservedMeanChange.toFixed(4)} (max ${d.summary.preservedMaxChange.toFixed(4)})`);
  log(`  wrote ${join(out, 'map.json')}, diagnostics.json${c.safetensors ? ', unet-edit.safetensors' : ''}`);
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const path = process.argv[2];
  if (!path || path === '--help') {
    console.log('usage: npm run erase -- case.json   (the case format is in tools/erase-cli.ts and the README)');
    process.exit(path ? 0 : 2);
  }
  runCase(path).catch((e: Error) => {
    const known = e instanceof CaseError || e instanceof EraseRequestError;
    console.error(`erase: ${known ? '' : `${e.name}: `}${e.message}`);
    process.exit(1);
  });
}
