import { describe, expect, it } from 'vitest';
import { Persistence, type KeyValue } from '../../src/app/persist.ts';
import { defaultState } from '../../src/app/state.ts';
import { estimateSeconds, formatDuration, imageWork, SD_512_COST } from '../../src/app/estimate.ts';
import type { Capabilities } from '../../src/lib/models/capabilities.ts';

/** An in-memory key-value store that, like IndexedDB, keeps structured clones. */
function memoryKv(): KeyValue & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  return {
    map,
    get: async (k) => structuredClone(map.get(k)) as never,
    set: async (k, v) => void map.set(k, structuredClone(v)),
    del: async (k) => void map.delete(k),
    keys: async () => [...map.keys()],
  };
}
const image = (w: number, h: number, fill: number) => ({ width: w, height: h, rgba: new Uint8ClampedArray(w * h * 4).fill(fill) });

describe('persistence', () => {
  it('keeps the session and drops a damaged one instead of running it', async () => {
    const kv = memoryKv();
    const p = new Persistence(kv);
    expect(await p.loadSession()).toBeNull();
    const state = { ...defaultState(), seeds: [9] };
    await p.saveSession({ state, lesson: { id: 'car', step: 2 } });
    expect(await p.loadSession()).toEqual({ state, lesson: { id: 'car', step: 2 } });
    kv.map.set('session', { state: { ...state, steps: -3 }, lesson: null });
    expect(await p.loadSession()).toBeNull();
    expect(kv.map.has('session')).toBe(false);
    await expect(p.saveSession({ state: { ...state, engine: 'cuda' as never }, lesson: null })).rejects.toThrow(/'engine'/);
  });

  it('lists saved experiments newest first and skips damaged ones', async () => {
    const kv = memoryKv();
    const p = new Persistence(kv);
    const a = await p.saveExperiment('  car, λ 0.5 ', defaultState(), 'rank 1');
    await new Promise((r) => setTimeout(r, 3));
    const b = await p.saveExperiment('', { ...defaultState(), seeds: [3] });
    kv.map.set('exp:broken', { name: 'x', savedAt: 1, state: { nonsense: true } });
    const list = await p.listExperiments();
    expect(list.map((e) => e.id)).toEqual([b, a]);
    expect(list[1]).toMatchObject({ name: 'car, λ 0.5', note: 'rank 1' });
    expect(list[0]!.name).toBe('Untitled experiment');
    await p.deleteExperiment(a);
    expect((await p.listExperiments()).map((e) => e.id)).toEqual([b]);
  });

  it('keeps images exactly, within a byte budget, dropping the oldest first', async () => {
    const kv = memoryKv();
    const p = new Persistence(kv, 3 * 16 * 16 * 4); // room for three 16×16 images
    for (let i = 0; i < 5; i++) await p.putImage(`k${i}`, image(16, 16, i * 10));
    expect(await p.getImage('k0')).toBeNull();
    expect(await p.getImage('k1')).toBeNull();
    const k4 = await p.getImage('k4');
    expect(k4!.rgba.every((v) => v === 40)).toBe(true);
    expect(await p.imageUsage()).toEqual({ count: 3, bytes: 3 * 1024 });
    await p.putImage('k2', image(16, 16, 99)); // rewriting refreshes its age, no double count
    expect(await p.imageUsage()).toEqual({ count: 3, bytes: 3 * 1024 });
    await expect(p.putImage('bad', { width: 4, height: 4, rgba: new Uint8ClampedArray(3) })).rejects.toThrow(/not an RGBA image/);
    kv.map.set('img:odd', { width: 2, height: 2, rgba: [1, 2, 3] });
    expect(await p.getImage('odd')).toBeNull();
    await p.clearImages();
    expect([...kv.map.keys()].filter((k) => k.startsWith('img'))).toEqual([]);
  });
});

const caps = (gpu: Partial<Capabilities['gpu']>, isolated = true, cores = 8): Capabilities => ({
  gpu: { api: true, adapter: true, vendor: 'v', architecture: '', description: '', isFallbackAdapter: false, shaderF16: true, maxBufferSize: 0, maxStorageBufferBindingSize: 0, ...gpu },
  crossOriginIsolated: isolated, cores, deviceMemoryGiB: null, storage: null,
});

describe('speed estimate', () => {
  it('counts the work: guidance doubles the UNet, the VAE runs once', () => {
    expect(imageWork({ textEncoder: 1, unetPerStep: 10, vaeDecoder: 100 }, 3, 7.5)).toBe(2 + 60 + 100);
    expect(imageWork({ textEncoder: 1, unetPerStep: 10, vaeDecoder: 100 }, 1, 0)).toBe(1 + 10 + 100);
  });

  it('says what it rests on and orders engines sensibly', () => {
    const gpu = estimateSeconds(caps({ description: 'RTX' }), SD_512_COST, 1, 0, true)!;
    const swift = estimateSeconds(caps({ isFallbackAdapter: true, architecture: 'swiftshader', shaderF16: false }), SD_512_COST, 25, 7.5, false)!;
    const noGpu1 = estimateSeconds(caps({ adapter: false }, false), SD_512_COST, 25, 7.5, false)!;
    const noGpu4 = estimateSeconds(caps({ adapter: false }, true, 8), SD_512_COST, 25, 7.5, false)!;
    expect(gpu.basis).toMatch(/WebGPU on RTX/);
    expect(swift.basis).toMatch(/WASM on 4 CPU threads.*software one \(swiftshader/);
    expect(noGpu1.basis).toMatch(/WASM on 1 CPU thread \(no WebGPU adapter\)/);
    expect(gpu.high).toBeLessThan(noGpu4.low);
    expect(noGpu4.high).toBeLessThan(noGpu1.high);
    // SD 1.5, 25 guided steps, one thread: tens of TFLOP at ~30 GFLOP/s is tens of minutes.
    expect(noGpu1.low).toBeGreaterThan(600);
    expect(estimateSeconds(caps({}), null, 4, 7.5, false)).toBeNull();
  });

  it('formats durations', () => {
    expect(formatDuration(0.5, 2)).toBe('0.5–2 s');
    expect(formatDuration(12, 12.2)).toBe('about 12 s');
    expect(formatDuration(600, 2400)).toBe('10–40 minutes');
    expect(formatDuration(60, 600)).toBe('60 s – 10 minutes');
    expect(formatDuration(7200, 20000)).toBe('2–6 hours');
  });
});
