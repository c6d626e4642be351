/**
 * The playground's reactive state and the one place that talks to the diffusion worker: model
 * download and load, applying an erasure, the compare grid's queue, share links, lessons and
 * persistence. Components read its fields and call its methods; they never call the worker.
 */
import { BUILTIN_MANIFESTS, getManifest, manifestFromFiles, type ModelManifest } from '../lib/models/manifests.ts';
import { detectCapabilities, type Capabilities } from '../lib/models/capabilities.ts';
import type { DownloadProgress } from '../lib/models/download.ts';
import type { StoredModel } from '../lib/models/store.ts';
import type { ErrorAction } from '../lib/models/store.ts';
import { fetchHubListing, manifestFromHubRepo } from '../lib/models/hub.ts';
import type { EraseRequest } from '../lib/erasure/request.ts';
import type { EraseSummary, LoadResult } from '../../workers/diffusion-api.ts';
import { AttentionRequests } from './attention-requests.ts';
import { GridScheduler, gridJobs, type GridJob, type CellResult } from '../app/grid.ts';
import { defaultState, modelKey, validateEdit, validateState, type PlaygroundState } from '../app/state.ts';
import { canonicalModel, decodeShareHash, encodeShareHash, hasShareHash, modelNeedsConsent, shareUrl } from '../app/share.ts';
import { Persistence, type Experiment, type StoredImage } from '../app/persist.ts';
import { editAtStep, getLesson, type Lesson } from '../app/lessons.ts';
import { errorAction, errorMessage } from '../app/errors.ts';
import { diffusionWorker, Comlink } from './diffusion-client.ts';
import { Judge } from './judge.svelte.ts';

export type Phase = 'idle' | 'consent' | 'downloading' | 'loading' | 'ready' | 'error';

export interface FileProgress {
  loaded: number;
  total: number | null;
}

export class Playground {
  state = $state<PlaygroundState>(defaultState());
  readonly embed: boolean;
  caps = $state<Capabilities | null>(null);
  stored = $state<StoredModel[]>([]);
  phase = $state<Phase>('idle');
  /** What the model panel says now (download / load / ready). */
  status = $state('');
  problem = $state<{ message: string; action: ErrorAction | null } | null>(null);
  files = $state<Record<string, FileProgress>>({});
  speed = $state<{ bytesPerSecond: number | null; etaSeconds: number | null; loaded: number; total: number } | null>(null);
  loaded = $state<(LoadResult & { modelKey: string; engine: string }) | null>(null);
  /** The manifest of a Hub model a link named (after the user agreed), for the model panel. */
  customManifest = $state<ModelManifest | null>(null);
  /** A share link that could not be used: its message. Nothing from it runs. */
  linkError = $state('');
  /** Set when an opened link names a model from an unknown source. */
  consent = $state<{ repo: string; revision: string } | null>(null);
  summary = $state<(EraseSummary & { wallMs: number }) | null>(null);
  eraseError = $state('');
  /** A prompt, seed or setting out of range (the grid keeps its last valid jobs). */
  settingsError = $state('');
  applying = $state(false);
  /** Bumped on every grid change, so views that read it re-render. */
  tick = $state(0);
  lesson = $state<{ lesson: Lesson; step: number } | null>(null);
  experiments = $state<Experiment[]>([]);
  /** Seconds per image measured here (last render), for the speed line. */
  measuredMs = $state<number | null>(null);

  readonly grid: GridScheduler<StoredImage>;
  readonly persistence = new Persistence();
  /** The Florence-2 judge: badges per image, corrections, agreement. */
  readonly judge: Judge;
  private readonly worker = diffusionWorker();
  private readonly base = new URL('./', document.baseURI).href;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;
  /** Per-word attention maps of a cell's pair, rendered on demand (the image dialog). */
  readonly attention: AttentionRequests;

  constructor({ embed }: { embed: boolean }) {
    this.embed = embed;
    this.grid = new GridScheduler<StoredImage>({
      run: (job, onProgress) => this.render(job, onProgress),
      cancel: () => this.worker.cancel(),
      onChange: () => {
        this.tick++;
        this.judge?.sync();
      },
    });
    this.grid.pause();
    this.judge = new Judge(this);
    this.attention = new AttentionRequests(this.worker, (fn) => this.grid.exclusive(fn));
  }

  /** The manifest of the current model (built-in, or the Hub one the user agreed to). */
  get manifest(): ModelManifest | null {
    const m = this.state.model;
    if (m.kind === 'builtin') return getManifest(m.id);
    return this.customManifest ? ($state.snapshot(this.customManifest) as ModelManifest) : null;
  }

  get jobs(): GridJob[] {
    return gridJobs(this.state);
  }

  /** A cell's result, or its progress while it renders (reads `tick`, so views update). */
  cell(key: string): { result?: CellResult<StoredImage>; progress?: number; queued: boolean } {
    void this.tick;
    const result = this.grid.results.get(key);
    if (result) return { result, queued: false };
    const r = this.grid.running;
    if (r && r.job.key === key) return { progress: r.steps ? r.step / r.steps : 0, queued: false };
    return { queued: true };
  }

  /** First steps: capabilities, what is stored, then the state from a link, the last session or the defaults. */
  async start(): Promise<void> {
    void detectCapabilities().then((c) => (this.caps = c));
    void this.refreshStored();
    void this.refreshExperiments();
    const hash = location.hash;
    if (hasShareHash(hash)) {
      try {
        this.state = await decodeShareHash(hash);
        this.state.model = canonicalModel(this.state.model);
      } catch (e) {
        this.linkError = errorMessage(e);
        return; // nothing from a bad link runs, not even the default model
      }
      // The link's state becomes this page's session (a reload keeps it, the hash goes).
      if (!this.embed) {
        history.replaceState(null, '', location.pathname + location.search);
        this.persist();
      }
    } else if (!this.embed) {
      const session = await this.persistence.loadSession().catch(() => null);
      if (session) {
        this.state = session.state;
        if (session.lesson) {
          try {
            this.lesson = { lesson: getLesson(session.lesson.id), step: session.lesson.step };
          } catch {
            this.lesson = null;
          }
        }
      }
    }
    await this.restoreImages();
    this.grid.setJobs(this.jobs);
    const m = this.state.model;
    if (m.kind === 'hub' && modelNeedsConsent(m)) {
      this.consent = { repo: m.repo, revision: m.revision };
      this.phase = 'consent';
      return;
    }
    await this.autoLoad();
  }

  /** Load without asking when it costs nothing: the offline model, or one already stored. */
  private async autoLoad(): Promise<void> {
    const manifest = this.manifest;
    if (!manifest) return;
    const stored = await this.refreshStored();
    const complete = stored.some((s) => s.id === manifest.id && s.complete);
    if (manifest.source.kind === 'builtin' || complete) await this.loadModel();
    else this.status = `${manifest.label} is not stored in this browser yet. Download it to start.`;
  }

  /** Leave a bad link: start from the last session or the defaults. */
  async dismissLink(): Promise<void> {
    this.linkError = '';
    history.replaceState(null, '', location.pathname + (this.embed ? '?embed' : ''));
    await this.autoLoad();
  }

  async refreshStored(): Promise<StoredModel[]> {
    try {
      this.stored = await this.worker.listStored();
    } catch {
      this.stored = [];
    }
    return this.stored;
  }

  /** The user agreed to fetch an unknown Hub repo named by a link: list it, build its manifest. */
  async acceptConsent(): Promise<void> {
    const c = this.consent;
    if (!c) return;
    this.consent = null;
    this.status = `Listing ${c.repo}@${c.revision} on the Hugging Face Hub…`;
    try {
      this.customManifest = manifestFromHubRepo(c.repo, c.revision, await fetchHubListing(c.repo, c.revision));
      this.phase = 'idle';
      this.status = `${this.customManifest.label}: ready to download.`;
    } catch (e) {
      this.fail(e);
    }
  }

  /** The user declined a link's unknown model: fall back to the offline one, keep the rest. */
  async declineConsent(): Promise<void> {
    this.consent = null;
    this.state.model = { kind: 'builtin', id: 'tiny' };
    this.state.steps = getManifest('tiny').defaults.steps;
    this.phase = 'idle';
    await this.loadModel();
  }

  /** Pick another built-in model (its defaults become the settings); loads it if that is free. */
  async chooseModel(id: string): Promise<void> {
    const m = getManifest(id);
    this.state.model = { kind: 'builtin', id };
    this.state.steps = m.defaults.steps;
    this.state.guidance = m.defaults.guidance;
    this.loaded = null;
    this.summary = null;
    this.grid.pause();
    this.grid.setJobs(this.jobs);
    this.persist();
    await this.autoLoad();
  }

  private fail(e: unknown): void {
    this.phase = 'error';
    let message = errorMessage(e);
    if (this.embed && /denied|SecurityError|not allowed/i.test(`${(e as Error)?.name} ${message}`)) {
      // Browsers that block third-party storage refuse OPFS/IndexedDB to an embedded page.
      message = `This browser does not let embedded pages store data (${message}), and the model must be stored to run. Open the full lab to try it.`;
    }
    this.problem = { message, action: errorAction(e) };
    this.status = '';
  }

  private onDownload(p: DownloadProgress): void {
    this.files = { ...this.files, [p.file]: { loaded: p.fileLoaded, total: p.fileTotal } };
    this.speed = { bytesPerSecond: p.bytesPerSecond, etaSeconds: p.etaSeconds, loaded: p.loaded, total: p.total };
  }

  /**
   * Download (or resume) the current model into browser storage, then load it. `accessToken`
   * (gated Hub repos) goes to the worker for this download only; it is never stored.
   */
  async loadModel({ restart = false, accessToken }: { restart?: boolean; accessToken?: string } = {}): Promise<void> {
    const manifest = this.manifest;
    if (!manifest) return;
    this.problem = null;
    this.grid.pause();
    try {
      this.phase = 'downloading';
      this.status = `Storing ${manifest.label}…`;
      this.files = {};
      // Picked files are already in storage (useLocalFiles); there is nothing to download.
      if (manifest.source.kind !== 'local') {
        await this.worker.download(
          { manifest, baseUrl: this.base, ...(restart ? { restart } : {}), ...(accessToken ? { accessToken } : {}) },
          Comlink.proxy((p: DownloadProgress) => this.onDownload(p)),
        );
      }
      void this.refreshStored();
      this.phase = 'loading';
      this.status = `Loading ${manifest.label} (creating the engine's sessions)…`;
      const r = await this.grid.exclusive(() => this.worker.load({ manifest, baseUrl: this.base, preference: this.state.engine }));
      this.loaded = { ...r, modelKey: modelKey(this.state.model), engine: this.state.engine };
      this.phase = 'ready';
      this.status = `${manifest.label} is ready on ${r.provider.toUpperCase()} (loaded in ${(r.loadMs / 1000).toFixed(1)} s).`;
      if (this.state.edit) await this.applyEdit(this.state.edit);
      this.grid.setJobs(this.jobs);
      this.grid.resume();
    } catch (e) {
      this.fail(e);
    }
  }

  // ── your own model: a Hub repo or files from this computer ──

  /**
   * List a Hub repo at a revision and build its manifest (files, exact sizes, warnings), for the
   * user to check before downloading. Throws with a message naming what is wrong (absent repo,
   * gated without a token, not a diffusers ONNX layout).
   */
  async previewHubModel(repo: string, revision: string, accessToken?: string): Promise<ModelManifest> {
    const ref = validateState({ ...defaultState(), model: { kind: 'hub', repo: repo.trim(), revision: revision.trim() || 'main' } }).model;
    if (ref.kind !== 'hub') throw new Error('Not a Hub repo.');
    const listing = await fetchHubListing(ref.repo, ref.revision, accessToken ? { accessToken } : {});
    return manifestFromHubRepo(ref.repo, ref.revision, listing);
  }

  /** Make a previewed Hub manifest the current model, then download and load it. */
  async useHubModel(manifest: ModelManifest, accessToken?: string): Promise<void> {
    if (manifest.source.kind !== 'hub') throw new Error(`'${manifest.label}' is not a Hub model.`);
    this.switchToCustom({ kind: 'hub', repo: manifest.source.repo, revision: manifest.source.revision }, manifest);
    await this.loadModel(accessToken ? { accessToken } : {});
  }

  /**
   * Use model files picked or dropped from this computer: build their manifest (throws a
   * ManifestError listing what is missing when the folder is not a diffusers ONNX layout), store
   * them in browser storage with per-file progress, then load.
   */
  async useLocalFiles(picked: readonly File[]): Promise<void> {
    const { manifest, files } = manifestFromFiles(picked);
    // Never saved with the session nor put in a link (see persist and links).
    this.switchToCustom({ kind: 'local', id: manifest.id }, manifest);
    this.problem = null;
    this.phase = 'downloading';
    this.status = `Storing ${manifest.label} in this browser…`;
    this.files = {};
    try {
      await this.worker.importFiles(manifest, Object.fromEntries(files), Comlink.proxy((p: DownloadProgress) => this.onDownload(p)));
    } catch (e) {
      this.fail(e);
      return;
    }
    await this.loadModel();
  }

  /** True while the current model is one made of picked files (it is not saved with the session). */
  get isLocalModel(): boolean {
    return this.state.model.kind === 'local';
  }

  /** The current model becomes a custom one: its defaults become the settings, the grid waits. */
  private switchToCustom(ref: PlaygroundState['model'], manifest: ModelManifest): void {
    this.consent = null;
    this.customManifest = manifest;
    this.state.model = ref;
    this.state.steps = manifest.defaults.steps;
    this.state.guidance = manifest.defaults.guidance;
    this.loaded = null;
    this.summary = null;
    this.grid.pause();
    this.grid.setJobs(this.jobs);
    this.persist();
  }

  async abortDownload(): Promise<void> {
    await this.worker.abortDownload();
  }

  async deleteStored(id: string | 'all'): Promise<void> {
    await this.worker.deleteStored(id);
    await this.refreshStored();
  }

  /**
   * Compute an erasure in the worker and make it the grid's edit. Only a successful edit replaces
   * the current one (the erased column re-renders; originals stay).
   */
  async applyEdit(edit: EraseRequest | null): Promise<boolean> {
    this.eraseError = '';
    let request: EraseRequest | null;
    try {
      request = edit === null ? null : validateEdit(JSON.parse(JSON.stringify(edit)));
    } catch (e) {
      this.eraseError = errorMessage(e);
      return false;
    }
    if (!this.loaded) {
      // No model yet: keep the edit; it is applied when the model loads.
      this.state.edit = request;
      this.grid.setJobs(this.jobs);
      this.persist();
      return true;
    }
    this.applying = true;
    try {
      const t0 = performance.now();
      const summary = await this.grid.exclusive(async () => (request ? this.worker.erase(request) : (await this.worker.setEdit(null), null)));
      this.summary = summary ? { ...summary, wallMs: performance.now() - t0 } : null;
      this.state.edit = request;
      this.grid.setJobs(this.jobs);
      this.persist();
      return true;
    } catch (e) {
      this.eraseError = errorMessage(e);
      return false;
    } finally {
      this.applying = false;
    }
  }

  /** Prompts, seeds or settings changed: re-queue the grid and save. */
  gridChanged(): void {
    try {
      validateState($state.snapshot(this.state));
      this.settingsError = '';
    } catch (e) {
      this.settingsError = errorMessage(e);
      return;
    }
    this.grid.setJobs(this.jobs);
    this.persist();
  }

  /** Engine changed: reload on the new engine. */
  async engineChanged(): Promise<void> {
    this.persist();
    if (this.loaded) await this.loadModel();
  }

  /** Render again a cell that failed. */
  retry(key: string): void {
    this.grid.forget(key);
    this.grid.setJobs(this.jobs);
  }

  private async render(job: GridJob, onProgress: (s: number, n: number) => void): Promise<StoredImage> {
    const r = await this.worker.generate(
      { prompt: job.prompt, seed: job.seed, steps: job.steps, guidance: job.guidance, edited: job.edited },
      Comlink.proxy((p: { step: number; steps: number }) => onProgress(p.step, p.steps)),
    );
    this.measuredMs = r.timings.totalMs;
    const image = { width: r.width, height: r.height, rgba: r.rgba };
    void this.persistence.putImage(job.key, image).catch(() => {});
    return image;
  }

  private async restoreImages(): Promise<void> {
    for (const job of this.jobs) {
      const img = await this.persistence.getImage(job.key).catch(() => null);
      if (img) this.grid.put(job.key, img);
      await this.judge.restore(job.key);
    }
  }

  /** Save the session soon (debounced). */
  persist(): void {
    // A model of picked files cannot come back after a reload (the files are not named by the state).
    if (this.embed || this.isLocalModel) return;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => void this.saveNow(), 150);
  }

  async saveNow(): Promise<void> {
    if (this.embed) return;
    const lesson = this.lesson ? { id: this.lesson.lesson.id, step: this.lesson.step } : null;
    await this.persistence.saveSession({ state: $state.snapshot(this.state) as PlaygroundState, lesson }).catch(() => {});
  }

  /** The share link of the current state (and the embed URL). */
  async links(): Promise<{ share: string; embed: string }> {
    const hash = await encodeShareHash($state.snapshot(this.state) as PlaygroundState);
    return { share: shareUrl(location.href, hash), embed: shareUrl(location.href, hash, { embed: true }) };
  }

  // ── lessons ──
  async startLesson(id: string): Promise<void> {
    const lesson = getLesson(id);
    this.lesson = { lesson, step: 0 };
    this.state.prompts = lesson.prompts.map((p) => ({ ...p }));
    this.state.seeds = [...lesson.seeds];
    await this.applyEdit(editAtStep(lesson, 0));
    this.gridChanged();
  }

  async lessonStep(delta: number): Promise<void> {
    const l = this.lesson;
    if (!l) return;
    const step = Math.max(0, Math.min(l.lesson.steps.length - 1, l.step + delta));
    const before = editAtStep(l.lesson, l.step);
    this.lesson = { lesson: l.lesson, step };
    const edit = editAtStep(l.lesson, step);
    if (edit !== before) await this.applyEdit(edit);
    this.persist();
  }

  endLesson(): void {
    this.lesson = null;
    this.persist();
  }

  // ── experiments ──
  async refreshExperiments(): Promise<void> {
    this.experiments = await this.persistence.listExperiments().catch(() => []);
  }

  async saveExperiment(name: string): Promise<void> {
    const s = this.summary;
    const note = s ? `rank ${s.diagnostics.rank}, ${s.ms.toFixed(0)} ms` : '';
    await this.persistence.saveExperiment(name, $state.snapshot(this.state) as PlaygroundState, note);
    await this.refreshExperiments();
  }

  async openExperiment(e: Experiment): Promise<void> {
    const modelChanged = modelKey(e.state.model) !== modelKey(this.state.model);
    this.state = structuredClone(e.state);
    this.lesson = null;
    await this.restoreImages();
    if (modelChanged || !this.loaded) {
      this.loaded = null;
      this.grid.pause();
      this.grid.setJobs(this.jobs);
      await this.autoLoad();
    } else {
      await this.applyEdit(this.state.edit);
    }
    this.persist();
  }

  async deleteExperiment(id: string): Promise<void> {
    await this.persistence.deleteExperiment(id);
    await this.refreshExperiments();
  }
}

export { BUILTIN_MANIFESTS };
