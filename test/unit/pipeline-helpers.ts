/**
 * The worker's pipeline code (workers/sd-pipeline.ts) running in Node on onnxruntime-node, over
 * models the generator writes: same code path as the browser, without a browser.
 */
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { generateTextEncoder, generateUnet, generateVaeDecoder, type PipelineSpec } from '../../tools/sdgen/index.ts';
import { ClipPromptTokenizer } from '../../src/lib/models/tokenizer.ts';
import { SD1_SCHEDULER_CONFIG } from '../../src/lib/diffusion/index.ts';
import type { PipelineSessions } from '../../workers/sd-pipeline.ts';
import type { Ort } from '../../workers/ort-runtime.ts';
import { indexModel, type ModelSources } from '../../src/lib/onnx/index.ts';
import { unetWithQOutputs } from '../../workers/attention-capture.ts';

export const tokenizer = new ClipPromptTokenizer({
  tokenizerJson: JSON.parse(readFileSync('public/tokenizers/clip/tokenizer.json', 'utf8')),
  tokenizerConfig: JSON.parse(readFileSync('public/tokenizers/clip/tokenizer_config.json', 'utf8')),
});

export interface NodePipeline extends PipelineSessions {
  unetSources: ModelSources;
}

/**
 * Sessions for a generated tiny pipeline; `unetBytes` replaces the UNet (e.g. patched weights).
 * With `attention`, the UNet gets its Q outputs appended as the worker does at load.
 */
export async function nodePipeline(spec: PipelineSpec, unetBytes?: Uint8Array, opts: { attention?: boolean } = {}): Promise<NodePipeline> {
  const te = generateTextEncoder(spec);
  const unet = generateUnet(spec);
  const vae = generateVaeDecoder(spec);
  let model = unetBytes ?? unet.model;
  let attention: PipelineSessions['attention'] = null;
  if (opts.attention) {
    const q = unetWithQOutputs(await indexModel(model));
    const withQ = new Uint8Array(model.length + q.appended.length);
    withQ.set(model);
    withQ.set(q.appended, model.length);
    model = withQ;
    attention = { sites: q.sites, qOutputs: q.names, unetSources: { model } };
  }
  const create = (bytes: Uint8Array) => ort.InferenceSession.create(bytes);
  return {
    ort: ort as unknown as Ort,
    choice: { provider: 'wasm', threads: 1, reason: 'node test' },
    config: {
      contextWidth: te.config.hidden,
      latentSize: spec.latentSize ?? 16,
      vaeScalingFactor: 0.18215,
      padTokenId: 49407,
      requirements: { float16: spec.dtype === 'float16' },
      scheduler: { name: 'EulerDiscrete', config: { ...SD1_SCHEDULER_CONFIG } },
    },
    tokenizer,
    textEncoder: (await create(te.model)) as never,
    unet: (await create(model)) as never,
    vaeDecoder: (await create(vae.model)) as never,
    unetSources: { model },
    attention,
  };
}
