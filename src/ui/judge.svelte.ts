/**
 * The judge's state in the playground and the one place that talks to the judge worker: asking
 * before the download, loading Florence-2 with progress, judging each grid image as it arrives
 * (`<OD>` + `<MORE_DETAILED_CAPTION>`), presence decisions for each cell's badges, the users'
 * corrections (kept with the image's record in storage), totals and agreement.
 */
import * as Comlink from 'comlink';
import type { ClipLoadRequest, ClipLoadResult, JudgeLoadResult, JudgeProgress, JudgeWorkerApi } from '../../workers/judge-api.ts';
import { decidePresence, type PresenceDecision, type Verdict } from '../lib/eval/presence.ts';
import { agreement, type JudgedItem } from '../lib/eval/agreement.ts';
import { gridTotals } from '../lib/eval/totals.ts';
import type { Box, BoxesResult, TextResult } from '../lib/eval/florence-parse.ts';
import { assignAttributes, parsePromptObjects, type AttributeAssignment } from '../lib/eval/leakage.ts';
import { cellBadges, columnLabels, evidenceLines, judgedCells, type BadgeSpec, type JudgeRecord } from '../app/judge-records.ts';
import { FLORENCE_2_BASE_FT, judgeDownload, judgeOverride, type JudgeOverride } from '../app/judge-source.ts';
import { errorMessage } from '../app/errors.ts';
import type { GridJob } from '../app/grid.ts';
import type { Playground } from './playground.svelte.ts';

export type JudgePhase = 'off' | 'consent' | 'loading' | 'ready' | 'error';

/** A badge as the grid shows it. */
export interface Badge extends BadgeSpec {
  decision: PresenceDecision;
  /** The user's verdict when corrected, else the judge's. */
  shown: Verdict;
  corrected: boolean;
  evidence: string[];
}

const decisionId = (key: string, concept: string) => `${key}\u0000${concept}`;

export class Judge {
  phase = $state<JudgePhase>('off');
  /** What the judge is doing, for the panel. */
  status = $state('');
  error = $state('');
  progress = $state<{ loaded: number; total: number } | null>(null);
  loadInfo = $state<JudgeLoadResult | null>(null);
  /** The CLIP text model used for words the concept lists miss, once `enableClip` has loaded it. */
  clipInfo = $state<ClipLoadResult | null>(null);
  /** Key of the image being judged now. */
  judging = $state<string | null>(null);
  /** Bumped when records, decisions or corrections change. */
  version = $state(0);
  /** The `?judge=` folder (tests, mirrors) or null for the Hub model; `overrideError` when refused. */
  readonly override: JudgeOverride | null = null;
  readonly overrideError: string = '';

  private readonly records = new Map<string, JudgeRecord>();
  private readonly decisions = new Map<string, PresenceDecision>();
  private readonly failures = new Map<string, string>();
  private api: Comlink.Remote<JudgeWorkerApi> | null = null;
  private worker: Worker | null = null;
  private draining = false;
  /** Judge calls run one at a time (one set of sessions in the worker). */
  private queue: Promise<unknown> = Promise.resolve();
  private deciding = false;
  private decideAgain = false;

  constructor(private readonly pg: Playground) {
    try {
      this.override = judgeOverride(location.search, document.baseURI);
    } catch (e) {
      this.overrideError = errorMessage(e);
    }
  }

  get source() {
    return this.override?.source ?? FLORENCE_2_BASE_FT;
  }

  /** What turning the judge on downloads here, and whether it is already stored. */
  get download() {
    const d = judgeDownload(this.source, this.pg.state.engine, this.pg.caps);
    return { ...d, stored: this.pg.stored.some((s) => s.id === d.id && s.complete) };
  }

  /** The user pressed "Judge": ask first unless the files are already stored. */
  ask(): void {
    if (this.overrideError) return;
    this.error = '';
    if (this.download.stored) void this.start();
    else this.phase = 'consent';
  }

  decline(): void {
    this.phase = 'off';
  }

  /** Download (or resume) and load the judge, then judge every image of the grid. */
  async start(): Promise<void> {
    this.phase = 'loading';
    this.error = '';
    this.status = `Storing ${this.source.label}…`;
    try {
      this.worker ??= new Worker(new URL('../../workers/judge.worker.ts', import.meta.url), { type: 'module', name: 'judge' });
      this.api ??= Comlink.wrap<JudgeWorkerApi>(this.worker);
      const onProgress = Comlink.proxy((p: JudgeProgress) => this.onProgress(p));
      this.loadInfo = await this.api.load({ source: this.source, ...(this.override ? { baseUrl: this.override.baseUrl } : {}), preference: this.pg.state.engine }, onProgress);
      this.progress = null;
      this.phase = 'ready';
      this.status = `Judge ready on ${this.loadInfo.device.toUpperCase()}: ${this.loadInfo.reason}`;
      void this.pg.refreshStored();
      this.sync();
    } catch (e) {
      this.phase = 'error';
      this.error = errorMessage(e);
      this.status = '';
    }
  }

  private onProgress(p: JudgeProgress): void {
    if (p.phase === 'download') {
      this.progress = { loaded: p.download.loaded, total: p.download.total };
      this.status = `Storing ${this.source.label}…`;
    } else if (p.phase === 'loading') {
      this.progress = null;
      this.status = `Creating the judge's sessions (${p.file})…`;
    } else if (p.phase === 'warming-up') this.status = 'Warming up the judge…';
  }

  /**
   * Load the judge worker's CLIP text model (about 64 MB from the Hub by default) so presence
   * decisions compare words the lists miss by CLIP similarity; badges are decided again with it.
   * Needs the judge loaded (same worker).
   */
  async enableClip(request: ClipLoadRequest = {}): Promise<void> {
    const api = this.api;
    if (this.phase !== 'ready' || !api) throw new Error('Turn the judge on first: CLIP similarity runs in the judge worker.');
    this.clipInfo = await this.serial(() => api.loadClip(request));
    this.decisions.clear();
    this.version++;
    void this.decideMissing();
  }

  /** Stop judging and release the model (badges already judged stay). */
  async turnOff(): Promise<void> {
    this.phase = 'off';
    this.status = '';
    this.clipInfo = null;
    await this.api?.unload().catch(() => {});
  }

  /** Called on every grid change: decide badges that lack a decision, judge images that lack a record. */
  sync(): void {
    void this.decideMissing();
    if (this.phase === 'ready' && !this.draining) void this.drain();
  }

  /** Load the stored record of an image (after a reload or when an experiment opens). */
  async restore(key: string): Promise<void> {
    if (this.records.has(key)) return;
    const r = await this.pg.persistence.getJudgement(key).catch(() => null);
    if (r) {
      this.records.set(key, r);
      this.version++;
      void this.decideMissing();
    }
  }

  private nextImage(): { job: GridJob; image: { width: number; height: number; rgba: Uint8ClampedArray } } | null {
    for (const job of this.pg.jobs) {
      const r = this.pg.grid.results.get(job.key);
      if (r?.status === 'done' && !this.records.has(job.key) && !this.failures.has(job.key)) return { job, image: r.value };
    }
    return null;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let next = this.nextImage(); next && this.phase === 'ready' && this.api; next = this.nextImage()) {
        this.judging = next.job.key;
        try {
          const api = this.api;
          const image = { ...next.image };
          const { results } = await this.serial(() => api.judge(image, [{ task: '<OD>' }, { task: '<MORE_DETAILED_CAPTION>' }]));
          const od = results[0]!.result as BoxesResult;
          const caption = (results[1]!.result as TextResult).text;
          const record: JudgeRecord = { imageKey: next.job.key, od: { labels: od.labels, bboxes: od.bboxes }, caption, at: Date.now(), corrections: {} };
          this.records.set(record.imageKey, record);
          void this.pg.persistence.putJudgement(record).catch(() => {});
        } catch (e) {
          if (this.phase !== 'ready') break;
          this.failures.set(next.job.key, errorMessage(e));
        }
        this.version++;
        await this.decideMissing();
      }
    } finally {
      this.draining = false;
      this.judging = null;
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Attribute leakage in one image of a prompt with objects and attributes ("a wooden bench and
   * a bird"): ground each object (boxes) and the caption's phrases, and decide which object
   * carries each attribute (eval/leakage.ts). Needs the judge loaded.
   */
  async leakage(prompt: string, image: { width: number; height: number; rgba: Uint8ClampedArray }, key?: string): Promise<{ objects: { noun: string; boxes: Box[] }[]; assignments: AttributeAssignment[]; caption: string }> {
    const api = this.api;
    if (this.phase !== 'ready' || !api) throw new Error('Turn the judge on first: leakage needs Florence-2 to ground the objects.');
    const objects = parsePromptObjects(prompt);
    if (objects.length < 2) throw new Error(`Leakage needs a prompt with two objects, like "a wooden bench and a bird"; "${prompt}" has ${objects.length}.`);
    const img = { width: image.width, height: image.height, rgba: image.rgba };
    let caption = key ? this.records.get(key)?.caption : undefined;
    if (caption === undefined) caption = ((await this.serial(() => api.judge(img, [{ task: '<MORE_DETAILED_CAPTION>' }]))).results[0]!.result as TextResult).text;
    // Grounding the caption boxes its phrases ("a wooden bird"); grounding each noun boxes the objects.
    const ground = (text: string) => ({ task: '<CAPTION_TO_PHRASE_GROUNDING>' as const, text });
    const withCaption = caption.trim() !== '';
    const tasks = [...(withCaption ? [ground(caption)] : []), ...objects.map((o) => ground(o.noun))];
    const results = (await this.serial(() => api.judge(img, tasks))).results.map((r) => r.result as BoxesResult);
    const phrases = withCaption ? results.shift()! : { labels: [], bboxes: [] };
    const perObject = results;
    return {
      objects: objects.map((o, i) => ({ noun: o.noun, boxes: perObject[i]!.bboxes })),
      assignments: assignAttributes(prompt, { caption, grounding: { labels: phrases.labels, bboxes: phrases.bboxes } }),
      caption,
    };
  }

  /** Presence decisions for every badge of the grid whose image has a record. */
  private async decideMissing(): Promise<void> {
    if (this.deciding) {
      this.decideAgain = true;
      return;
    }
    this.deciding = true;
    try {
      do {
        this.decideAgain = false;
        await this.decideOnce();
      } while (this.decideAgain);
    } finally {
      this.deciding = false;
    }
  }

  private async decideOnce(): Promise<void> {
    let changed = false;
    for (const job of this.pg.jobs) {
      const record = this.records.get(job.key);
      const prompt = this.pg.state.prompts.find((p) => p.text === job.prompt);
      if (!record || !prompt) continue;
      for (const b of cellBadges(this.pg.state, prompt)) {
        const id = decisionId(job.key, b.concept);
        if (this.decisions.has(id)) continue;
        const api = this.api;
        // The worker's CLIP similarity (SimilarityFn's argument order), queued with the judge's other calls.
        const similarity = this.clipInfo && api ? (concept: string, words: string[]) => this.serial(() => api.similarity(concept, words)) : undefined;
        this.decisions.set(id, await decidePresence(b.concept, { od: record.od, caption: record.caption }, similarity ? { similarity } : {}));
        changed = true;
      }
    }
    if (changed) this.version++;
  }

  /** The badges of a cell (empty until its image is judged), or its judging error. */
  cell(job: GridJob): { badges: Badge[]; judging: boolean; error?: string } {
    void this.version;
    const record = this.records.get(job.key);
    const prompt = this.pg.state.prompts.find((p) => p.text === job.prompt);
    const error = this.failures.get(job.key);
    if (!record || !prompt) return { badges: [], judging: this.judging === job.key, ...(error ? { error } : {}) };
    const badges = cellBadges(this.pg.state, prompt).flatMap((b): Badge[] => {
      const decision = this.decisions.get(decisionId(job.key, b.concept));
      if (!decision) return [];
      const correction = record.corrections[b.concept];
      return [{ ...b, decision, shown: correction?.verdict ?? decision.verdict, corrected: !!correction, evidence: evidenceLines(decision, record) }];
    });
    return { badges, judging: false };
  }

  /** Set (or with null, remove) a user's verdict for a concept in an image; saved with its record. */
  async correct(key: string, concept: string, verdict: 'present' | 'absent' | null): Promise<void> {
    const record = this.records.get(key);
    if (!record) throw new Error(`The image ${key} has not been judged yet; nothing to correct.`);
    const corrections = { ...record.corrections };
    if (verdict) corrections[concept] = { verdict, at: Date.now() };
    else delete corrections[concept];
    const next = { ...record, corrections };
    this.records.set(key, next);
    this.version++;
    await this.pg.persistence.putJudgement(next).catch(() => {});
  }

  /** Judged (image, concept) pairs of the current grid with their corrections. */
  items(): JudgedItem[] {
    void this.version;
    return this.pg.jobs.flatMap((job) =>
      this.cell(job).badges.map((b) => ({ imageId: job.key, concept: b.concept, judge: b.decision, ...(b.corrected ? { correction: this.records.get(job.key)!.corrections[b.concept]! } : {}) })),
    );
  }

  /** Totals per row, column and overall (shown verdicts), with the row and column names. */
  totals() {
    void this.version;
    const s = this.pg.state;
    const shown = new Map(this.pg.jobs.flatMap((job) => this.cell(job).badges.map((b) => [decisionId(job.key, b.concept), b.shown] as const)));
    const cells = judgedCells(s, this.pg.jobs, (key, concept) => shown.get(decisionId(key, concept)) ?? null);
    const cols = columnLabels(s);
    const totals = gridTotals(cells, { rows: s.prompts.length, cols: cols.length });
    return { totals, judged: cells.length, rows: s.prompts.map((p) => p.text), cols, concepts: Object.keys(totals.all).sort() };
  }

  /** The judge's agreement with the users' corrections. */
  agreement() {
    return agreement(this.items());
  }
}
