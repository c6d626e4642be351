/**
 * Applies a context map on a GPUDevice (ORT's own in the worker): the text encoder's output
 * buffer in, the UNet's encoder_hidden_states buffer out, nothing read back. See
 * shaders/context-map.ts for the kernels and the TypeScript reference.
 */
import {
  CONTEXT_MAP_PARAMS_BYTES, CONTEXT_MAP_WORKGROUP, combineWgsl, projectWgsl, type TensorFormat,
} from './context-map.ts';

/**
 * A context map as plain factors (structurally a src/lib/erasure ContextMap): identity, dense
 * M [d, d] row-major, or low rank M = I + U·Vᵀ with `ut`, `vt` [rank, d] row-major.
 */
export type GpuMapFactors =
  | { kind: 'identity'; d: number }
  | { kind: 'dense'; d: number; matrix: ArrayLike<number> }
  | { kind: 'lowrank'; d: number; rank: number; ut: ArrayLike<number>; vt: ArrayLike<number> };

/** Where a map reads and writes: a [rows, d] tensor in, rows written from element `outOffset`. */
export interface ContextMapTarget {
  x: GPUBuffer;
  xFormat: TensorFormat;
  rows: number;
  out: GPUBuffer;
  outFormat: TensorFormat;
  /** First element written in `out` (row offset · d; even). */
  outOffset: number;
}

const padded = (bytes: number) => Math.max(16, Math.ceil(bytes / 16) * 16);

export class ContextMapGpu {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private factors: { kind: GpuMapFactors['kind']; d: number; k: number; b: GPUBuffer | null; f: GPUBuffer | null } | null = null;
  private readonly empty: GPUBuffer;
  private readonly scratch: GPUBuffer[] = [];

  constructor(readonly device: GPUDevice) {
    this.empty = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label: 'context map: no factors' });
  }

  private pipeline(key: string, code: () => string): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: code(), label: `context-map ${key}` });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: `context-map ${key}` });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private upload(values: ArrayLike<number>, label: string): GPUBuffer {
    const data = Float32Array.from(values);
    const b = this.device.createBuffer({ size: padded(data.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label });
    this.device.queue.writeBuffer(b, 0, data);
    return b;
  }

  private uniform(values: number[]): GPUBuffer {
    const b = this.device.createBuffer({ size: CONTEXT_MAP_PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'context map params' });
    this.device.queue.writeBuffer(b, 0, Uint32Array.from(values));
    this.scratch.push(b);
    return b;
  }

  /** Uploads a map's factors (float32) once; later {@link apply} calls use them. */
  setMap(map: GpuMapFactors): void {
    this.dropFactors();
    const { d } = map;
    if (d % 2 !== 0) throw new Error(`context width ${d} is odd; the GPU context map writes column pairs`);
    if (map.kind === 'identity') this.factors = { kind: 'identity', d, k: 0, b: null, f: null };
    else if (map.kind === 'dense') {
      if (map.matrix.length !== d * d) throw new Error(`dense map has ${map.matrix.length} values; expected ${d}×${d}`);
      this.factors = { kind: 'dense', d, k: d, b: this.upload(map.matrix, 'context map M'), f: null };
    } else {
      if (map.ut.length !== map.rank * d || map.vt.length !== map.rank * d) throw new Error(`low-rank map factors must be [${map.rank}, ${d}]`);
      this.factors = { kind: 'lowrank', d, k: map.rank, b: this.upload(map.vt, 'context map Vᵀ'), f: this.upload(map.ut, 'context map Uᵀ') };
    }
  }

  /**
   * Encodes y = x·Mᵀ for every row into `target.out` and submits it. Queue order makes the
   * result visible to anything submitted later on the same device (ORT's UNet run).
   */
  apply(target: ContextMapTarget): void {
    const m = this.factors;
    if (!m) throw new Error('no context map set: call setMap first');
    const { x, xFormat, rows, out, outFormat, outOffset } = target;
    if (outOffset % 2 !== 0) throw new Error(`outOffset ${outOffset} must be even (column pairs)`);
    const encoder = this.device.createCommandEncoder({ label: 'context map' });
    const pass = encoder.beginComputePass();
    let base = x;
    let baseFormat = xFormat;
    let c = this.empty;
    if (m.kind !== 'identity') {
      // project: c = x·Bᵀ, [rows, k] (B = Vᵀ for low rank, M for dense).
      c = this.device.createBuffer({ size: padded(rows * m.k * 4), usage: GPUBufferUsage.STORAGE, label: 'context map c' });
      this.scratch.push(c);
      const project = this.pipeline(`project ${xFormat}`, () => projectWgsl(xFormat));
      pass.setPipeline(project);
      pass.setBindGroup(0, this.device.createBindGroup({
        layout: project.getBindGroupLayout(0),
        entries: [x, m.b!, c, this.uniform([rows, m.d, m.k, 0])].map((buffer, binding) => ({ binding, resource: { buffer } })),
      }));
      pass.dispatchWorkgroups(Math.ceil(m.k / CONTEXT_MAP_WORKGROUP), rows);
      if (m.kind === 'dense') {
        base = c;
        baseFormat = 'f32';
      }
    }
    // combine: y = base + c·F over k factors (only low rank has F).
    const k = m.kind === 'lowrank' ? m.k : 0;
    const combine = this.pipeline(`combine ${baseFormat} ${outFormat}`, () => combineWgsl(baseFormat, outFormat));
    pass.setPipeline(combine);
    pass.setBindGroup(0, this.device.createBindGroup({
      layout: combine.getBindGroupLayout(0),
      entries: [base, k ? c : this.empty, m.f ?? this.empty, out, this.uniform([rows, m.d, k, outOffset])].map((buffer, binding) => ({ binding, resource: { buffer } })),
    }));
    pass.dispatchWorkgroups(Math.ceil(m.d / 2 / CONTEXT_MAP_WORKGROUP), rows);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    // Scratch buffers may be destroyed now: destruction waits for submitted work.
    for (const b of this.scratch.splice(0)) b.destroy();
  }

  /**
   * Copies bytes [byteOffset, byteOffset + byteLength) of a buffer back to the CPU (both multiples
   * of 4): the conditional context that attention capture needs for K.
   */
  async readBytes(buffer: GPUBuffer, byteOffset: number, byteLength: number): Promise<Uint8Array> {
    if (byteOffset % 4 !== 0 || byteLength % 4 !== 0) throw new Error(`readBytes needs 4-byte aligned ranges; got offset ${byteOffset}, length ${byteLength}`);
    const staging = this.device.createBuffer({ size: byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'context readback' });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, byteOffset, staging, 0, byteLength);
    this.device.queue.submit([encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone(); // as AttentionGpu.read: Dawn in Node needs it
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Uint8Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return out;
  }

  private dropFactors(): void {
    this.factors?.b?.destroy();
    this.factors?.f?.destroy();
    this.factors = null;
  }

  destroy(): void {
    this.dropFactors();
    this.empty.destroy();
  }
}
