/**
 * Harness for test/browser/context-map-webgpu.test.ts: the WGSL context map (shaders/) on the
 * page's WebGPU adapter (SwiftShader in the tests). Plain arrays in and out; the test compares
 * with applyContextMap in Node.
 */
import { ContextMapGpu, type GpuMapFactors } from '../../../shaders/context-map-runner.ts';
import type { TensorFormat } from '../../../shaders/context-map.ts';

let gpu: ContextMapGpu | null = null;

async function runner(): Promise<ContextMapGpu> {
  if (gpu) return gpu;
  if (!navigator.gpu) throw new Error('navigator.gpu is missing: start Chromium with --enable-unsafe-webgpu');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  gpu = new ContextMapGpu(await adapter.requestDevice());
  return gpu;
}

interface MapCase {
  map: GpuMapFactors;
  /** x [rows, d]: float32 values, or float16 bit patterns for 'f16'. */
  x: number[];
  xFormat: TensorFormat;
  rows: number;
  outFormat: TensorFormat;
  /** Rows of the (zeroed) output buffer. */
  outRows: number;
  /** First element written (row offset · d for a second guidance branch). */
  outOffset: number;
}

/** y = x·Mᵀ written from element outOffset of a fresh zeroed buffer; returns the whole buffer's elements. */
async function runContextMap(c: MapCase): Promise<number[]> {
  const g = await runner();
  const { device } = g;
  const d = c.map.d;
  const xData = c.xFormat === 'f32' ? Float32Array.from(c.x) : Uint16Array.from(c.x);
  const x = device.createBuffer({ size: Math.ceil(xData.byteLength / 16) * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(x, 0, xData.buffer, 0, Math.ceil(xData.byteLength / 4) * 4);
  const outBytes = c.outRows * d * (c.outFormat === 'f32' ? 4 : 2);
  const out = device.createBuffer({ size: outBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  g.setMap(c.map);
  g.apply({ x, xFormat: c.xFormat, rows: c.rows, out, outFormat: c.outFormat, outOffset: c.outOffset });
  const bytes = await g.readBytes(out, 0, outBytes);
  x.destroy();
  out.destroy();
  return Array.from(c.outFormat === 'f32' ? new Float32Array(bytes.buffer) : new Uint16Array(bytes.buffer));
}

(window as unknown as { harness: object }).harness = { runContextMap };
(window as unknown as { harnessReady: boolean }).harnessReady = true;
