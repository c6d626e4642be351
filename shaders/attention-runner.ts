/**
 * Runs the attention kernels on a GPUDevice: ORT's own (`ort.env.webgpu.device` in the worker,
 * so Q output buffers are used where ORT left them) or any other. Queue order makes it safe to
 * dispose ORT's Q tensors right after {@link AttentionGpu.accumulate} returns.
 */
import { attentionProbsWgsl, PROBS_PARAMS_BYTES, PROBS_WORKGROUP, type QFormat } from './attention-probs.ts';
import { attentionAggregateWgsl, AGGREGATE_PARAMS_BYTES, AGGREGATE_WORKGROUP } from './attention-aggregate.ts';
import { cubicTaps } from '../src/lib/attention/bicubic.ts';

/** One layer's GPU state: Kᵀ [heads, headSize, tokens] and the running sum [heads, pixels, tokens]. */
export interface GpuAttentionLayer {
  heads: number;
  headSize: number;
  pixels: number;
  tokens: number;
  kT: GPUBuffer;
  sums: GPUBuffer;
  params: GPUBuffer;
}

/** A layer to aggregate: its GPU sums and its grid. */
export interface GpuAggregateLayer {
  layer: GpuAttentionLayer;
  height: number;
  width: number;
}

const bytes4 = (n: number) => Math.max(16, Math.ceil((n * 4) / 16) * 16);

export class AttentionGpu {
  private readonly probs = new Map<string, GPUComputePipeline>();
  private aggregatePipeline: GPUComputePipeline | null = null;
  private readonly owned: GPUBuffer[] = [];

  constructor(readonly device: GPUDevice) {}

  private probsPipeline(format: QFormat, tokens: number): GPUComputePipeline {
    const key = `${format}:${tokens}`;
    let p = this.probs.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: attentionProbsWgsl(format, tokens), label: `attention-probs ${key}` });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: `attention-probs ${key}` });
      this.probs.set(key, p);
    }
    return p;
  }

  private buffer(size: number, usage: number, label: string, data?: Float32Array | Uint32Array): GPUBuffer {
    const b = this.device.createBuffer({ size: bytes4(size / 4), usage, label });
    if (data) this.device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
    this.owned.push(b);
    return b;
  }

  /** Allocates a layer: uploads Kᵀ (see keysPerHeadTransposed) and a zeroed running sum. */
  createLayer(shape: { heads: number; headSize: number; pixels: number; tokens: number }, kT: Float32Array): GpuAttentionLayer {
    const { heads, headSize, pixels, tokens } = shape;
    if (kT.length !== heads * headSize * tokens) throw new Error(`Kᵀ has ${kT.length} values; expected [${heads}, ${headSize}, ${tokens}]`);
    const S = GPUBufferUsage.STORAGE;
    return {
      ...shape,
      kT: this.buffer(kT.byteLength, S | GPUBufferUsage.COPY_DST, 'attention kT', kT),
      sums: this.buffer(heads * pixels * tokens * 4, S | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'attention sums'),
      params: this.buffer(PROBS_PARAMS_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'attention params'),
    };
  }

  /**
   * Adds softmax(Q Kᵀ/√headSize) of every head into the layer's sums (submitted at once).
   * @param q buffer holding Q [batch, pixels, inner] in `format`
   * @param qOffset first element of the conditional branch (batchIndex · pixels · inner)
   */
  accumulate(layer: GpuAttentionLayer, q: GPUBuffer, qOffset: number, format: QFormat = 'f32'): void {
    const params = new ArrayBuffer(PROBS_PARAMS_BYTES);
    new Uint32Array(params, 0, 4).set([layer.pixels, layer.heads, layer.headSize, qOffset]);
    new Float32Array(params, 16, 1)[0] = 1 / Math.sqrt(layer.headSize);
    this.device.queue.writeBuffer(layer.params, 0, params);
    const pipeline = this.probsPipeline(format, layer.tokens);
    const bind = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [q, layer.kT, layer.sums, layer.params].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const enc = this.device.createCommandEncoder({ label: 'attention-probs' });
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(Math.ceil(layer.pixels / PROBS_WORKGROUP), layer.heads);
    pass.end();
    this.device.queue.submit([enc.finish()]);
  }

  /** Copies a layer's running sums back [heads, pixels, tokens]. */
  async readSums(layer: GpuAttentionLayer): Promise<Float32Array> {
    return this.read(layer.sums, layer.heads * layer.pixels * layer.tokens);
  }

  /** Reads `count` floats from a storage buffer. */
  async read(buffer: GPUBuffer, count: number): Promise<Float32Array> {
    const staging = this.device.createBuffer({ size: bytes4(count), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'attention readback' });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buffer, 0, staging, 0, bytes4(count));
    this.device.queue.submit([enc.finish()]);
    // Waiting for the queue first: Dawn in Node sometimes never settles a mapAsync issued
    // right after the submit that fills the buffer.
    await this.device.queue.onSubmittedWorkDone();
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0, count * 4));
    staging.unmap();
    staging.destroy();
    return out;
  }

  /**
   * DAAM maps on the GPU: for each layer, every (head ∈ heads, token) map upsampled bicubically
   * to [outH, outW], clamped at 0, averaged over all layers × heads. Heads must be < 32.
   * @returns maps [tokens.length, outH, outW] (same as aggregateTokenMaps(...).maps)
   */
  async aggregate(layers: GpuAggregateLayer[], tokens: number[], outH: number, outW: number, heads?: number[]): Promise<Float32Array> {
    if (!this.aggregatePipeline) {
      const module = this.device.createShaderModule({ code: attentionAggregateWgsl(layers[0]?.layer.tokens ?? 77), label: 'attention-aggregate' });
      this.aggregatePipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: 'attention-aggregate' });
    }
    const pipeline = this.aggregatePipeline;
    const S = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    const temp: GPUBuffer[] = [];
    const make = (data: Float32Array | Uint32Array, label: string) => {
      const b = this.device.createBuffer({ size: bytes4(data.length), usage: S, label });
      this.device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
      temp.push(b);
      return b;
    };
    const headsOf = (n: number) => (heads ?? Array.from({ length: n }, (_, h) => h)).filter((h) => h < n);
    const count = layers.reduce((a, l) => a + headsOf(l.layer.heads).length, 0);
    if (count === 0) throw new Error('nothing to aggregate: no layer/head selected');
    const maps = this.device.createBuffer({ size: bytes4(tokens.length * outH * outW), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, label: 'attention maps' });
    temp.push(maps);
    const tokenBuf = make(Uint32Array.from(tokens), 'attention tokens');
    const enc = this.device.createCommandEncoder({ label: 'attention-aggregate' });
    for (const { layer, height, width } of layers) {
      if (layer.heads > 32) throw new Error(`aggregate on the GPU supports ≤ 32 heads; this layer has ${layer.heads}`);
      if (height * width !== layer.pixels) throw new Error(`layer grid ${height}×${width} does not match its ${layer.pixels} pixels`);
      const rows = cubicTaps(height, outH);
      const cols = cubicTaps(width, outW);
      const mask = headsOf(layer.heads).reduce((m, h) => m | (1 << h), 0) >>> 0;
      const params = new ArrayBuffer(AGGREGATE_PARAMS_BYTES);
      new Uint32Array(params, 0, 7).set([height, width, outH, outW, layer.heads, tokens.length, mask]);
      new Float32Array(params, 28, 1)[0] = 1 / count;
      const paramBuf = this.device.createBuffer({ size: AGGREGATE_PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      this.device.queue.writeBuffer(paramBuf, 0, params);
      temp.push(paramBuf);
      const entries = [layer.sums, tokenBuf, make(new Uint32Array(rows.index), 'rows'), make(rows.weight, 'row w'), make(new Uint32Array(cols.index), 'cols'), make(cols.weight, 'col w'), maps, paramBuf];
      const bind = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: entries.map((buffer, binding) => ({ binding, resource: { buffer } })) });
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(Math.ceil(outW / AGGREGATE_WORKGROUP[0]), Math.ceil(outH / AGGREGATE_WORKGROUP[1]), tokens.length);
      pass.end();
    }
    this.device.queue.submit([enc.finish()]);
    const out = await this.read(maps, tokens.length * outH * outW);
    for (const b of temp) b.destroy();
    return out;
  }

  /** Bytes held by the layers' running sums and keys. */
  byteLength(): number {
    return this.owned.reduce((a, b) => a + b.size, 0);
  }

  /** Frees every buffer this runner created (not the device, not ORT's buffers). */
  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}
