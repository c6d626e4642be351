/**
 * The UNet's encoder_hidden_states for one image, built ONCE and fed at every denoising step:
 * the text encoder's output for the prompt (and the negative prompt), times Mᵀ when an edit is
 * active, as [uncond; cond] when the guidance branches are batched.
 *
 * WASM: the text encoder's output is read back, the map applied in TypeScript, one CPU tensor
 * made. WebGPU: the text encoder leaves its output on the GPU, the context-map kernel writes
 * x·Mᵀ straight into the UNet's input buffer in the UNet's dtype, and that buffer is fed as a
 * gpu-buffer tensor at every step, so the context is never read back nor uploaded again.
 */
import type * as OrtModule from 'onnxruntime-web';
import type { Ort, Session } from './ort-runtime.ts';
import { feed, inputMeta, readFloat32 } from './ort-runtime.ts';
import type { ClipPromptTokenizer } from '../src/lib/models/tokenizer.ts';
import { toFloat32 } from '../src/lib/models/io.ts';
import { applyContextMap, identityMap, type ContextMap } from '../src/lib/erasure/index.ts';
import type { ContextMapGpu } from '../shaders/context-map-runner.ts';

type Tensor = OrtModule.Tensor;

const TOKENS = 77;

export interface ContextSessions {
  ort: Ort;
  tokenizer: ClipPromptTokenizer;
  textEncoder: Session;
  unet: Session;
  /** d. */
  contextWidth: number;
  /** Present on WebGPU: the context stays on ORT's device. */
  contextMapGpu?: ContextMapGpu | null;
}

/** The context tensors of one image (dispose when the image is done). */
export interface UnetContext {
  /** [2, 77, d] = [uncond; cond] when batched. */
  both: Tensor | null;
  /** [1, 77, d] each when the branches run separately (uncond null without guidance). */
  cond: Tensor | null;
  uncond: Tensor | null;
  /** Where the tensors live. */
  location: 'cpu' | 'gpu-buffer';
  /** The conditional context as fed, [77, d] float32 (attention capture's K). */
  condValues(): Promise<Float32Array>;
  dispose(): void;
}

function textEncoderFeeds(p: ContextSessions, text: string) {
  const { ids } = p.tokenizer.encodePrompt(text);
  return { input_ids: feed(p.ort, p.textEncoder, 'text encoder', 'input_ids', Float32Array.from(ids), [1, ids.length]) };
}

/** The text encoder's last_hidden_state tensor (where the session leaves it); the caller disposes. */
async function encode(p: ContextSessions, text: string): Promise<{ hidden: Tensor; others: Tensor[] }> {
  const out = await p.textEncoder.run(textEncoderFeeds(p, text));
  const name = 'last_hidden_state' in out ? 'last_hidden_state' : p.textEncoder.outputNames[0]!;
  return { hidden: out[name]!, others: Object.entries(out).filter(([n]) => n !== name).map(([, t]) => t) };
}

/** Text encoder output for one prompt as float32 [1, 77, d] (read back from the GPU if there). */
export async function encodeText(p: ContextSessions, text: string): Promise<Float32Array> {
  const { hidden, others } = await encode(p, text);
  try {
    return await readFloat32(hidden);
  } finally {
    hidden.dispose();
    for (const t of others) t.dispose();
  }
}

/**
 * Builds the context for `prompt` and, when `negativePrompt` is not null, the guidance branch.
 * @param map the active edit (null: the original model)
 * @param batched one [2, 77, d] tensor instead of two [1, 77, d]
 */
export async function buildUnetContext(p: ContextSessions, prompt: string, negativePrompt: string | null, map: ContextMap | null, batched: boolean): Promise<UnetContext> {
  if (batched && negativePrompt === null) throw new Error('a batched context needs the negative prompt');
  return p.contextMapGpu ? onGpu(p, p.contextMapGpu, prompt, negativePrompt, map, batched) : onCpu(p, prompt, negativePrompt, map, batched);
}

async function onCpu(p: ContextSessions, prompt: string, negativePrompt: string | null, map: ContextMap | null, batched: boolean): Promise<UnetContext> {
  const d = p.contextWidth;
  const mapped = async (text: string) => {
    const x = await encodeText(p, text);
    return map ? applyContextMap(map, x, [1, TOKENS, d]) : x;
  };
  const cond = await mapped(prompt);
  const uncond = negativePrompt === null ? null : await mapped(negativePrompt);
  const tensor = (values: Float32Array, batch: number) => feed(p.ort, p.unet, 'UNet', 'encoder_hidden_states', values, [batch, TOKENS, d]);
  let both: Tensor | null = null;
  if (batched) {
    const joined = new Float32Array(2 * TOKENS * d);
    joined.set(uncond!);
    joined.set(cond, TOKENS * d);
    both = tensor(joined, 2);
  }
  return {
    both,
    cond: batched ? null : tensor(cond, 1),
    uncond: batched || !uncond ? null : tensor(uncond, 1),
    location: 'cpu',
    condValues: async () => cond,
    dispose: () => {},
  };
}

async function onGpu(p: ContextSessions, mapper: ContextMapGpu, prompt: string, negativePrompt: string | null, map: ContextMap | null, batched: boolean): Promise<UnetContext> {
  const d = p.contextWidth;
  const dataType = inputMeta(p.unet).find((m) => m.name === 'encoder_hidden_states')?.type === 'float16' ? 'float16' : 'float32';
  const outFormat = dataType === 'float16' ? 'f16' : 'f32';
  const bytesPerRow = d * (dataType === 'float16' ? 2 : 4);
  const buffers: GPUBuffer[] = [];
  const allocate = (batch: number) => {
    const b = mapper.device.createBuffer({
      size: batch * TOKENS * bytesPerRow,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label: `UNet context [${batch}, 77, ${d}]`,
    });
    buffers.push(b);
    return b;
  };
  mapper.setMap(map ?? identityMap(d));
  /** Encodes `text` and writes x·Mᵀ into `out` from row `row`. */
  const write = async (text: string, out: GPUBuffer, row: number) => {
    const { hidden, others } = await encode(p, text);
    try {
      if (!hidden.gpuBuffer) throw new Error(`the text encoder's output is on the ${hidden.location}, not the GPU: create its session with preferredOutputLocation 'gpu-buffer'`);
      const xFormat = hidden.type === 'float16' ? 'f16' : 'f32';
      mapper.apply({ x: hidden.gpuBuffer as GPUBuffer, xFormat, rows: TOKENS, out, outFormat, outOffset: row * d });
    } finally {
      // Safe right after the submit: ORT reuses the buffer only in work queued after ours.
      hidden.dispose();
      for (const t of others) t.dispose();
    }
  };
  const tensor = (buffer: GPUBuffer, batch: number) => p.ort.Tensor.fromGpuBuffer(buffer, { dataType, dims: [batch, TOKENS, d] });
  let both: Tensor | null = null, cond: Tensor | null = null, uncond: Tensor | null = null;
  let condBuffer: GPUBuffer, condRow: number;
  if (batched) {
    const buffer = allocate(2);
    await write(negativePrompt!, buffer, 0);
    await write(prompt, buffer, TOKENS);
    both = tensor(buffer, 2);
    [condBuffer, condRow] = [buffer, TOKENS];
  } else {
    condBuffer = allocate(1);
    condRow = 0;
    await write(prompt, condBuffer, 0);
    cond = tensor(condBuffer, 1);
    if (negativePrompt !== null) {
      const buffer = allocate(1);
      await write(negativePrompt, buffer, 0);
      uncond = tensor(buffer, 1);
    }
  }
  return {
    both, cond, uncond,
    location: 'gpu-buffer',
    condValues: async () => {
      const bytes = await mapper.readBytes(condBuffer, condRow * bytesPerRow, TOKENS * bytesPerRow);
      return toFloat32(dataType === 'float16' ? new Uint16Array(bytes.buffer) : new Float32Array(bytes.buffer), dataType);
    },
    dispose: () => {
      for (const b of buffers) b.destroy();
    },
  };
}
