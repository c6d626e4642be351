/**
 * The full-size generated SD 1.5 pipelines the diffusion bench runs (tools/sdgen, random weights,
 * real per-step cost), cached in the OS temp dir and reused while the generator is unchanged
 * (writePipeline skips up-to-date files). Never inside the repository: the fp32 UNet is 3.4 GB.
 */
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePipeline, type PipelineSpec } from '../../tools/sdgen/index.ts';

export type Sd15Variant = 'fp16' | 'fp16-ext' | 'fp32-ext';

/** Cache root; override with ERASURE_LAB_BENCH_CACHE. */
export const SD15_CACHE = process.env.ERASURE_LAB_BENCH_CACHE ?? join(tmpdir(), 'erasure-lab-bench-sd15');

const SPECS: Record<Sd15Variant, PipelineSpec> = {
  // fp16 weights inline (~1.7 GB), float32 graph I/O (Casts at the edges), like the web fp16 exports.
  fp16: { size: 'sd15', dtype: 'float16', style: 'plain' },
  // fp16 weights in weights.pb (~1.7 GB), like the SD 1.5 export the app's manifest picks.
  'fp16-ext': { size: 'sd15', dtype: 'float16', style: 'plain', externalData: true },
  // fp32 weights in weights.pb (~3.4 GB), like the diffusers `onnx` revision of SD 1.5.
  'fp32-ext': { size: 'sd15', dtype: 'float32', style: 'plain', externalData: true },
};

/** Paths of one generated sd15 pipeline (UNet model, optional external data file). */
export interface Sd15Files {
  dir: string;
  unet: string;
  /** `weights.pb` beside the UNet, for the fp32 variant. */
  unetExternalData?: string;
  /** Seconds spent generating now (0 when the cache was reused). */
  generatedS: number;
}

/** Generate the variant into the cache if missing or stale, and return its paths. */
export function ensureSd15(variant: Sd15Variant, log: (line: string) => void = console.log): Sd15Files {
  const dir = join(SD15_CACHE, variant);
  const t = performance.now();
  const wrote = writePipeline(dir, SPECS[variant], (line) => log(`  sdgen ${variant}: ${line}`));
  const generatedS = wrote ? (performance.now() - t) / 1000 : 0;
  const manifest = JSON.parse(readFileSync(join(dir, 'pipeline.json'), 'utf8')) as { files: { unet: string; unetExternalData?: string } };
  const files: Sd15Files = { dir, unet: join(dir, manifest.files.unet), generatedS };
  if (manifest.files.unetExternalData) files.unetExternalData = join(dir, manifest.files.unetExternalData);
  if (!existsSync(files.unet)) throw new Error(`sd15 ${variant}: ${files.unet} is missing after generation; delete ${dir} and run again.`);
  return files;
}
