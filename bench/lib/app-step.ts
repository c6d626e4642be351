/**
 * The app's own denoising step, through the worker's code: runPipeline (workers/sd-pipeline.ts)
 * with one step, so its denoise time is one step as the app takes it — feeds built from the
 * session's metadata (feed), run, readFloat32, classifier-free guidance, the Euler scheduler.
 * Text encoding and VAE decoding are outside that time; the VAE here is the tiny generated one
 * (the step's cost is the UNet's, and a full SD VAE would add a minute per call on 2 cores).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSession, type Ort, type Session } from '../../workers/ort-runtime.ts';
import { runPipeline, type PipelineSessions } from '../../workers/sd-pipeline.ts';
import { ClipPromptTokenizer, SD1_PAD_ID } from '../../src/lib/models/tokenizer.ts';
import { generateVaeDecoder } from '../../tools/sdgen/index.ts';
import type { Sd15Files } from './sd15.ts';

const TOKENIZER_DIR = new URL('../../public/tokenizers/clip/', import.meta.url);

/** The SD 1.5 pipeline around an existing UNet session, as the worker assembles it. */
export async function appPipeline(ort: Ort, unet: Session, files: Sd15Files, latent: number, threads: number): Promise<PipelineSessions> {
  const json = (name: string) => JSON.parse(readFileSync(new URL(name, TOKENIZER_DIR), 'utf8')) as object;
  const tokenizer = new ClipPromptTokenizer({ tokenizerJson: json('tokenizer.json'), tokenizerConfig: json('tokenizer_config.json') }, { padId: SD1_PAD_ID });
  const textEncoder = await createSession(ort, 'text encoder', { model: readFileSync(join(files.dir, 'text_encoder', 'model.onnx')) }, 'wasm');
  const vaeDecoder = await createSession(ort, 'VAE decoder', { model: generateVaeDecoder({ size: 'tiny' }).model }, 'wasm');
  return {
    ort,
    choice: { provider: 'wasm', threads, reason: 'benchmark' },
    config: {
      contextWidth: 768,
      latentSize: latent,
      vaeScalingFactor: 0.18215,
      padTokenId: SD1_PAD_ID,
      requirements: { float16: true },
      // As the SD 1.5 manifest (src/lib/models/manifests/sd-1-5.json).
      scheduler: { name: 'EulerDiscrete', config: { betaStart: 0.00085, betaEnd: 0.012, numTrainTimesteps: 1000, stepsOffset: 1, timestepSpacing: 'linspace' } },
    },
    tokenizer,
    textEncoder,
    unet,
    vaeDecoder,
  };
}

/** Wall and CPU time (ms) of one app step. */
export interface AppStepTime {
  wallMs: number;
  cpuMs: number;
  /** runPipeline's own timings.denoiseMs for the same call (wall). */
  denoiseMs: number;
}

/**
 * One app step: runPipeline with steps = 1 (guidance 7.5 runs batch 2). Timed from the return of
 * the last text-encoder run to the step's progress report, so it covers what the app does for a
 * step (scheduler setup, feeds from metadata, UNet run, readFloat32, guidance, scheduler step)
 * and neither the text encoder nor the VAE; CPU time is measured over the same span.
 */
export function appStep(p: PipelineSessions, batch: 1 | 2): () => Promise<AppStepTime> {
  let seed = 0;
  let mark = { wall: 0, cpu: 0 };
  let step = { wall: 0, cpu: 0 };
  const now = () => ({ wall: performance.now(), cpu: processCpuMs() });
  // Instrument the text encoder's run: the last call's return marks the start of the step.
  const textEncoder = new Proxy(p.textEncoder, {
    get(target, key) {
      if (key !== 'run') return Reflect.get(target, key, target);
      return async (...args: Parameters<Session['run']>) => {
        const out = await target.run(...args);
        mark = now();
        return out;
      };
    },
  });
  const timed: PipelineSessions = { ...p, textEncoder };
  return async () => {
    const result = await runPipeline(timed, { prompt: 'a photo of a cat', seed: ++seed, steps: 1, guidance: batch === 2 ? 7.5 : 1 }, {
      onProgress: () => {
        const t = now();
        step = { wall: t.wall - mark.wall, cpu: t.cpu - mark.cpu };
      },
    });
    return { wallMs: step.wall, cpuMs: step.cpu, denoiseMs: result.timings.denoiseMs };
  };
}

function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
