/**
 * Writes a generated Stable Diffusion pipeline to disk.
 *
 *   npx tsx tools/sdgen/cli.ts --demo
 *     the app's offline demo (tiny, plain, float32, seed 0, latent 32) in public/models/tiny/;
 *     skipped in milliseconds when public/models/tiny/pipeline.json already matches.
 *   npx tsx tools/sdgen/cli.ts --out DIR [--size tiny|sd15] [--style plain|fused|fused-packed-kv]
 *     [--dtype float32|float16] [--external-data] [--seed N] [--latent N] [--timestep int64|float32]
 *     [--static-batch N] [--expose-attention-probs]
 */
import { writePipeline, type PipelineSpec } from './index.ts';

const DEMO_DIR = 'public/models/tiny';
const DEMO_SPEC: PipelineSpec = { size: 'tiny', style: 'plain', dtype: 'float32', seed: 0, latentSize: 32 };

const USAGE = `usage: tsx tools/sdgen/cli.ts --demo
       tsx tools/sdgen/cli.ts --out DIR [--size tiny|sd15] [--style plain|fused|fused-packed-kv]
         [--dtype float32|float16] [--external-data] [--seed N] [--latent N]
         [--timestep int64|float32] [--static-batch N] [--expose-attention-probs]`;

/** Parses argv into an output dir and spec; throws with the usage on bad flags. */
export function parseArgs(argv: string[]): { out: string; spec: PipelineSpec } {
  let out: string | undefined;
  const spec: PipelineSpec = {};
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value.\n${USAGE}`);
    return v;
  };
  const integer = (v: string, flag: string): number => {
    if (!/^\d+$/.test(v)) throw new Error(`${flag} expects a non-negative integer, got "${v}".`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    switch (flag) {
      case '--demo': out = DEMO_DIR; Object.assign(spec, DEMO_SPEC); break;
      case '--out': out = value(i++, flag); break;
      case '--size': spec.size = value(i++, flag) as PipelineSpec['size']; break;
      case '--style': spec.style = value(i++, flag) as PipelineSpec['style']; break;
      case '--dtype': spec.dtype = value(i++, flag) as PipelineSpec['dtype']; break;
      case '--external-data': spec.externalData = true; break;
      case '--seed': spec.seed = integer(value(i++, flag), flag); break;
      case '--latent': spec.latentSize = integer(value(i++, flag), flag); break;
      case '--timestep': spec.timestepDtype = value(i++, flag) as PipelineSpec['timestepDtype']; break;
      case '--static-batch': spec.staticBatch = integer(value(i++, flag), flag); break;
      case '--expose-attention-probs': spec.exposeCrossAttentionProbs = true; break;
      case '--help': case '-h': throw new Error(USAGE);
      default: throw new Error(`unknown flag "${flag}".\n${USAGE}`);
    }
  }
  if (!out) throw new Error(`say where to write: --out DIR (or --demo).\n${USAGE}`);
  if (spec.size === 'sd15' && spec.dtype !== 'float16' && !spec.externalData) {
    throw new Error('an sd15 float32 UNet is 3.4 GB, over protobuf\'s 2 GB limit: add --external-data (or use --dtype float16).');
  }
  return { out, spec };
}

function main(): void {
  let args: { out: string; spec: PipelineSpec };
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`sdgen: ${(e as Error).message}`);
    process.exit(2);
  }
  const started = performance.now();
  const wrote = writePipeline(args.out, args.spec, (line) => console.log(`sdgen: ${line}`));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(wrote ? `sdgen: wrote ${args.out} in ${seconds} s` : `sdgen: ${args.out} is up to date`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
