/**
 * The GPU memory this worker holds in buffers, counted at the source because WebGPU has no query
 * for it: every GPUDevice.createBuffer (onnxruntime-web's through its bindings, and ours) adds
 * its size, every destroy() or garbage collection of a buffer takes it away. Installed once, at
 * worker start, before any engine exists.
 */

/** Buffers alive now, their bytes, and the most bytes held at once since install. */
export interface GpuBufferStats {
  live: number;
  bytes: number;
  peakBytes: number;
}

const stats: GpuBufferStats = { live: 0, bytes: 0, peakBytes: 0 };
let installed = false;

function forget(size: number): void {
  stats.live--;
  stats.bytes -= size;
}

/** Wraps createBuffer and destroy (no-op where WebGPU is absent or already wrapped). */
export function trackGpuBuffers(): void {
  if (installed || typeof GPUDevice === 'undefined' || typeof GPUBuffer === 'undefined') return;
  installed = true;
  const alive = new WeakSet<GPUBuffer>();
  // A buffer dropped without destroy() frees its memory when collected.
  const collected = new FinalizationRegistry<number>(forget);
  const create = GPUDevice.prototype.createBuffer;
  const destroy = GPUBuffer.prototype.destroy;
  GPUDevice.prototype.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor): GPUBuffer {
    const buffer = create.call(this, descriptor);
    alive.add(buffer);
    collected.register(buffer, buffer.size, buffer);
    stats.live++;
    stats.bytes += buffer.size;
    stats.peakBytes = Math.max(stats.peakBytes, stats.bytes);
    return buffer;
  };
  GPUBuffer.prototype.destroy = function (this: GPUBuffer): undefined {
    if (alive.delete(this)) {
      collected.unregister(this);
      forget(this.size);
    }
    return destroy.call(this);
  };
}

/** A snapshot of the counts (null before {@link trackGpuBuffers} could install). */
export function gpuBufferStats(): GpuBufferStats | null {
  return installed ? { ...stats } : null;
}
