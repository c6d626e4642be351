/**
 * Two diffusion workers of one origin share the stored models (the playground's and the engine
 * check's worker, or two tabs): one re-downloading a model while the other loads it must not
 * make either fail. Without the per-model Web Lock (src/lib/models/locks.ts) the reader got
 * "The requested file could not be read…" when the writer rewrote a file under it.
 */
import { describe, expect, it } from 'vitest';
import { useHarness } from './page-helpers.ts';

const harness = useHarness('worker');

describe('two workers, one stored model', () => {
  it('a restarted download in one and loads in the other all succeed, and both draw the same image', async () => {
    const out = await harness.page.evaluate(async () => {
      const { api, spawnWorker, getManifest, baseUrl } = (window as any).harness;
      const other = spawnWorker();
      const manifest = getManifest('tiny');
      await api.download({ manifest, baseUrl });
      const request = { prompt: 'a red car', seed: 4, steps: 1, guidance: 1 };
      const errors: string[] = [];
      const note = (who: string) => (e: Error) => { errors.push(`${who}: ${e.message}`); };
      // Rounds of: worker A deletes and writes every file again while worker B loads from them.
      for (let round = 0; round < 3; round++) {
        await Promise.all([
          api.download({ manifest, baseUrl, restart: true }).catch(note(`download ${round}`)),
          other.load({ manifest, baseUrl, preference: 'wasm', threads: 1 }).catch(note(`load ${round}`)),
        ]);
      }
      await api.load({ manifest, baseUrl, preference: 'wasm', threads: 1 });
      const [a, b] = [await api.generate(request), await other.generate(request)];
      let diff = 0;
      for (let i = 0; i < a.rgba.length; i++) diff = Math.max(diff, Math.abs(a.rgba[i] - b.rgba[i]));
      return { errors, diff, stored: (await api.listStored()).find((s: any) => s.id === 'tiny') };
    });
    expect(out.errors, harness.log.join('\n')).toEqual([]);
    expect(out.stored?.complete).toBe(true);
    expect(out.diff).toBe(0);
  });
});
