/**
 * Creating the sd15 UNet session on either engine and running one bare step: the reference the
 * app is compared with. Bare = inputs built once, `session.run`, the output read, nothing else.
 */
import type * as OrtWeb from 'onnxruntime-web';
import { createSession, type Ort, type SessionSource } from '../../workers/ort-runtime.ts';
import type { BareSettings, Engine, SessionSettings } from './unet-job.ts';
import type { StepInputs } from './unet-sources.ts';
import type { Sd15Files } from './sd15.ts';

/** Either engine's module and session; both follow onnxruntime-common's API. */
type AnyOrt = Ort | typeof import('onnxruntime-node');
type AnySession = OrtWeb.InferenceSession;

/**
 * onnxruntime-web as the worker configures it (loadOrt: threads, no proxy). The bench imports the
 * package's Node build: loadOrt's browser bundle fetches its .wasm and worker script by URL,
 * which Node's fetch cannot do. Both builds run the same ort-wasm-simd-threaded.wasm.
 */
export async function loadWebOrt(threads: number): Promise<Ort> {
  const ort = (await import('onnxruntime-web')) as unknown as Ort;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  return ort;
}

export async function loadNodeOrt(): Promise<AnyOrt> {
  return (await import('onnxruntime-node')) as unknown as AnyOrt;
}

/** Create the UNet session; 'app' settings go through the worker's createSession. */
export async function createUnetSession(engine: Engine, ort: AnyOrt, threads: number, source: SessionSource | null, files: Sd15Files, settings: SessionSettings): Promise<AnySession> {
  if (engine === 'web') {
    if (!source) throw new Error('the web engine needs the model bytes');
    if (settings === 'app') return createSession(ort as Ort, 'UNet', source, 'wasm');
    return (ort as Ort).InferenceSession.create(source.model, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: settings.graphOptimizationLevel,
      enableCpuMemArena: settings.enableCpuMemArena ?? false,
      enableMemPattern: settings.enableMemPattern ?? false,
      externalData: source.externalData ? Object.entries(source.externalData).map(([path, data]) => ({ path, data })) : undefined,
    });
  }
  // Native: from the file path (external data is found beside it), same thread count, arena on (its default).
  const bare: BareSettings = settings === 'app' ? { graphOptimizationLevel: 'all' } : settings;
  const session = await (ort as typeof import('onnxruntime-node')).InferenceSession.create(files.unet, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: bare.graphOptimizationLevel,
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  return session as unknown as AnySession;
}

/** A bare step: feeds built once, then each call runs the UNet and reads the output. */
export function bareStep(ort: AnyOrt, session: AnySession, x: StepInputs, preallocateOutput = false): () => Promise<number> {
  const T = ort.Tensor as typeof OrtWeb.Tensor;
  const { batch: B, latent: L, d } = x;
  const tMeta = session.inputMetadata?.find((m) => m.name === 'timestep');
  const tType = tMeta && tMeta.isTensor ? tMeta.type : 'int64';
  const tLen = tMeta && tMeta.isTensor && tMeta.shape[0] === 1 ? 1 : B;
  const timestep = tType === 'int64'
    ? new T('int64', new BigInt64Array(tLen).fill(BigInt(x.timestep)), [tLen])
    : new T('float32', new Float32Array(tLen).fill(x.timestep), [tLen]);
  const feeds = {
    sample: new T('float32', x.sample, [B, 4, L, L]),
    timestep,
    encoder_hidden_states: new T('float32', x.context, [B, 77, d]),
  };
  const fetches = preallocateOutput ? { out_sample: new T('float32', new Float32Array(B * 4 * L * L), [B, 4, L, L]) } : undefined;
  return async () => {
    const out = fetches ? await session.run(feeds, fetches) : await session.run(feeds);
    const y = out['out_sample']!;
    const data = y.data as Float32Array; // already on the CPU: touching it is the read
    const first = data[0]!;
    if (!fetches) y.dispose?.();
    return first;
  };
}
