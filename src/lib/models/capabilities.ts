/**
 * What this browser offers the app: WebGPU adapter and its features/limits, cross-origin
 * isolation (multi-threaded WASM), cores, memory and storage quota. Runs in a page or a worker.
 */

/** The WebGPU adapter as the app needs to know it (null fields when there is no adapter). */
export interface GpuCapabilities {
  /** `navigator.gpu` exists (the browser ships WebGPU). */
  api: boolean;
  /** An adapter was granted. */
  adapter: boolean;
  vendor: string;
  architecture: string;
  description: string;
  /** True for software adapters such as SwiftShader. */
  isFallbackAdapter: boolean;
  /** `shader-f16`: needed by fp16 models on the WebGPU engine. */
  shaderF16: boolean;
  /** Bytes. */
  maxBufferSize: number;
  /** Bytes. */
  maxStorageBufferBindingSize: number;
  /** Why there is no adapter, when there is none. */
  problem?: string;
}

export interface Capabilities {
  gpu: GpuCapabilities;
  /** `crossOriginIsolated`: SharedArrayBuffer, so WASM can use several threads. */
  crossOriginIsolated: boolean;
  /** Logical cores (`navigator.hardwareConcurrency`). */
  cores: number;
  /** GiB, rounded down by the browser (`navigator.deviceMemory`); null where unsupported. */
  deviceMemoryGiB: number | null;
  /** Bytes the origin may store and has stored; null where unsupported. */
  storage: { quota: number; usage: number } | null;
}

const noGpu = (api: boolean, problem: string): GpuCapabilities => ({
  api,
  adapter: false,
  vendor: '',
  architecture: '',
  description: '',
  isFallbackAdapter: false,
  shaderF16: false,
  maxBufferSize: 0,
  maxStorageBufferBindingSize: 0,
  problem,
});

/** Ask for a WebGPU adapter and describe it. Never throws. */
export async function detectGpu(gpu: GPU | undefined = globalThis.navigator?.gpu): Promise<GpuCapabilities> {
  if (!gpu) return noGpu(false, 'This browser has no WebGPU (navigator.gpu is missing); the app runs on WASM.');
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return noGpu(true, `requestAdapter failed: ${(e as Error).message}`);
  }
  if (!adapter) return noGpu(true, 'WebGPU is present but no adapter was granted (GPU blocklisted or disabled).');
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  return {
    api: true,
    adapter: true,
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    shaderF16: adapter.features.has('shader-f16'),
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
}

/** Everything the first-visit panel shows. Never throws. */
export async function detectCapabilities(): Promise<Capabilities> {
  const nav = globalThis.navigator as (Navigator & { deviceMemory?: number }) | undefined;
  let storage: Capabilities['storage'] = null;
  try {
    const e = await nav?.storage?.estimate?.();
    if (e) storage = { quota: e.quota ?? 0, usage: e.usage ?? 0 };
  } catch {
    storage = null;
  }
  return {
    gpu: await detectGpu(),
    crossOriginIsolated: Boolean(globalThis.crossOriginIsolated),
    cores: nav?.hardwareConcurrency ?? 1,
    deviceMemoryGiB: nav?.deviceMemory ?? null,
    storage,
  };
}
