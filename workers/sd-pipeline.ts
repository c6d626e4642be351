/**
 * Text → image with the loaded sessions, read like the algorithm (diffusers' StableDiffusionPipeline):
 * encode the prompt and the negative prompt, start from seeded noise, denoise with the
 * scheduler and classifier-free guidance, decode latents / scaling_factor with the VAE.
 */
import type { Ort, Session } from './ort-runtime.ts';
import { feed, readFloat32 } from './ort-runtime.ts';
import type * as OrtModule from 'onnxruntime-web';
import type { ClipPromptTokenizer } from '../src/lib/models/tokenizer.ts';
import type { PipelineConfig } from './pipeline-files.ts';
import type { GenerateProgress, GenerateRequest, GenerateResult } from './diffusion-api.ts';
import type { ProviderChoice } from '../src/lib/models/provider.ts';
import { staticBatch } from '../src/lib/models/io.ts';
import { inputMeta } from './ort-runtime.ts';
import { nextTask } from './cancellation.ts';
import { AttentionCapture, readKeyWeights, type QTensor } from './attention-capture.ts';
import { buildUnetContext, encodeText as encodeWith, type UnetContext } from './unet-context.ts';
import { wordTokenPositions } from '../src/lib/attention/index.ts';
import type { CrossAttentionSite, ModelSources } from '../src/lib/onnx/index.ts';
import type { ContextMap } from '../src/lib/erasure/index.ts';
import type { ContextMapGpu } from '../shaders/context-map-runner.ts';
import {
  TorchCpuGenerator,
  createScheduler,
  guideBatched,
  guideSeparate,
  initialLatents,
  latentPreview,
  latentsToVaeInput,
  vaeOutputToRgba,
} from '../src/lib/diffusion/index.ts';

export interface PipelineSessions {
  ort: Ort;
  /** Cross-attention sites and the UNet's appended Q outputs (null: no capture possible). */
  attention?: { sites: CrossAttentionSite[]; qOutputs: string[]; keyWeights?: Promise<Map<string, Float32Array>>; unetSources: ModelSources } | null;
  choice: ProviderChoice;
  config: PipelineConfig;
  tokenizer: ClipPromptTokenizer;
  textEncoder: Session;
  unet: Session;
  vaeDecoder: Session;
  /**
   * WebGPU only: keeps the context on ORT's device (text encoder output → x·Mᵀ kernel → UNet
   * input). Absent or null: the context is built on the CPU and uploaded by ORT at each run.
   */
  contextMapGpu?: ContextMapGpu | null;
}

const contextSessions = (p: PipelineSessions) => ({ ...p, contextWidth: p.config.contextWidth });

/** Text encoder output for one prompt: [1, 77, d] as float32. */
export function encodeText(p: PipelineSessions, text: string): Promise<Float32Array> {
  return encodeWith(contextSessions(p), text);
}

/**
 * One UNet evaluation: noise prediction for `sample` [B,4,h,w] at timestep t with the context
 * tensor [B,77,d] built once per image. With `capture`, Q of every attn2 is fetched too and
 * batch entry `condIndex` (the conditional branch) is added into the attention sums.
 */
async function predictNoise(
  p: PipelineSessions,
  sample: Float32Array,
  timestep: number,
  context: OrtModule.Tensor,
  batch: number,
  h: number,
  w: number,
  capture?: { into: AttentionCapture; step: number; condIndex: number },
): Promise<Float32Array> {
  const meta = inputMeta(p.unet).find((m) => m.name === 'timestep');
  const tLen = meta && meta.shape.length === 1 && meta.shape[0] === 1 ? 1 : batch;
  const feeds = {
    sample: feed(p.ort, p.unet, 'UNet', 'sample', sample, [batch, 4, h, w]),
    timestep: feed(p.ort, p.unet, 'UNet', 'timestep', new Float32Array(tLen).fill(timestep), [tLen]),
    encoder_hidden_states: context,
  };
  const outName = p.unet.outputNames.includes('out_sample') ? 'out_sample' : p.unet.outputNames[0]!;
  // Ask only for the noise unless capturing: the appended Q outputs are not copied out then.
  const fetches = capture ? [outName, ...capture.into.qOutputNames()] : [outName];
  const out = await p.unet.run(feeds, fetches);
  if (capture) await capture.into.accumulate(capture.step, out as unknown as Record<string, QTensor>, capture.condIndex);
  const noise = out[outName]!;
  const data = await readFloat32(noise);
  noise.dispose();
  return data;
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export interface RunOptions {
  onProgress?: (progress: GenerateProgress) => void;
  /** Called between steps; throws to stop (a newer request superseded this one). */
  checkCancelled?: () => void;
  /**
   * The active edit: the UNet sees the context x·Mᵀ on both guidance branches, as editing the
   * weights would. Absent or null: the original model.
   */
  map?: ContextMap | null;
}

/** Generate one image. */
export async function runPipeline(p: PipelineSessions, request: GenerateRequest, options: RunOptions = {}): Promise<GenerateResult> {
  const { onProgress, checkCancelled = () => {}, map = null } = options;
  const t0 = performance.now();
  const { config } = p;
  const size = config.latentSize;
  const guided = request.guidance > 1;

  // Batch the two guidance branches when the UNet takes batch 2 (symbolic or static 2), except
  // on WASM at 64² latents and up, where batch 2 of SD 1.5 does not fit in wasm32's 4 GB.
  const unetBatch = staticBatch(inputMeta(p.unet).find((m) => m.name === 'sample')!);
  const fitsBatch2 = p.choice.provider !== 'wasm' || size < 64 || unetBatch === 2;
  const batched = guided && fitsBatch2 && (unetBatch === null || unetBatch === 2);

  const context = await buildUnetContext(contextSessions(p), request.prompt, guided ? request.negativePrompt ?? '' : null, map, batched);
  try {
    return await denoiseAndDecode(p, request, context, batched, t0, onProgress, checkCancelled);
  } finally {
    context.dispose();
  }
}

async function denoiseAndDecode(
  p: PipelineSessions,
  request: GenerateRequest,
  context: UnetContext,
  batched: boolean,
  t0: number,
  onProgress: RunOptions['onProgress'],
  checkCancelled: () => void,
): Promise<GenerateResult> {
  const { config } = p;
  const size = config.latentSize;
  const guided = request.guidance > 1;
  const t1 = performance.now();

  let capture: AttentionCapture | null = null;
  if (request.attention) {
    const a = p.attention;
    if (!a) throw new Error('This model was loaded without attention capture.');
    a.keyWeights ??= readKeyWeights(a.sites, a.unetSources);
    // On WebGPU, Q stays on the GPU and WGSL kernels keep the running sums on ORT's own device.
    const device = p.choice.provider === 'webgpu' ? await p.ort.env.webgpu.device : undefined;
    capture = new AttentionCapture({
      sites: a.sites, keyWeights: await a.keyWeights, context: await context.condValues(), latentHeight: size, latentWidth: size, ...(device ? { device } : {}),
    });
  }
  const scheduler = createScheduler(config.scheduler.name, request.steps, config.scheduler.config);
  const shape = [1, 4, size, size];
  // One generator per image, as diffusers' `generator=`: initial latents, then ancestral noise.
  const generator = new TorchCpuGenerator(request.seed);
  let latents = initialLatents(generator.randn(shape), scheduler);

  for (let i = 0; i < scheduler.timesteps.length; i++) {
    await nextTask(); // lets a cancel() or a newer request reach the worker
    checkCancelled();
    const t = scheduler.timesteps[i]!;
    const x = scheduler.scaleModelInput(latents, i);
    let eps: Float32Array;
    const grab = (condIndex: number) => (capture?.wants(i) ? { into: capture, step: i, condIndex } : undefined);
    if (!guided) {
      eps = await predictNoise(p, x, t, context.cond!, 1, size, size, grab(0));
    } else if (batched) {
      // Batch order [uncond, cond] (diffusers): the conditional branch is entry 1.
      const both = await predictNoise(p, concat(x, x), t, context.both!, 2, size, size, grab(1));
      eps = guideBatched(both, request.guidance);
    } else {
      const epsUncond = await predictNoise(p, x, t, context.uncond!, 1, size, size);
      const epsCond = await predictNoise(p, x, t, context.cond!, 1, size, size, grab(0));
      eps = guideSeparate(epsUncond, epsCond, request.guidance);
    }
    latents = scheduler.step(eps, i, latents, scheduler.needsNoise ? generator.randn(shape) : undefined);
    onProgress?.({
      step: i + 1,
      steps: scheduler.timesteps.length,
      ...(request.preview ? { preview: { width: size, height: size, rgba: latentPreview(latents, size, size) } } : {}),
    });
  }
  checkCancelled();
  const t2 = performance.now();

  const vaeIn = feed(p.ort, p.vaeDecoder, 'VAE decoder', 'latent_sample', latentsToVaeInput(latents, config.vaeScalingFactor), shape);
  const out = await p.vaeDecoder.run({ latent_sample: vaeIn });
  const sample = out['sample'] ?? out[p.vaeDecoder.outputNames[0]!]!;
  const [, , height, width] = sample.dims as number[];
  const rgba = vaeOutputToRgba(await readFloat32(sample), width!, height!);
  sample.dispose();
  const t3 = performance.now();

  let attention: GenerateResult['attention'];
  if (capture) {
    const words = p.tokenizer.encodePrompt(request.prompt).words;
    attention = { words, maps: await capture.tokenMaps({ tokens: wordTokenPositions(words) }) };
    capture.dispose();
  }
  return {
    width: width!,
    height: height!,
    rgba,
    provider: p.choice.provider,
    timings: { encodeMs: t1 - t0, denoiseMs: t2 - t1, decodeMs: t3 - t2, totalMs: t3 - t0 },
    ...(attention ? { attention } : {}),
  };
}
