/**
 * onnxruntime-web as the worker uses it: one build per engine (the native WebGPU build, which
 * also runs WASM kernels for unsupported ops, or the smaller plain WASM build), sessions created
 * from bytes, and feeds built from each session's own input metadata.
 */
import type * as OrtModule from 'onnxruntime-web';
import type { Provider } from '../src/lib/models/provider.ts';
import { castFloats, resolveShape, requireInput, toFloat32, type TensorMeta } from '../src/lib/models/io.ts';

export type Ort = typeof OrtModule;
export type Session = OrtModule.InferenceSession;

const builds: Partial<Record<Provider, Promise<Ort>>> = {};

/** Load the onnxruntime-web build for an engine once, and set its thread count. */
export async function loadOrt(provider: Provider, threads: number): Promise<Ort> {
  builds[provider] ??= (provider === 'webgpu'
    ? import('onnxruntime-web/webgpu')
    : import('onnxruntime-web/wasm')) as Promise<Ort>;
  const ort = await builds[provider]!;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false; // we are already in a worker
  return ort;
}

export interface SessionSource {
  /** The .onnx file. */
  model: Uint8Array;
  /** External data files, keyed by the `location` the model stores (e.g. 'weights.pb'). */
  externalData?: Record<string, Uint8Array>;
}

/**
 * Create a session on one engine; errors name the model and the engine. `gpuOutputs` (WebGPU
 * only; names or 'all') stay on the GPU as gpu-buffer tensors instead of being copied back
 * (attention's Q; the text encoder's output).
 */
export async function createSession(ort: Ort, name: string, source: SessionSource, provider: Provider, gpuOutputs: string[] | 'all' = []): Promise<Session> {
  const onGpu = provider === 'webgpu' && gpuOutputs.length > 0;
  try {
    return await ort.InferenceSession.create(source.model, {
      executionProviders: [provider],
      ...(onGpu
        ? { preferredOutputLocation: gpuOutputs === 'all' ? 'gpu-buffer' : Object.fromEntries(gpuOutputs.map((n) => [n, 'gpu-buffer' as const])) }
        : {}),
      // On WASM, 'all' fuses fp16 weights into fp32 copies: 5.6 GB instead of 3.5 GB for the SD 1.5
      // UNet, past wasm32's 4 GB at 512² (bench/diffusion.ts). 'basic' costs about 9% per step.
      graphOptimizationLevel: provider === 'wasm' ? 'basic' : 'all',
      externalData: source.externalData
        ? Object.entries(source.externalData).map(([path, data]) => ({ path, data }))
        : undefined,
    });
  } catch (e) {
    throw new Error(`Could not create the ${name} session on ${provider}: ${(e as Error).message}`);
  }
}

/** The session's inputs as plain metadata (name, type, static/symbolic shape). */
export function inputMeta(session: Session): TensorMeta[] {
  return session.inputMetadata.map((m) =>
    m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

/**
 * A feed for input `name` of `session` from float32 values: dtype and shape follow the model's
 * metadata (e.g. a timestep becomes int64 [1] or float32 [B]).
 */
export function feed(ort: Ort, session: Session, model: string, name: string, values: Float32Array, dims: number[]) {
  const meta = requireInput(inputMeta(session), name, model);
  const shape = resolveShape(meta, dims, model);
  const data = castFloats(values, meta.type);
  return new ort.Tensor(meta.type as 'float32', data as Float32Array, shape);
}

/** Read an output tensor as float32 (fp16 outputs converted). */
export async function readFloat32(tensor: OrtModule.Tensor): Promise<Float32Array> {
  const data = (await tensor.getData()) as Float32Array | Uint16Array;
  return toFloat32(data, tensor.type);
}
