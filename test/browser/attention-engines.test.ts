/**
 * Attention maps captured by the diffusion worker during generation: on WASM (Q read back, summed
 * in TypeScript) and on WebGPU (Q kept on the GPU as gpu-buffer outputs, summed by the WGSL
 * kernels on ORT's own device) — the same maps from the same model, seed and prompt. With an
 * edit, WebGPU applies x·Mᵀ with the context-map kernel on the GPU-resident context and WASM in
 * TypeScript: the same images and maps again. On WebGPU, the worker's GPU buffers are counted
 * across generations (nothing per image stays behind).
 */
import { describe, expect, it } from 'vitest';
import { useHarness } from './page-helpers.ts';

const harness = useHarness('worker');

describe('attention capture in the worker', () => {
  it('gives the same per-word maps and images on WASM and on WebGPU, with and without an edit', async () => {
    const out = await harness.page.evaluate(async () => {
      const { api, getManifest, baseUrl } = (window as any).harness;
      const manifest = getManifest('tiny');
      await api.download({ manifest, baseUrl });
      // Guidance 2: both branches batched as [uncond; cond]. On WebGPU the context stays on the
      // GPU, so this runs the context-map kernel writing each branch at its row offset and the
      // capture reading the conditional rows back for K; on WASM all of it runs in TypeScript.
      const request = { prompt: 'a red car', seed: 3, steps: 1, guidance: 2, attention: true };
      const summary = (r: any) => ({ provider: r.provider, words: r.attention.words.map((w: any) => w.text), tokens: r.attention.maps.tokens, h: r.attention.maps.height, maps: Array.from(r.attention.maps.maps as Float32Array), rgba: r.rgba as Uint8ClampedArray });
      const memory: any[] = [];
      const run = async (preference: string) => {
        await api.load({ manifest, baseUrl, preference });
        const original = summary(await api.generate(request));
        memory.push(await api.gpuMemory());
        await api.erase({ method: 'uce', erase: ['car'] });
        const edited = summary(await api.generate({ ...request, edited: true }));
        memory.push(await api.gpuMemory());
        return { original, edited };
      };
      const cpu = await run('wasm');
      memory.length = 0;
      const gpu = await run('webgpu');
      // The same original generation again: GPU buffers must be back where they were.
      await api.generate(request);
      memory.push(await api.gpuMemory());
      await api.unload();
      memory.push(await api.gpuMemory());
      const mad = (a: Uint8ClampedArray, b: Uint8ClampedArray) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
      const strip = (x: any) => ({ ...x, rgba: undefined });
      return {
        cpu: { original: strip(cpu.original), edited: strip(cpu.edited) },
        gpu: { original: strip(gpu.original), edited: strip(gpu.edited) },
        imageDiff: { original: mad(cpu.original.rgba, gpu.original.rgba), edited: mad(cpu.edited.rgba, gpu.edited.rgba), editOnCpu: mad(cpu.original.rgba, cpu.edited.rgba) },
        memory,
      };
    });
    expect(out.cpu.original.provider).toBe('wasm');
    expect(out.gpu.original.provider).toBe('webgpu');
    expect(out.gpu.original.words).toEqual(['a', 'red', 'car']);
    expect(out.gpu.original.h).toBe(32);
    for (const which of ['original', 'edited'] as const) {
      const [cpu, gpu] = [out.cpu[which], out.gpu[which]];
      expect(gpu.tokens).toEqual(cpu.tokens);
      const scale = Math.max(...cpu.maps);
      const worst = Math.max(...cpu.maps.map((x: number, i: number) => Math.abs(x - gpu.maps[i]!)));
      expect(scale).toBeGreaterThan(0);
      expect(worst / scale, `${which} maps\n${harness.log.join('\n')}`).toBeLessThan(1e-3);
    }
    // The edit changes the maps (K comes from the edited context on both engines)…
    const moved = Math.max(...out.cpu.original.maps.map((x: number, i: number) => Math.abs(x - out.cpu.edited.maps[i]!)));
    expect(moved / Math.max(...out.cpu.original.maps)).toBeGreaterThan(1e-2);
    // …and the image, by far more than the two engines differ (float rounding).
    expect(out.imageDiff.original).toBeLessThan(2);
    expect(out.imageDiff.edited).toBeLessThan(2);
    expect(out.imageDiff.editOnCpu, JSON.stringify(out.imageDiff)).toBeGreaterThan(4 * Math.max(out.imageDiff.edited, 0.25));

    // GPU memory (every buffer the worker created, ORT's and ours): the per-image context and
    // capture buffers are freed; the edit adds only its map's two factor buffers; the same
    // generation again holds exactly what it held before; unloading frees the sessions.
    const [original, edited, again, unloaded] = out.memory;
    const line = out.memory.map((m: any) => `${m.live} buffers ${(m.bytes / 2 ** 20).toFixed(2)} MiB`).join(' → ');
    console.log(`GPU buffers after original, edited, original again, unload: ${line}`);
    expect(original.bytes, line).toBeGreaterThan(2 ** 20);
    expect(edited.live - original.live, line).toBeLessThanOrEqual(2);
    expect(Math.abs(again.bytes - original.bytes), line).toBeLessThanOrEqual(2 ** 16);
    expect(again.live, line).toBe(original.live);
    expect(unloaded.bytes, line).toBeLessThan(original.bytes / 2);
  }, 600_000); // four loads, and SwiftShader compiling the pipeline's shaders: about 3 minutes
});

