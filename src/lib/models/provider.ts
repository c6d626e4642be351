import type { Capabilities } from './capabilities.ts';

/** onnxruntime-web execution providers the app uses. */
export type Provider = 'webgpu' | 'wasm';

/** What a model asks of the engine that runs it. */
export interface ModelRequirements {
  /** fp16 compute: on WebGPU this needs the adapter feature `shader-f16`. */
  float16: boolean;
}

export interface ProviderChoice {
  provider: Provider;
  /** WASM threads to use (1 unless cross-origin isolated). */
  threads: number;
  /** One sentence a user can read: why this engine. */
  reason: string;
}

/** Raised when no engine in this browser can run the model; the message says what to do. */
export class UnsupportedModelError extends Error {
  override name = 'UnsupportedModelError';
}

/**
 * WASM threads onnxruntime-web may use here: half the logical cores (they are usually hyper-threads)
 * but at least 2 where there are 2, at most 4; 1 without cross-origin isolation. On a 2-core
 * machine 2 threads ran the UNet 1.8× faster than 1 (bench/diffusion.ts).
 */
export function wasmThreads(caps: Pick<Capabilities, 'crossOriginIsolated' | 'cores'>): number {
  if (!caps.crossOriginIsolated || caps.cores < 2) return 1;
  return Math.min(4, Math.max(2, Math.floor(caps.cores / 2)));
}

/**
 * Choose the execution provider for a model: WebGPU when the adapter has what the model needs,
 * otherwise WASM (multi-threaded when cross-origin isolated). `preference` forces one engine;
 * forcing one that cannot run the model throws an UnsupportedModelError that says why.
 */
export function chooseProvider(
  caps: Capabilities,
  needs: ModelRequirements,
  preference: Provider | 'auto' = 'auto',
): ProviderChoice {
  const threads = wasmThreads(caps);
  const wasm = (why: string): ProviderChoice => ({
    provider: 'wasm',
    threads,
    reason: `${why} Running on WASM with ${threads} thread${threads === 1 ? '' : 's'}${
      caps.crossOriginIsolated ? '' : ' (the page is not cross-origin isolated, so WASM cannot use more)'
    }.`,
  });
  const gpu = caps.gpu;
  const gpuProblem = !gpu.adapter
    ? gpu.problem ?? 'No WebGPU adapter.'
    : needs.float16 && !gpu.shaderF16
      ? `The GPU adapter (${gpu.description || gpu.vendor || 'unknown'}) lacks shader-f16, which this fp16 model needs on WebGPU.`
      : null;

  if (preference === 'wasm') return wasm('You chose WASM.');
  if (preference === 'webgpu') {
    if (gpuProblem) throw new UnsupportedModelError(`WebGPU cannot run this model here: ${gpuProblem} Choose WASM or Auto.`);
    return { provider: 'webgpu', threads, reason: `You chose WebGPU (${gpu.description || gpu.vendor}).` };
  }
  if (gpuProblem) return wasm(gpuProblem);
  if (gpu.isFallbackAdapter) {
    // A software adapter (SwiftShader: about 1 GFLOP/s) is tens of times slower than WASM.
    return wasm(`The only WebGPU adapter is a software fallback (${gpu.architecture || gpu.vendor}), slower than WASM.`);
  }
  return {
    provider: 'webgpu',
    threads,
    reason: `WebGPU adapter ${gpu.description || gpu.vendor || ''}${gpu.isFallbackAdapter ? ' (software fallback, slow)' : ''} has what the model needs.`,
  };
}

/**
 * The engine after WebGPU failed a correctness check (`problem` says which, e.g. the
 * MultiHeadAttention probe): Auto moves to WASM and says why; a user who forced WebGPU keeps it,
 * warned that the images will be wrong.
 */
export function afterFailedGpuCheck(choice: ProviderChoice, preference: Provider | 'auto', problem: string): ProviderChoice {
  if (choice.provider !== 'webgpu') return choice;
  if (preference === 'webgpu') {
    return { ...choice, reason: `${choice.reason} Warning: ${problem}, so images will differ from what this model draws elsewhere. Choose Auto or WASM for correct images.` };
  }
  const t = choice.threads;
  return { provider: 'wasm', threads: t, reason: `${problem}. Running on WASM with ${t} thread${t === 1 ? '' : 's'} instead.` };
}
