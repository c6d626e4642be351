/**
 * Text → image with the loaded sessions, read like the algorithm (diffusers' StableDiffusionPipeline):
 * encode the prompt and the negative prompt, start from seeded noise, denoise with the
 * scheduler and classifier-free guidance, decode latents / scaling_factor with the VAE.
 */
import type { Ort, Session } from './ort-runtime.ts';
import { feed, readFloat32 } from './ort-runtime.ts';
import type { ClipPromptTokenizer } from '../src/lib/models/tokenizer.ts';
import type { PipelineConfig } from './pipeline-files.ts';
import type { GenerateProgress, GenerateRequest, GenerateResult } from './diffusion-api.ts';
import type { ProviderChoice } from '../src/lib/models/provider.ts';
import { staticBatch } from '../src/lib/models/io.ts';
import { inputMeta } from './ort-runtime.ts';
import {
  TorchCpuGenerator,
  createScheduler,
  guideBatched,
  guideSeparate,
  initialLatents,
  latentsToVaeInput,
  vaeOutputToRgba,
} from '../src/lib/diffusion/index.ts';

export interface PipelineSessions {
  ort: Ort;
  choice: ProviderChoice;
  config: PipelineConfig;
  tokenizer: ClipPromptTokenizer;
  textEncoder: Session;
  unet: Session;
  vaeDecoder: Session;
}

/** Text encoder output for one prompt: [1, 77, d] as float32. */
export async function encodeText(p: PipelineSessions, text: string): Promise<Float32Array> {
  const { ids } = p.tokenizer.encodePrompt(text);
  const input = feed(p.ort, p.textEncoder, 'text encoder', 'input_ids', Float32Array.from(ids), [1, ids.length]);
  const out = await p.textEncoder.run({ input_ids: input });
  const hidden = out['last_hidden_state'] ?? out[p.textEncoder.outputNames[0]!]!;
  return readFloat32(hidden);
}

/** One UNet evaluation: noise prediction for `sample` [B,4,h,w] at timestep t with context [B,77,d]. */
async function predictNoise(
  p: PipelineSessions,
  sample: Float32Array,
  timestep: number,
  context: Float32Array,
  batch: number,
  h: number,
  w: number,
): Promise<Float32Array> {
  const d = p.config.contextWidth;
  const meta = inputMeta(p.unet).find((m) => m.name === 'timestep');
  const tLen = meta && meta.shape.length === 1 && meta.shape[0] === 1 ? 1 : batch;
  const feeds = {
    sample: feed(p.ort, p.unet, 'UNet', 'sample', sample, [batch, 4, h, w]),
    timestep: feed(p.ort, p.unet, 'UNet', 'timestep', new Float32Array(tLen).fill(timestep), [tLen]),
    encoder_hidden_states: feed(p.ort, p.unet, 'UNet', 'encoder_hidden_states', context, [batch, 77, d]),
  };
  const out = await p.unet.run(feeds);
  const noise = out['out_sample'] ?? out[p.unet.outputNames[0]!]!;
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
   * The context the UNet sees, from the text encoder's [batch,77,d] output: x·Mᵀ when an edit is
   * active. Applied to both guidance branches, as editing the weights would.
   */
  context?: (hidden: Float32Array, batch: number) => Float32Array;
}

/** Generate one image. */
export async function runPipeline(p: PipelineSessions, request: GenerateRequest, options: RunOptions = {}): Promise<GenerateResult> {
  const { onProgress, checkCancelled = () => {}, context = (x: Float32Array) => x } = options;
  const t0 = performance.now();
  const { config } = p;
  const size = config.latentSize;
  const guided = request.guidance > 1;

  const cond = context(await encodeText(p, request.prompt), 1);
  const uncond = guided ? context(await encodeText(p, request.negativePrompt ?? ''), 1) : null;
  const t1 = performance.now();

  const scheduler = createScheduler(config.scheduler.name, request.steps, config.scheduler.config);
  const shape = [1, 4, size, size];
  // One generator per image, as diffusers' `generator=`: initial latents, then ancestral noise.
  const generator = new TorchCpuGenerator(request.seed);
  let latents = initialLatents(generator.randn(shape), scheduler);

  // Batch the two guidance branches when the UNet takes batch 2 (symbolic or static 2).
  const unetBatch = staticBatch(inputMeta(p.unet).find((m) => m.name === 'sample')!);
  const batched = guided && (unetBatch === null || unetBatch === 2);

  for (let i = 0; i < scheduler.timesteps.length; i++) {
    checkCancelled();
    const t = scheduler.timesteps[i]!;
    const x = scheduler.scaleModelInput(latents, i);
    let eps: Float32Array;
    if (!guided) {
      eps = await predictNoise(p, x, t, cond, 1, size, size);
    } else if (batched) {
      const both = await predictNoise(p, concat(x, x), t, concat(uncond!, cond), 2, size, size);
      eps = guideBatched(both, request.guidance);
    } else {
      const epsUncond = await predictNoise(p, x, t, uncond!, 1, size, size);
      const epsCond = await predictNoise(p, x, t, cond, 1, size, size);
      eps = guideSeparate(epsUncond, epsCond, request.guidance);
    }
    latents = scheduler.step(eps, i, latents, scheduler.needsNoise ? generator.randn(shape) : undefined);
    onProgress?.({ step: i + 1, steps: scheduler.timesteps.length });
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

  return {
    width: width!,
    height: height!,
    rgba,
    provider: p.choice.provider,
    timings: { encodeMs: t1 - t0, denoiseMs: t2 - t1, decodeMs: t3 - t2, totalMs: t3 - t0 },
  };
}
