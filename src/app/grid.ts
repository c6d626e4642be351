/**
 * The compare grid's jobs and their scheduling. One worker renders one image at a time, so the
 * grid is a queue: cells stream in one by one, results are cached by everything that determines
 * the picture (so a new edit re-renders only the erased column, and going back to an earlier edit
 * is instant), and a new job list cancels the running job if it is no longer wanted. Operations
 * that must not overlap a generation (computing an erasure changes the worker's current edit)
 * run through {@link GridScheduler.exclusive}.
 */
import { editKey, modelKey, type PlaygroundState } from './state.ts';

/** One image of the grid. */
export interface GridJob {
  /** Everything that determines the picture, as text (see {@link jobKey}). */
  key: string;
  prompt: string;
  seed: number;
  steps: number;
  guidance: number;
  /** true: the edited model; false: the original. */
  edited: boolean;
}

/** Cache key of an image: model, settings, prompt, seed and (for edited ones) the edit. */
export function jobKey(s: Pick<PlaygroundState, 'model' | 'steps' | 'guidance' | 'edit'>, prompt: string, seed: number, edited: boolean): string {
  return JSON.stringify([modelKey(s.model), s.steps, s.guidance, seed, prompt, edited ? editKey(s.edit) : null]);
}

/**
 * The grid's jobs in display order: prompt by prompt, seed by seed, the original then the erased
 * image (no erased image without an edit).
 */
export function gridJobs(s: Pick<PlaygroundState, 'model' | 'steps' | 'guidance' | 'edit' | 'prompts' | 'seeds'>): GridJob[] {
  const jobs: GridJob[] = [];
  for (const p of s.prompts) {
    for (const seed of s.seeds) {
      for (const edited of s.edit ? [false, true] : [false]) {
        jobs.push({ key: jobKey(s, p.text, seed, edited), prompt: p.text, seed, steps: s.steps, guidance: s.guidance, edited });
      }
    }
  }
  return jobs;
}

export type CellResult<R> = { status: 'done'; value: R } | { status: 'error'; message: string };

export interface SchedulerOptions<R> {
  /** Render one job; `onProgress` reports denoising steps. */
  run(job: GridJob, onProgress: (step: number, steps: number) => void): Promise<R>;
  /** Ask the worker to stop the running job (it then rejects with a CancelledError). */
  cancel(): Promise<void>;
  /** Called whenever a result, the running job or its progress changes. */
  onChange?(): void;
  /** Most results kept in memory (oldest not-wanted ones are dropped first). Default 256. */
  maxResults?: number;
}

/** Whether an error is the worker saying the job was superseded (not a failure to show). */
export const isCancelled = (e: unknown): boolean => typeof e === 'object' && e !== null && (e as { name?: string }).name === 'CancelledError';

export class GridScheduler<R> {
  /** Finished cells by job key (also the cache across edits). */
  readonly results = new Map<string, CellResult<R>>();
  /** The job being rendered and its progress, or null. */
  running: { job: GridJob; step: number; steps: number } | null = null;
  private queue: GridJob[] = [];
  private wanted = new Set<string>();
  private loop: Promise<void> | null = null;
  private locks = 0;
  private paused = false;
  /** Settles when the last exclusive() call has finished (they run one after another). */
  private exclusiveTail: Promise<void> = Promise.resolve();

  constructor(private readonly opts: SchedulerOptions<R>) {}

  /** Jobs still to render, in order. */
  get pending(): readonly GridJob[] {
    return this.queue;
  }

  /**
   * Make `jobs` the grid: cached ones are kept, the others queued in order. A running job that
   * is no longer wanted is cancelled (its result is never stored).
   */
  setJobs(jobs: GridJob[]): void {
    this.wanted = new Set(jobs.map((j) => j.key));
    this.queue = jobs.filter((j, i) => !this.results.has(j.key) && jobs.findIndex((k) => k.key === j.key) === i && j.key !== this.running?.job.key);
    if (this.running && !this.wanted.has(this.running.job.key)) void this.opts.cancel();
    this.prune();
    this.opts.onChange?.();
    this.kick();
  }

  /** Forget a cached result (e.g. to render it again after an error). */
  forget(key: string): void {
    this.results.delete(key);
  }

  /** Store a result from elsewhere (e.g. restored from storage), so it is not rendered again. */
  put(key: string, value: R): void {
    this.results.set(key, { status: 'done', value });
    this.queue = this.queue.filter((j) => j.key !== key);
    this.opts.onChange?.();
  }

  /** Stop: cancel the running job and drop the queue (results stay cached). */
  stop(): void {
    this.queue = [];
    this.wanted.clear();
    if (this.running) void this.opts.cancel();
    this.opts.onChange?.();
  }

  /** Resolves when nothing is running. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /**
   * Run `fn` with no generation in flight: the running job is cancelled (and re-queued if still
   * wanted), `fn` runs, then the queue resumes. Exclusive calls run one after another, in call
   * order (an erasure never changes the worker's edit under another exclusive generation).
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.locks++;
    const before = this.exclusiveTail;
    let release!: () => void;
    this.exclusiveTail = new Promise<void>((r) => (release = r));
    try {
      const r = this.running;
      if (r) {
        void this.opts.cancel();
        if (this.wanted.has(r.job.key) && !this.queue.some((j) => j.key === r.job.key)) this.queue.unshift(r.job);
      }
      await this.idle();
      await before;
      return await fn();
    } finally {
      release();
      this.locks--;
      this.kick();
    }
  }

  /** Hold the queue (e.g. while no model is loaded); {@link resume} starts it again. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.kick();
  }

  private kick(): void {
    if (this.loop || this.locks > 0 || this.paused || this.queue.length === 0) return;
    this.loop = this.drain().finally(() => {
      this.loop = null;
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length && this.locks === 0 && !this.paused) {
      const job = this.queue.shift()!;
      this.running = { job, step: 0, steps: job.steps };
      this.opts.onChange?.();
      try {
        const value = await this.opts.run(job, (step, steps) => {
          if (this.running?.job === job) {
            this.running = { job, step, steps };
            this.opts.onChange?.();
          }
        });
        if (this.wanted.has(job.key)) this.results.set(job.key, { status: 'done', value });
      } catch (e) {
        if (!isCancelled(e) && this.wanted.has(job.key)) this.results.set(job.key, { status: 'error', message: (e as Error)?.message ?? String(e) });
      } finally {
        this.running = null;
        this.opts.onChange?.();
      }
    }
  }

  private prune(): void {
    const max = this.opts.maxResults ?? 256;
    for (const key of this.results.keys()) {
      if (this.results.size <= max) break;
      if (!this.wanted.has(key)) this.results.delete(key);
    }
  }
}
