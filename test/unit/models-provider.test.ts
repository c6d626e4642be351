import { describe, expect, it } from 'vitest';
import { afterFailedGpuCheck, chooseProvider, UnsupportedModelError, wasmThreads } from '../../src/lib/models/provider.ts';
import type { Capabilities, GpuCapabilities } from '../../src/lib/models/capabilities.ts';

const gpu = (over: Partial<GpuCapabilities> = {}): GpuCapabilities => ({
  api: true, adapter: true, vendor: 'nvidia', architecture: 'hopper', description: 'H100', isFallbackAdapter: false,
  shaderF16: true, maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31, ...over,
});
const caps = (g: GpuCapabilities, isolated = true, cores = 8): Capabilities => ({
  gpu: g, crossOriginIsolated: isolated, cores, deviceMemoryGiB: 8, storage: null,
});

describe('chooseProvider', () => {
  it('picks WebGPU when the adapter has what the model needs', () => {
    const c = chooseProvider(caps(gpu()), { float16: true });
    expect(c.provider).toBe('webgpu');
    expect(c.reason).toMatch(/H100/);
  });

  it('falls back to WASM for an fp16 model without shader-f16, and says why', () => {
    const c = chooseProvider(caps(gpu({ shaderF16: false })), { float16: true });
    expect(c.provider).toBe('wasm');
    expect(c.reason).toMatch(/lacks shader-f16/);
    expect(c.threads).toBe(4);
  });

  it('prefers WASM over a software adapter such as SwiftShader', () => {
    const c = chooseProvider(caps(gpu({ isFallbackAdapter: true, architecture: 'swiftshader', shaderF16: false })), { float16: false });
    expect(c.provider).toBe('wasm');
    expect(c.reason).toMatch(/software fallback \(swiftshader\)/);
  });

  it('uses one WASM thread without cross-origin isolation, and says so', () => {
    const c = chooseProvider(caps(gpu({ adapter: false, problem: 'No adapter.' }), false), { float16: false });
    expect(c).toMatchObject({ provider: 'wasm', threads: 1 });
    expect(c.reason).toMatch(/not cross-origin isolated/);
    expect(wasmThreads({ crossOriginIsolated: true, cores: 2 })).toBe(2);
    expect(wasmThreads({ crossOriginIsolated: true, cores: 1 })).toBe(1);
    expect(wasmThreads({ crossOriginIsolated: false, cores: 16 })).toBe(1);
    expect(wasmThreads({ crossOriginIsolated: true, cores: 16 })).toBe(4);
  });

  it('refuses WebGPU for an fp16 model without shader-f16 when asked for it', () => {
    expect(() => chooseProvider(caps(gpu({ shaderF16: false })), { float16: true }, 'webgpu')).toThrow(/lacks shader-f16.*Choose WASM or Auto/);
  });
});

describe('afterFailedGpuCheck', () => {
  const problem = "onnxruntime-web's WebGPU MultiHeadAttention gives wrong results on this adapter (X)";
  it('moves Auto to WASM with the same threads and says why', () => {
    const auto = chooseProvider(caps(gpu()), { float16: false });
    const after = afterFailedGpuCheck(auto, 'auto', problem);
    expect(after).toEqual({ provider: 'wasm', threads: auto.threads, reason: `${problem}. Running on WASM with ${auto.threads} threads instead.` });
  });
  it('keeps a forced WebGPU, warned', () => {
    const forced = chooseProvider(caps(gpu()), { float16: false }, 'webgpu');
    const after = afterFailedGpuCheck(forced, 'webgpu', problem);
    expect(after.provider).toBe('webgpu');
    expect(after.reason).toMatch(/You chose WebGPU.*Warning: onnxruntime-web's WebGPU MultiHeadAttention.*images will differ.*Choose Auto or WASM/);
  });
  it('leaves a WASM choice alone', () => {
    const wasm = chooseProvider(caps(gpu()), { float16: false }, 'wasm');
    expect(afterFailedGpuCheck(wasm, 'wasm', problem)).toBe(wasm);
  });
});
