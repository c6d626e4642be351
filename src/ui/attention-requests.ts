/**
 * Per-word attention maps for a compare-grid cell: the cell's original and erased image rendered
 * again with capture (same seeds and settings), one after the other under the grid's lock so
 * nothing overlaps and the grid resumes afterwards. The last few pairs are kept, so reopening a
 * cell's dialog is instant.
 */
import type { GridJob } from '../app/grid.ts';
import type { WordTokens } from '../lib/attention/index.ts';
import type { AttentionPanel } from './attention-view-model.ts';
import { Comlink, type DiffusionWorker } from './diffusion-client.ts';

/** What the maps of one pair are shown with. */
export interface PairMaps {
  words: WordTokens[];
  panels: AttentionPanel[];
}

/** Pairs kept for instant reopening. */
const KEPT = 8;

export class AttentionRequests {
  private readonly cache = new Map<string, PairMaps>();
  private token = 0;
  private busy = false;

  constructor(
    private readonly worker: DiffusionWorker,
    /** Runs `fn` with the grid paused (GridScheduler.exclusive). */
    private readonly exclusive: <T>(fn: () => Promise<T>) => Promise<T>,
  ) {}

  /**
   * The maps of `pair` (original and/or erased job). `onProgress(done, of)` counts denoising
   * steps over both images. Rejects with a CancelledError when {@link cancel} (or a newer call)
   * stops it.
   */
  async for(pair: readonly GridJob[], onProgress?: (done: number, of: number) => void): Promise<PairMaps> {
    const id = pair.map((j) => j.key).join('\n');
    const cached = this.cache.get(id);
    if (cached) return cached;
    const token = ++this.token;
    const total = pair.reduce((s, j) => s + j.steps, 0);
    const out = await this.exclusive(async () => {
      this.busy = true;
      try {
        return await this.run(pair, token, total, onProgress);
      } finally {
        this.busy = false;
      }
    });
    this.cache.set(id, out);
    while (this.cache.size > KEPT) this.cache.delete(this.cache.keys().next().value!);
    return out;
  }

  /** Stop computing maps (the dialog closed). */
  cancel(): void {
    this.token++;
    if (this.busy) void this.worker.cancel();
  }

  private async run(pair: readonly GridJob[], token: number, total: number, onProgress?: (done: number, of: number) => void): Promise<PairMaps> {
    const panels: AttentionPanel[] = [];
    let words: WordTokens[] = [];
    let before = 0;
    for (const job of pair) {
      if (token !== this.token) throw Object.assign(new Error('Attention maps cancelled.'), { name: 'CancelledError' });
      const r = await this.worker.generate(
        { prompt: job.prompt, seed: job.seed, steps: job.steps, guidance: job.guidance, edited: job.edited, attention: true },
        Comlink.proxy((p: { step: number; steps: number }) => onProgress?.(before + p.step, total)),
      );
      before += job.steps;
      if (!r.attention) throw new Error('The worker returned no attention maps for this model.');
      words = r.attention.words;
      panels.push({ label: job.edited ? 'Erased' : 'Original', image: { width: r.width, height: r.height, rgba: r.rgba }, maps: r.attention.maps });
    }
    return { words, panels };
  }
}
