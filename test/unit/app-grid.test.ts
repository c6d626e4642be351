import { describe, expect, it } from 'vitest';
import { GridScheduler, gridJobs, jobKey, type GridJob } from '../../src/app/grid.ts';
import { defaultState } from '../../src/app/state.ts';

class Cancelled extends Error {
  override name = 'CancelledError';
}

/** A fake worker: each run waits until the test resolves it or cancel() rejects it, like the real one. */
function fakeWorker() {
  const log: string[] = [];
  let current: { job: GridJob; resolve: (v: string) => void; reject: (e: Error) => void } | null = null;
  let concurrent = 0;
  let maxConcurrent = 0;
  const worker = {
    log,
    get current() {
      return current;
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    run: (job: GridJob, onProgress: (s: number, n: number) => void) =>
      new Promise<string>((resolve, reject) => {
        log.push(`run ${job.prompt}/${job.seed}/${job.edited ? 'E' : 'O'}`);
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        onProgress(1, job.steps);
        const done = () => {
          concurrent--;
          current = null;
        };
        current = { job, resolve: (v) => (done(), resolve(v)), reject: (e) => (done(), reject(e)) };
      }),
    cancel: async () => {
      log.push('cancel');
      current?.reject(new Cancelled('cancelled'));
    },
    /** Finish the running job with the image "img:<prompt>/<seed>/<E|O>". */
    async finish() {
      await tick();
      const c = current!;
      c.resolve(`img:${c.job.prompt}/${c.job.seed}/${c.job.edited ? 'E' : 'O'}`);
      await tick();
    },
  };
  return worker;
}
const tick = () => new Promise((r) => setTimeout(r, 0));

const state = () => ({ ...defaultState(), prompts: [{ text: 'car', relation: 'self' as const }, { text: 'bus', relation: 'neighbour' as const }], seeds: [1, 2] });

describe('grid jobs', () => {
  it('lists prompt × seed × (original, erased) in display order with distinct keys', () => {
    const jobs = gridJobs(state());
    expect(jobs.map((j) => `${j.prompt}/${j.seed}/${j.edited ? 'E' : 'O'}`)).toEqual([
      'car/1/O', 'car/1/E', 'car/2/O', 'car/2/E', 'bus/1/O', 'bus/1/E', 'bus/2/O', 'bus/2/E',
    ]);
    expect(new Set(jobs.map((j) => j.key)).size).toBe(8);
    expect(gridJobs({ ...state(), edit: null })).toHaveLength(4);
  });

  it('keys originals without the edit, and erased images with it', () => {
    const a = state();
    const b = { ...a, edit: { ...a.edit!, lambda: 0.25 } as typeof a.edit };
    expect(jobKey(a, 'car', 1, false)).toBe(jobKey(b, 'car', 1, false));
    expect(jobKey(a, 'car', 1, true)).not.toBe(jobKey(b, 'car', 1, true));
    expect(jobKey(a, 'car', 1, false)).not.toBe(jobKey({ ...a, steps: 5 }, 'car', 1, false));
    // Key order inside the edit does not matter.
    const reordered = JSON.parse(JSON.stringify({ tokens: '2025', method: 'uce', ...a.edit }));
    expect(jobKey({ ...a, edit: reordered }, 'car', 1, true)).toBe(jobKey(a, 'car', 1, true));
  });
});

describe('grid scheduler', () => {
  it('renders one job at a time, in order, and caches results', async () => {
    const w = fakeWorker();
    const g = new GridScheduler<string>({ run: w.run, cancel: w.cancel });
    const jobs = gridJobs(state());
    g.setJobs(jobs);
    await tick();
    expect(g.running?.job.key).toBe(jobs[0]!.key);
    expect(g.running?.step).toBe(1);
    for (let i = 0; i < jobs.length; i++) await w.finish();
    expect(w.maxConcurrent).toBe(1);
    expect(w.log).toHaveLength(8);
    expect(g.results.get(jobs[3]!.key)).toEqual({ status: 'done', value: 'img:car/2/E' });
    g.setJobs(jobs); // all cached: nothing runs
    await tick();
    expect(g.running).toBeNull();
    expect(w.log).toHaveLength(8);
  });

  it('a new edit cancels the stale erased job, keeps originals, and ignores the cancelled result', async () => {
    const w = fakeWorker();
    const g = new GridScheduler<string>({ run: w.run, cancel: w.cancel });
    const s1 = state();
    g.setJobs(gridJobs(s1));
    await w.finish(); // car/1/O
    await tick();
    expect(w.current?.job.edited).toBe(true); // car/1/E running
    const s2 = { ...s1, edit: { ...s1.edit!, erase: ['bus'] } as typeof s1.edit };
    g.setJobs(gridJobs(s2));
    await tick();
    expect(w.log).toContain('cancel');
    // The cancelled job left no result; the original stays cached and is not re-run.
    expect([...g.results.values()].filter((r) => r.status === 'error')).toHaveLength(0);
    expect(g.results.has(gridJobs(s1)[1]!.key)).toBe(false);
    expect(w.current?.job.key).toBe(gridJobs(s2)[1]!.key);
    for (let i = 0; i < 7; i++) await w.finish();
    expect(w.log.filter((l) => l === 'run car/1/O')).toHaveLength(1);
    expect(gridJobs(s2).every((j) => g.results.get(j.key)?.status === 'done')).toBe(true);
  });

  it('does not cancel a running job the new list still wants', async () => {
    const w = fakeWorker();
    const g = new GridScheduler<string>({ run: w.run, cancel: w.cancel });
    const jobs = gridJobs(state());
    g.setJobs(jobs);
    await tick();
    g.setJobs([...jobs].reverse());
    await tick();
    expect(w.log).not.toContain('cancel');
    await w.finish();
    expect(g.results.get(jobs[0]!.key)?.status).toBe('done');
    expect(w.current?.job.key).toBe(jobs[7]!.key); // then the new order
  });

  it('records real errors on the cell, not cancellations', async () => {
    const w = fakeWorker();
    const g = new GridScheduler<string>({ run: w.run, cancel: w.cancel });
    const jobs = gridJobs(state()).slice(0, 2);
    g.setJobs(jobs);
    await tick();
    w.current!.reject(new Error('out of memory'));
    await tick();
    expect(g.results.get(jobs[0]!.key)).toEqual({ status: 'error', message: 'out of memory' });
  });

  it('exclusive() stops the running job, runs alone, re-queues it and resumes', async () => {
    const w = fakeWorker();
    const g = new GridScheduler<string>({ run: w.run, cancel: w.cancel });
    const jobs = gridJobs(state());
    g.setJobs(jobs);
    await tick();
    let inside = '';
    await g.exclusive(async () => {
      inside = `running=${String(g.running)} current=${String(w.current)}`;
      w.log.push('erase');
    });
    expect(inside).toBe('running=null current=null');
    await tick();
    expect(w.log.slice(0, 4)).toEqual(['run car/1/O', 'cancel', 'erase', 'run car/1/O']);
    for (let i = 0; i < 8; i++) await w.finish();
    expect(jobs.every((j) => g.results.get(j.key)?.status === 'done')).toBe(true);
  });

  it('exclusive() calls run one after another, in call order, and the queue waits for all of them', async () => {
    const w = fakeWorker();
    const g = new GridScheduler<string>({ run: w.run, cancel: w.cancel });
    const jobs = gridJobs(state());
    g.setJobs(jobs);
    await tick();
    let open = 0;
    let maxOpen = 0;
    const slow = (name: string, ms: number) => async () => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      w.log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      w.log.push(`end ${name}`);
      open--;
      return name;
    };
    const failing = g.exclusive(async () => {
      throw new Error('erase failed');
    });
    const results = await Promise.all([g.exclusive(slow('a', 20)), failing.catch((e: Error) => e.message), g.exclusive(slow('b', 1))]);
    expect(results).toEqual(['a', 'erase failed', 'b']);
    expect(maxOpen).toBe(1);
    await tick();
    expect(w.log[1]).toBe('cancel');
    // The queue resumes (with the cancelled job) only after the last one.
    expect(w.log.filter((l) => l !== 'cancel')).toEqual(['run car/1/O', 'start a', 'end a', 'start b', 'end b', 'run car/1/O']);
  });

  it('pause holds the queue; put() fills cells without rendering; stop() cancels', async () => {
    const w = fakeWorker();
    const g = new GridScheduler<string>({ run: w.run, cancel: w.cancel });
    const jobs = gridJobs(state());
    g.pause();
    g.setJobs(jobs);
    await tick();
    expect(w.log).toHaveLength(0);
    g.put(jobs[0]!.key, 'restored');
    expect(g.pending).toHaveLength(7);
    g.resume();
    await tick();
    expect(w.log).toEqual(['run car/1/E']);
    g.stop();
    await tick();
    expect(w.log).toEqual(['run car/1/E', 'cancel']);
    expect(g.running).toBeNull();
    expect(g.pending).toHaveLength(0);
  });
});
