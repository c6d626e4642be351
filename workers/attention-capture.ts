/**
 * Attention-map capture for the generation loop (issue 7), without a second UNet pass:
 *
 * 1. at load: `unetWithQOutputs(model, index)` gives bytes to APPEND to the UNet file so that
 *    every attn2's Q (the to_q MatMul output, any export style) is also a graph output; the
 *    worker creates ONE session from `new Blob([model, appended])` and fetches Q only when
 *    capturing (`session.run(feeds, fetches)`);
 * 2. per image: `new AttentionCapture({...})` with the conditional context actually fed (the
 *    edited one when an edit is active: K = (context·Mᵀ)·W_k);
 * 3. per step: `accumulate(step, outputs, batchIndex)` adds softmax(QKᵀ/√d) of the conditional
 *    branch into running sums: WGSL on ORT's GPUDevice when Q arrives as gpu-buffer tensors,
 *    TypeScript on the WASM path; Q tensors are disposed here;
 * 4. `result()` (running sums, CPU) or `tokenMaps(options)` (DAAM maps; aggregated on the GPU
 *    when capturing there).
 */
import { appendGraphOutputs, findCrossAttentionSites, halfBytesToFloat32, readSiteProjection, type CrossAttentionSite, type ModelIndex, type ModelSources } from '../src/lib/onnx/index.ts';
import {
  AttentionAccumulator, DAAM_LEVELS, aggregateTokenMaps, keysPerHeadTransposed, levelSize,
  type AggregateOptions, type AttentionMaps, type TokenMaps,
} from '../src/lib/attention/index.ts';
import { toFloat32 } from '../src/lib/models/io.ts';
import { AttentionGpu, type GpuAttentionLayer } from '../shaders/attention-runner.ts';

/** The part of an onnxruntime-web Tensor the capture reads (CPU data or a gpu-buffer). */
export interface QTensor {
  type: string;
  dims: readonly number[];
  location?: string;
  gpuBuffer?: GPUBuffer;
  data?: unknown;
  getData?(): Promise<unknown>;
  dispose?(): void;
}

/**
 * Bytes to append to the UNet file so each cross-attention site's Q is a graph output.
 * @returns appended bytes, the Q output names (fetch them with out_sample when capturing), the sites
 */
export function unetWithQOutputs(index: ModelIndex): { appended: Uint8Array; names: string[]; sites: CrossAttentionSite[] } {
  const sites = findCrossAttentionSites(index);
  const names = sites.map((s) => s.qTensor);
  return { appended: appendGraphOutputs(index, names).bytes, names, sites };
}

/** Every site's W_k [contextDim, inner] (packed KV de-interleaved), read once per model. */
export async function readKeyWeights(sites: CrossAttentionSite[], sources: ModelSources): Promise<Map<string, Float32Array>> {
  const wk = new Map<string, Float32Array>();
  for (const s of sites) wk.set(s.name, (await readSiteProjection(s, 'k', sources)).data);
  return wk;
}

export interface CaptureSetup {
  sites: CrossAttentionSite[];
  /** From {@link readKeyWeights}. */
  keyWeights: Map<string, Float32Array>;
  /** The conditional context fed to the UNet [77, d] (edited when an edit is active). */
  context: Float32Array;
  latentHeight: number;
  latentWidth: number;
  /** ORT's device (`ort.env.webgpu.device`) on the WebGPU path; absent on WASM. */
  device?: GPUDevice;
  /** Levels to capture (default DAAM's [0, 1, 2]: the mid block is never shown). */
  levels?: number[];
  /** Step indices to sum (default all). */
  steps?: number[];
}

const TOKENS = 77;

/** Rows of batch entry `b` of Q [batch, HW, inner] as float32 (a view when already float32). */
function condRows(data: Float32Array | Uint16Array, type: string, dims: readonly number[], b: number, name: string): Float32Array {
  const batch = dims[0] ?? 1;
  if (b >= batch || data.length % batch !== 0) throw new Error(`Q '${name}' is [${dims.join(', ')}]; it has no batch entry ${b}`);
  const per = data.length / batch;
  const rows = data.subarray(b * per, (b + 1) * per);
  if (type === 'float16' && rows instanceof Uint16Array) return halfBytesToFloat32(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
  return rows instanceof Float32Array ? rows : toFloat32(rows, type);
}

export class AttentionCapture {
  /** The WASM path (null on the GPU path). */
  private readonly cpu: AttentionAccumulator | null = null;
  private readonly gpu: AttentionGpu | null = null;
  private readonly gpuLayers = new Map<string, { layer: GpuAttentionLayer; site: CrossAttentionSite; height: number; width: number }>();
  private readonly gpuSteps: number[] = [];
  private readonly stepFilter: Set<number> | null;

  constructor(private readonly setup: CaptureSetup) {
    const levels = setup.levels ?? [...DAAM_LEVELS];
    const sites = setup.sites.filter((s) => s.level !== null && levels.includes(s.level));
    if (sites.length === 0) throw new Error(`no cross-attention site at levels [${levels.join(', ')}] (sites: ${setup.sites.map((s) => `${s.name} level ${s.level}`).join(', ')})`);
    this.stepFilter = setup.steps ? new Set(setup.steps) : null;
    // K = context · W_k once per image, on the CPU (77 rows; ~1 s for SD 1.x in JS).
    const keys = AttentionAccumulator.keysFor(sites, setup.context, TOKENS, setup.keyWeights);
    if (!setup.device) {
      this.cpu = new AttentionAccumulator(sites, keys, setup.latentHeight, setup.latentWidth, TOKENS, { levels, steps: setup.steps });
      return;
    }
    this.gpu = new AttentionGpu(setup.device);
    for (const s of sites) {
      const [height, width] = [levelSize(setup.latentHeight, s.level!), levelSize(setup.latentWidth, s.level!)];
      const shape = { heads: s.heads, headSize: s.headSize, pixels: height * width, tokens: TOKENS };
      this.gpuLayers.set(s.qTensor, { layer: this.gpu.createLayer(shape, keysPerHeadTransposed(keys.get(s.name)!, shape)), site: s, height, width });
    }
  }

  /** The extra fetches for session.run when capturing this step (Q of each captured site). */
  qOutputNames(): string[] {
    return this.cpu ? this.cpu.qTensorNames() : [...this.gpuLayers.keys()];
  }

  /** Whether step `step` is captured (fetch Q only then). */
  wants(step: number): boolean {
    return this.stepFilter === null || this.stepFilter.has(step);
  }

  /**
   * Adds one step. `outputs` is session.run's result (Q tensors by name); `batchIndex` is the
   * conditional branch (1 when the batch is [uncond, cond], 0 for a separate cond run).
   * Disposes the Q tensors.
   */
  async accumulate(step: number, outputs: Record<string, QTensor>, batchIndex: number): Promise<void> {
    if (!this.wants(step)) return;
    try {
      if (this.gpu) {
        for (const [name, { layer, site }] of this.gpuLayers) {
          const t = outputs[name];
          if (!t?.gpuBuffer) throw new Error(`Q '${name}' (${site.name}) is not a gpu-buffer tensor; create the session with preferredOutputLocation 'gpu-buffer' for the Q outputs`);
          const per = layer.pixels * layer.heads * layer.headSize;
          if (t.dims.reduce((a, b) => a * b, 1) < (batchIndex + 1) * per) throw new Error(`Q of ${site.name} is [${t.dims.join(', ')}]; expected [batch, ${layer.pixels}, ${layer.heads * layer.headSize}] with the cond branch at ${batchIndex}`);
          this.gpu.accumulate(layer, t.gpuBuffer, batchIndex * per, t.type === 'float16' ? 'f16' : 'f32');
        }
        this.gpuSteps.push(step);
      } else if (this.cpu) {
        // Only the conditional rows, converted once (fp16 through a lookup table).
        const q: Record<string, Float32Array> = {};
        for (const name of this.cpu.qTensorNames()) {
          const t = outputs[name];
          if (!t) throw new Error(`Q '${name}' was not fetched; pass qOutputNames() as fetches`);
          q[name] = condRows((t.data ?? (await t.getData!())) as Float32Array | Uint16Array, t.type, t.dims, batchIndex, name);
        }
        this.cpu.accumulate(step, q, 0);
      }
    } finally {
      for (const name of this.qOutputNames()) outputs[name]?.dispose?.();
    }
  }

  /** The running sums (read back from the GPU when capturing there). */
  async result(): Promise<AttentionMaps> {
    if (this.cpu) return this.cpu.result();
    const layers = [];
    for (const { layer, site, height, width } of this.gpuLayers.values()) {
      layers.push({ name: site.name, level: site.level!, heads: site.heads, height, width, sums: await this.gpu!.readSums(layer) });
    }
    return { latentHeight: this.setup.latentHeight, latentWidth: this.setup.latentWidth, tokens: TOKENS, steps: [...this.gpuSteps], layers };
  }

  /** DAAM per-token maps (see aggregateTokenMaps); computed by the aggregate kernel on the GPU path. */
  async tokenMaps(options: AggregateOptions = {}): Promise<TokenMaps> {
    if (this.cpu) return aggregateTokenMaps(this.cpu.result(), options);
    const levels = options.levels ?? DAAM_LEVELS;
    const kept = [...this.gpuLayers.values()].filter((l) => levels.includes(l.site.level!) && (!options.layers || options.layers.includes(l.site.name)));
    if (kept.length === 0) throw new Error(`no captured layer matches levels [${levels.join(', ')}]`);
    const tokens = options.tokens ? [...options.tokens] : Array.from({ length: TOKENS }, (_, t) => t);
    const height = options.height ?? this.setup.latentHeight;
    const width = options.width ?? this.setup.latentWidth;
    const heads = options.heads ? [...options.heads] : undefined;
    const maps = await this.gpu!.aggregate(kept, tokens, height, width, heads);
    const averaged = kept.reduce((a, l) => a + (heads ? heads.filter((h) => h < l.layer.heads).length : l.layer.heads), 0);
    return { height, width, tokens, maps, averaged, steps: this.gpuSteps.length };
  }

  /** Bytes of running sums (and keys, on the GPU) this capture holds. */
  byteLength(): number {
    return this.cpu ? this.cpu.byteLength() : this.gpu!.byteLength();
  }

  /** Frees the GPU buffers (call when the maps have been read). */
  dispose(): void {
    this.gpu?.destroy();
  }
}
