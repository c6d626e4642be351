/**
 * Cost of attention-map capture per UNet step: `npx tsx bench/attention.ts [--latent 32] [--steps 5]`.
 *
 * The full-size SD 1.5-shaped UNet with random weights (sdgen, float16, 1.7 GB, generated in
 * memory, never written), ONE session with every attn2's Q appended as outputs
 * (workers/attention-capture.ts), batch 2 ([uncond, cond], as guidance runs). A plain step
 * fetches out_sample; a capture step also fetches the 15 Q tensors of the DAAM levels and
 * accumulates softmax(QKᵀ/√d) of the cond branch on the CPU (the WASM path's code). Engine:
 * onnxruntime-node (CPU), or `--engine web` for onnxruntime-web's WASM engine with the app's
 * session settings (graph optimisation 'basic': with 'all' it runs out of wasm memory). Default latent 32×32
 * (256 px): a 64×64 step takes minutes on a 2-core machine. Prints a table, writes
 * bench/results/attention.json. Goal: capture / plain ≤ 1.15.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { indexModel } from '../src/lib/onnx/index.ts';
import { AttentionCapture, readKeyWeights, unetWithQOutputs, type QTensor } from '../workers/attention-capture.ts';
import { generateUnet } from '../tools/sdgen/index.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const LATENT = Number(arg('latent', '32'));
const STEPS = Number(arg('steps', '5'));
const ENGINE = arg('engine', 'node');
const D = 768;
const TOKENS = 77;

function lcg(n: number, seed: number, scale = 1): Float32Array {
  let x = (seed * 2654435761 + 12345) >>> 0;
  return Float32Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x / 2 ** 31 - 1) * scale;
  });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const t0 = performance.now();
const { model } = generateUnet({ size: 'sd15', dtype: 'float16', seed: 1 });
console.log(`generated the sd15 float16 UNet: ${(model.length / 2 ** 30).toFixed(2)} GiB in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
const index = await indexModel(model);
const { appended, sites } = unetWithQOutputs(index);
const joined = new Uint8Array(model.length + appended.length);
joined.set(model);
joined.set(appended, model.length);

type Ort = typeof import('onnxruntime-node');
const ort = (ENGINE === 'node' ? await import('onnxruntime-node') : await import('onnxruntime-web')) as Ort;
if (ENGINE !== 'node') (ort.env as { wasm: { numThreads: number } }).wasm.numThreads = Math.min(2, cpus().length);
const t1 = performance.now();
// As the app: 'basic' on WASM ('all' makes fp32 copies of the fp16 weights: out of wasm memory).
const session = await ort.InferenceSession.create(joined, { graphOptimizationLevel: ENGINE === 'node' ? 'all' : 'basic' } as never);
console.log(`session (${ENGINE}) in ${((performance.now() - t1) / 1000).toFixed(0)} s`);

const context = lcg(2 * TOKENS * D, 3);
const keyWeights = await readKeyWeights(sites, { model });
const feeds = (step: number) => ({
  sample: new ort.Tensor('float32', lcg(2 * 4 * LATENT * LATENT, 10 + step), [2, 4, LATENT, LATENT]),
  timestep: new ort.Tensor('int64', BigInt64Array.from([BigInt(999 - 50 * step)]), [1]),
  encoder_hidden_states: new ort.Tensor('float32', context, [2, TOKENS, D]),
});

const t2 = performance.now();
const capture = new AttentionCapture({ sites, keyWeights, context: context.subarray(TOKENS * D), latentHeight: LATENT, latentWidth: LATENT });
const keysMs = performance.now() - t2;
const fetchesPlain = ['out_sample'];
const fetchesCapture = ['out_sample', ...capture.qOutputNames()];

// Warm-up of BOTH fetch sets: the first run with a new set of outputs pays one-time costs.
await session.run(feeds(0), fetchesPlain);
await session.run(feeds(0), fetchesCapture);
const plain: number[] = [];
const captured: number[] = [];
const accumulateMs: number[] = [];
const ratios: number[] = [];
for (let s = 0; s < STEPS; s++) {
  // Alternate, so that load from other processes hits both alike.
  let t = performance.now();
  await session.run(feeds(s), fetchesPlain);
  plain.push(performance.now() - t);
  t = performance.now();
  const out = await session.run(feeds(s), fetchesCapture);
  const ta = performance.now();
  await capture.accumulate(s, out as unknown as Record<string, QTensor>, 1);
  accumulateMs.push(performance.now() - ta);
  captured.push(performance.now() - t);
  ratios.push(captured[s] / plain[s]);
  console.log(`step ${s}: plain ${plain[s].toFixed(0)} ms, with capture ${captured[s].toFixed(0)} ms (accumulate ${accumulateMs[s].toFixed(0)} ms)`);
}

// Each capture step is timed right after its plain twin; the median of those pair ratios is
// robust to load from other processes that hits one pair (this machine is shared).
const ratio = median(ratios);
const sumsBytes = capture.byteLength();
const rows = [
  { measure: 'UNet step, plain (median)', value: median(plain).toFixed(0), unit: 'ms' },
  { measure: 'UNet step + Q fetch + accumulate (median)', value: median(captured).toFixed(0), unit: 'ms' },
  { measure: '  of which accumulate (median)', value: median(accumulateMs).toFixed(0), unit: 'ms' },
  { measure: 'capture / plain, median of pair ratios (goal ≤ 1.15)', value: ratio.toFixed(3), unit: '×' },
  { measure: '  fastest capture / fastest plain (robust to load)', value: (Math.min(...captured) / Math.min(...plain)).toFixed(3), unit: '×' },
  { measure: '  pair ratios, min – max', value: `${Math.min(...ratios).toFixed(3)} – ${Math.max(...ratios).toFixed(3)}`, unit: '×' },
  { measure: 'K = context·W_k for 15 layers (once per image)', value: keysMs.toFixed(0), unit: 'ms' },
  { measure: `running sums held (${LATENT}×${LATENT} latent, 15 layers)`, value: (sumsBytes / 2 ** 20).toFixed(1), unit: 'MiB' },
  { measure: 'running sums at 64×64 (SD 1.5, 512 px), computed', value: (sumsAt(64) / 2 ** 20).toFixed(1), unit: 'MiB' },
];
console.table(rows);

/** Bytes of running sums for a latent of `n`: Σ over captured sites heads · (n/2^level)² · 77 · 4. */
function sumsAt(n: number): number {
  return sites.filter((s) => s.level! < 3).reduce((a, s) => a + s.heads * Math.ceil(n / 2 ** s.level!) ** 2 * TOKENS * 4, 0);
}

mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/attention.json', JSON.stringify({
  date: new Date().toISOString(), engine: ENGINE === 'node' ? 'onnxruntime-node (CPU)' : 'onnxruntime-web (WASM) in Node',
  model: 'sdgen sd15 float16 UNet (random weights)', latent: LATENT, batch: 2, steps: STEPS,
  cpus: cpus().length, loadavg: loadavg(), plainMs: plain, captureMs: captured, accumulateMs, pairRatios: ratios, minRatio: Math.min(...captured) / Math.min(...plain), keysMs, ratio, goal: 1.15,
  sumsBytes, sumsBytesAt64: sumsAt(64), rows,
}, null, 2) + '\n');
console.log('wrote bench/results/attention.json');
