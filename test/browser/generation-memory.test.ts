/**
 * Nothing leaks across generations: after a warm-up, many more generations (guided, batched)
 * leave the memory of the page and its diffusion worker where it was. Measured with
 * performance.measureUserAgentSpecificMemory(), which counts dedicated workers and needs the
 * cross-origin isolation the app has.
 */
import { describe, expect, it } from 'vitest';
import { useHarness } from './page-helpers.ts';

// Measure memory at once instead of at the next scheduled GC (about 20 s each).
const harness = useHarness('worker', ['--enable-blink-features=ForceEagerMeasureMemory']);

describe('memory across generations', () => {
  it('stays bounded over 20 guided generations on WASM, edits and attention included', async () => {
    const rounds = await harness.page.evaluate(async () => {
      const { api, getManifest, baseUrl } = (window as any).harness;
      const manifest = getManifest('tiny');
      await api.download({ manifest, baseUrl });
      // One thread: measureUserAgentSpecificMemory() never answers while onnxruntime-web's WASM
      // pthread workers exist (seen in Chromium 156), so the measured run must not start them.
      const loaded = await api.load({ manifest, baseUrl, preference: 'wasm', threads: 1 });
      if (loaded.threads !== 1) throw new Error(`asked for 1 thread, got ${loaded.threads}`);
      await api.erase({ method: 'uce', erase: ['car'] });
      const measure = async () => ((await (performance as any).measureUserAgentSpecificMemory()).bytes as number);
      const out: number[] = [];
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 5; i++) {
          await api.generate({ prompt: 'a photo of a red car', seed: round * 5 + i, steps: 2, guidance: 5, edited: i % 2 === 1, attention: i === 4 });
        }
        out.push(await measure());
      }
      return out;
    });
    // Round 0 is the warm-up (sessions' arenas, shader/kernel caches). After it, 20 more
    // generations may not grow memory by more than 2 MiB (measured noise: about 0.05 MiB).
    const growth = Math.max(...rounds.slice(1)) - rounds[0]!;
    console.log(`memory after each round of 5 generations: ${rounds.map((b) => (b / 2 ** 20).toFixed(2)).join(' → ')} MiB`);
    expect(rounds.every((b) => b > 0)).toBe(true);
    expect(growth, `${rounds.map((b) => (b / 2 ** 20).toFixed(1)).join(' → ')} MiB\n${harness.log.join('\n')}`).toBeLessThan(2 * 2 ** 20);
  });
});
