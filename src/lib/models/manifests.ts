/**
 * Model manifests: what files make up a Stable Diffusion pipeline, where they come from, and how
 * to run it (tokenizer, scheduler, defaults, context width d, adapter features). The built-in
 * manifests are data (manifests/*.json); users can also bring their own (hub.ts builds one from
 * a Hub listing, {@link manifestFromFiles} from dropped files). Every manifest goes through
 * {@link validateManifest}, which lists every problem at once.
 */
import sdTurbo from './manifests/sd-turbo.json' with { type: 'json' };
import sd14 from './manifests/sd-1-4.json' with { type: 'json' };
import sd15 from './manifests/sd-1-5.json' with { type: 'json' };
import tiny from './manifests/tiny.json' with { type: 'json' };
import { isSha256Hex } from './checksum.ts';

/** What a file is for in the pipeline. */
export type FileRole = 'text_encoder' | 'unet' | 'vae_decoder' | 'external_data' | 'config' | 'onnx';

/** What a manifest describes: a Stable Diffusion pipeline (default) or the Florence-2 judge. */
export type ModelKind = 'stable-diffusion' | 'florence-2' | 'clip-text';

/** One file of a model. Unknown size or checksum is said plainly: 'unknown', never a guess. */
export interface ManifestFile {
  /** Path inside the model folder / repo, with '/' separators: 'unet/model.onnx'. */
  path: string;
  role: FileRole;
  /** Exact size in bytes, checked after download; 'unknown' when not published. */
  size: number | 'unknown';
  /** Approximate size in bytes, for progress, ETA and the quota check before downloading. */
  approxSize: number;
  /** SHA-256 of the file (64 lower-case hex), checked after download; 'unknown' when not published. */
  sha256: string | 'unknown';
}

/** Where the files come from. */
export type ManifestSource =
  | { kind: 'hub'; repo: string; revision: string }
  | { kind: 'builtin'; path: string }
  | { kind: 'local' };

/** Scheduler settings, named like diffusers' scheduler_config.json (camelCased). */
export interface ManifestScheduler {
  name: 'EulerDiscrete' | 'EulerAncestralDiscrete' | 'DDIM' | 'DPMSolverMultistep';
  betaSchedule: 'scaled_linear';
  betaStart: number;
  betaEnd: number;
  numTrainTimesteps: number;
  stepsOffset: number;
  timestepSpacing: 'linspace' | 'leading' | 'trailing';
  /** σ of the first step where it is part of how the model is used (SD-Turbo: 14.6146). */
  initSigma?: number;
}

/** A model manifest (see manifests/*.json for the built-in ones). */
export interface ModelManifest {
  /** 'stable-diffusion' when absent. A Florence-2 manifest is a file set: its pipeline fields are unused. */
  kind?: ModelKind;
  /** Storage key: lower-case letters, digits, '-', '_', '.'. */
  id: string;
  label: string;
  source: ManifestSource;
  /** One paragraph: what these files are and why this export. */
  about: string;
  files: ManifestFile[];
  /** The app ships the CLIP tokenizer at `tokenizers/clip/`; the pad id differs per model. */
  tokenizer: { path: string; padTokenId: number; maxLength: number };
  scheduler: ManifestScheduler;
  /** Defaults for the UI: steps, guidance scale (≤ 1 = no classifier-free guidance). */
  defaults: { steps: number; guidance: number; minSteps?: number; maxSteps?: number };
  /** Context width d of the text encoder output (768 SD 1.x, 1024 SD 2.x / SD-Turbo); null = read it from the model. */
  contextWidth: number | null;
  /** Latent height = width (64 for 512×512 images). */
  latentSize: number;
  vaeScalingFactor: number;
  weights: 'float16' | 'float32' | 'unknown';
  /** What the WebGPU adapter must offer; null = not known until the weights are read. */
  requires: { shaderF16: boolean | null };
  /** Sum of the files' approxSize, in bytes. */
  approxDownloadBytes: number;
  /** Known problems a user should see before downloading (size limits, gated repos, …). */
  warnings: string[];
}

/** Raised for a manifest that does not describe a usable model; lists every problem found. */
export class ManifestError extends Error {
  override name = 'ManifestError';
  /** One line per problem, each naming the field. */
  readonly problems: string[];
  constructor(label: string, problems: string[]) {
    super(`${label} is not a valid model manifest:\n- ${problems.join('\n- ')}`);
    this.problems = problems;
  }
}

/** The three graphs every pipeline needs, by role and the diffusers ONNX path. */
export const REQUIRED_PARTS: readonly { role: FileRole; path: string }[] = [
  { role: 'text_encoder', path: 'text_encoder/model.onnx' },
  { role: 'unet', path: 'unet/model.onnx' },
  { role: 'vae_decoder', path: 'vae_decoder/model.onnx' },
];

const ROLES: readonly FileRole[] = ['text_encoder', 'unet', 'vae_decoder', 'external_data', 'config', 'onnx'];
const SCHEDULERS = ['EulerDiscrete', 'EulerAncestralDiscrete', 'DDIM', 'DPMSolverMultistep'];
const SPACINGS = ['linspace', 'leading', 'trailing'];

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isPosInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x > 0;
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Problems of one file entry (empty when fine). */
function fileProblems(f: unknown, at: string): string[] {
  if (!isObj(f)) return [`${at} must be an object {path, role, size, approxSize, sha256}`];
  const p: string[] = [];
  if (typeof f.path !== 'string' || !/^[^/\\][^\\]*$/.test(f.path) || f.path.split('/').some((s) => s === '' || s === '..' || s === '.')) {
    p.push(`${at}.path must be a relative path like 'unet/model.onnx' (got ${JSON.stringify(f.path)})`);
  }
  if (!ROLES.includes(f.role as FileRole)) p.push(`${at}.role must be one of ${ROLES.join(', ')} (got ${JSON.stringify(f.role)})`);
  if (f.size !== 'unknown' && !isPosInt(f.size)) p.push(`${at}.size must be a byte count or 'unknown' (got ${JSON.stringify(f.size)})`);
  if (!isPosInt(f.approxSize)) p.push(`${at}.approxSize must be a positive byte count (got ${JSON.stringify(f.approxSize)})`);
  if (f.sha256 !== 'unknown' && !isSha256Hex(f.sha256)) {
    p.push(`${at}.sha256 must be 64 hex characters or 'unknown' (got ${JSON.stringify(f.sha256)}); never guess a checksum`);
  }
  return p;
}

/** Problems of the source field. */
function sourceProblems(s: unknown): string[] {
  if (!isObj(s)) return [`source must be {kind:'hub', repo, revision}, {kind:'builtin', path} or {kind:'local'}`];
  if (s.kind === 'hub') {
    const p: string[] = [];
    if (typeof s.repo !== 'string' || !/^[\w.-]+\/[\w.-]+$/.test(s.repo)) p.push(`source.repo must look like 'owner/name' (got ${JSON.stringify(s.repo)})`);
    if (typeof s.revision !== 'string' || s.revision === '') p.push(`source.revision must be a branch, tag or commit (e.g. 'main')`);
    return p;
  }
  if (s.kind === 'builtin') return typeof s.path === 'string' && s.path.endsWith('/') ? [] : [`source.path must be a folder ending in '/' (got ${JSON.stringify(s.path)})`];
  if (s.kind === 'local') return [];
  return [`source.kind must be 'hub', 'builtin' or 'local' (got ${JSON.stringify(s.kind)})`];
}

/** Problems of how to run the model (tokenizer, scheduler, defaults, sizes). */
function runProblems(m: Record<string, unknown>): string[] {
  const p: string[] = [];
  const tok = m.tokenizer;
  if (!isObj(tok) || typeof tok.path !== 'string' || !Number.isInteger(tok.padTokenId) || !isPosInt(tok.maxLength)) {
    p.push(`tokenizer must be {path: 'tokenizers/clip/', padTokenId: integer, maxLength: 77}`);
  }
  const s = m.scheduler;
  if (!isObj(s)) p.push('scheduler must be an object (diffusers scheduler_config fields, camelCased)');
  else {
    if (!SCHEDULERS.includes(s.name as string)) p.push(`scheduler.name must be one of ${SCHEDULERS.join(', ')} (got ${JSON.stringify(s.name)})`);
    if (s.betaSchedule !== 'scaled_linear') p.push(`scheduler.betaSchedule must be 'scaled_linear' (the only schedule Stable Diffusion uses)`);
    if (!isNum(s.betaStart) || !isNum(s.betaEnd) || !(s.betaStart > 0 && s.betaStart < s.betaEnd && s.betaEnd < 1)) p.push('scheduler needs 0 < betaStart < betaEnd < 1');
    if (!isPosInt(s.numTrainTimesteps)) p.push('scheduler.numTrainTimesteps must be a positive integer (1000)');
    if (!Number.isInteger(s.stepsOffset) || (s.stepsOffset as number) < 0) p.push('scheduler.stepsOffset must be a non-negative integer');
    if (!SPACINGS.includes(s.timestepSpacing as string)) p.push(`scheduler.timestepSpacing must be one of ${SPACINGS.join(', ')}`);
  }
  const d = m.defaults;
  if (!isObj(d) || !isPosInt(d.steps) || !isNum(d.guidance) || d.guidance < 0) p.push('defaults must be {steps: positive integer, guidance: number ≥ 0}');
  if (m.contextWidth !== null && !isPosInt(m.contextWidth)) p.push(`contextWidth must be a positive integer (768 for SD 1.x, 1024 for SD 2.x / SD-Turbo) or null`);
  if (!isPosInt(m.latentSize) || (m.latentSize as number) % 8 !== 0) p.push('latentSize must be a positive multiple of 8 (64 for 512×512)');
  if (!isNum(m.vaeScalingFactor) || m.vaeScalingFactor <= 0) p.push('vaeScalingFactor must be a positive number (0.18215)');
  if (!['float16', 'float32', 'unknown'].includes(m.weights as string)) p.push(`weights must be 'float16', 'float32' or 'unknown'`);
  if (!isObj(m.requires) || ![true, false, null].includes(m.requires.shaderF16 as boolean | null)) p.push('requires must be {shaderF16: true | false | null}');
  if (!Array.isArray(m.warnings) || m.warnings.some((w) => typeof w !== 'string')) p.push('warnings must be a list of strings');
  return p;
}

/**
 * Check that `x` is a usable manifest and return it typed. Throws a {@link ManifestError} that
 * lists every problem (field by field), so a user editing a custom manifest can fix all at once.
 */
export function validateManifest(x: unknown, label = 'The model manifest'): ModelManifest {
  if (!isObj(x)) throw new ManifestError(label, ['it must be a JSON object']);
  const p: string[] = [];
  if (typeof x.id !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,99}$/.test(x.id)) {
    p.push(`id must be 1–100 lower-case letters, digits, '.', '_' or '-' (got ${JSON.stringify(x.id)})`);
  }
  if (x.kind !== undefined && x.kind !== 'stable-diffusion' && x.kind !== 'florence-2' && x.kind !== 'clip-text') {
    p.push(`kind must be 'stable-diffusion' or 'florence-2' or 'clip-text' (got ${JSON.stringify(x.kind)})`);
  }
  // Judge models (Florence-2, CLIP text) are file sets for transformers.js, not diffusion pipelines.
  const pipeline = x.kind === undefined || x.kind === 'stable-diffusion';
  if (typeof x.label !== 'string' || x.label.trim() === '') p.push('label must be a non-empty string');
  if (typeof x.about !== 'string') p.push('about must be a string (say what these files are)');
  p.push(...sourceProblems(x.source));
  if (!Array.isArray(x.files) || x.files.length === 0) p.push('files must be a non-empty list');
  else {
    x.files.forEach((f, i) => p.push(...fileProblems(f, `files[${i}]`)));
    const paths = x.files.map((f) => (isObj(f) ? f.path : undefined));
    const dup = paths.find((q, i) => paths.indexOf(q) !== i);
    if (dup !== undefined) p.push(`files lists '${String(dup)}' twice`);
    for (const part of pipeline ? REQUIRED_PARTS : []) {
      if (!x.files.some((f) => isObj(f) && f.role === part.role)) p.push(`files has no ${part.role} (expected e.g. '${part.path}')`);
    }
    const sum = x.files.reduce((s: number, f) => s + (isObj(f) && isPosInt(f.approxSize) ? f.approxSize : 0), 0);
    if (x.approxDownloadBytes !== sum) p.push(`approxDownloadBytes must be the sum of the files' approxSize (${sum}, got ${JSON.stringify(x.approxDownloadBytes)})`);
  }
  if (pipeline) p.push(...runProblems(x));
  if (p.length) throw new ManifestError(label, p);
  return x as unknown as ModelManifest;
}

/** The manifests that ship with the app, validated once at import. */
export const BUILTIN_MANIFESTS: readonly ModelManifest[] = [tiny, sdTurbo, sd15, sd14].map((m) =>
  validateManifest(m, `Built-in manifest '${(m as { id: string }).id}'`),
);

/** A built-in manifest by id; the error lists the ids there are. */
export function getManifest(id: string): ModelManifest {
  const m = BUILTIN_MANIFESTS.find((x) => x.id === id);
  if (!m) throw new Error(`No built-in model '${id}'. Built-in models: ${BUILTIN_MANIFESTS.map((x) => x.id).join(', ')}.`);
  return m;
}

/** The file with a given role (the first, e.g. the unet graph rather than its external data). */
export function fileWithRole(manifest: ModelManifest, role: FileRole): ManifestFile {
  const f = manifest.files.find((x) => x.role === role);
  if (!f) throw new Error(`Model '${manifest.id}' has no ${role} file.`);
  return f;
}

/** Sum of `size` where known and `approxSize` where not, in bytes. */
export function expectedBytes(manifest: ModelManifest): number {
  return manifest.files.reduce((s, f) => s + (f.size === 'unknown' ? f.approxSize : f.size), 0);
}

/** Role of a file from its path in the diffusers ONNX layout, or null if it is not part of it. */
export function roleOfPath(path: string): FileRole | null {
  const part = REQUIRED_PARTS.find((p) => p.path === path);
  if (part) return part.role;
  const m = /^(text_encoder|unet|vae_decoder)\/([^/]+)$/.exec(path);
  // External data beside a graph: weights.pb (diffusers/Olive), model.onnx_data (torch.onnx), model.onnx.data.
  if (m && /^(weights\.pb|model\.onnx[._]data(_\d+)?)$/.test(m[2]!)) return 'external_data';
  if (path === 'model_index.json' || path === 'pipeline.json' || path === 'scheduler/scheduler_config.json') return 'config';
  return null;
}

/** Options for a custom manifest's run settings (what a file listing cannot tell). */
export interface CustomManifestOptions {
  id?: string;
  label?: string;
  /** Context width d; default null (read from the text encoder's output at load). */
  contextWidth?: number | null;
  /** Default: SD 1.x (pad 49407, Euler linspace, 25 steps, CFG 7.5). */
  padTokenId?: number;
  scheduler?: Partial<ManifestScheduler>;
  defaults?: ModelManifest['defaults'];
  latentSize?: number;
}

/** An SD 1.x-style manifest around `files`, filled from `opts`; validated. */
export function customManifest(source: ManifestSource, files: ManifestFile[], opts: CustomManifestOptions, about: string, warnings: string[]): ModelManifest {
  const approx = files.reduce((s, f) => s + f.approxSize, 0);
  return validateManifest(
    {
      id: opts.id ?? 'custom',
      label: opts.label ?? 'Custom model',
      source,
      about,
      files,
      tokenizer: { path: 'tokenizers/clip/', padTokenId: opts.padTokenId ?? 49407, maxLength: 77 },
      scheduler: { ...getManifest('sd-1-5').scheduler, ...opts.scheduler },
      defaults: opts.defaults ?? { steps: 25, guidance: 7.5, minSteps: 1, maxSteps: 50 },
      contextWidth: opts.contextWidth ?? null,
      latentSize: opts.latentSize ?? 64,
      vaeScalingFactor: 0.18215,
      weights: 'unknown',
      requires: { shaderF16: null },
      approxDownloadBytes: approx,
      warnings,
    },
    `The manifest for ${opts.label ?? opts.id ?? 'the custom model'}`,
  );
}

/**
 * A manifest for model files the user dropped or picked (a folder in the diffusers ONNX layout).
 * Paths come from `webkitRelativePath` (a dropped folder) with the top folder stripped, or from
 * the name alone when only the three .onnx files could be told apart by name.
 * @returns the manifest (source 'local', sizes exact, checksums unknown) and the file per path
 */
export function manifestFromFiles(files: readonly File[], opts: CustomManifestOptions = {}): { manifest: ModelManifest; files: Map<string, File> } {
  const byPath = new Map<string, File>();
  for (const file of files) {
    const rel = (file.webkitRelativePath || file.name).replace(/\\/g, '/');
    // Find the layout inside whatever folder the user dropped: keep from the part folder on.
    const m = /(?:^|\/)((?:text_encoder|unet|vae_decoder)\/[^/]+|model_index\.json|pipeline\.json)$/.exec(rel);
    if (m && roleOfPath(m[1]!)) byPath.set(m[1]!, file);
  }
  const missing = REQUIRED_PARTS.filter((p) => !byPath.has(p.path));
  if (missing.length) {
    const names = files.map((f) => f.webkitRelativePath || f.name).slice(0, 8).join(', ');
    throw new ManifestError('The dropped files', [
      `missing ${missing.map((p) => p.path).join(', ')} (got ${names || 'no files'}). Drop the whole model folder ` +
        `(with text_encoder/, unet/ and vae_decoder/ inside, as diffusers exports it), not single files: ` +
        `three files all named model.onnx cannot be told apart.`,
    ]);
  }
  const entries: ManifestFile[] = [...byPath].map(([path, f]) => ({
    path,
    role: roleOfPath(path)!,
    size: f.size > 0 ? f.size : 'unknown',
    approxSize: Math.max(1, f.size),
    sha256: 'unknown',
  }));
  const manifest = customManifest({ kind: 'local' }, entries, { id: 'local', label: 'Model from your files', ...opts }, 'Files picked from this computer.', []);
  return { manifest, files: byPath };
}

/** What a transformers.js model's file-set manifest needs (Florence-2, the CLIP text tower). */
export interface FileSetSpec {
  kind: Exclude<ModelKind, 'stable-diffusion'>;
  id: string;
  label: string;
  repo: string;
  revision: string;
  about: string;
  /** Paths in the repo; '*.onnx' are graphs, the rest configs. */
  paths: string[];
  /** Exact sizes where known (bytes), else the approximate ones. */
  sizes?: Record<string, number>;
  approx: Record<string, number>;
  shaderF16: boolean;
}

/**
 * A manifest for a model that is only a set of files for transformers.js. Its Stable Diffusion
 * run fields are required by the type but unused, and not validated, for these kinds.
 */
export function fileSetManifest(spec: FileSetSpec): ModelManifest {
  const files: ManifestFile[] = spec.paths.map((path) => ({
    path,
    role: path.endsWith('.onnx') ? 'onnx' : 'config',
    size: spec.sizes?.[path] ?? 'unknown',
    approxSize: spec.sizes?.[path] ?? spec.approx[path] ?? 10_000,
    sha256: 'unknown',
  }));
  return {
    kind: spec.kind,
    id: spec.id,
    label: spec.label,
    source: { kind: 'hub', repo: spec.repo, revision: spec.revision },
    about: spec.about,
    files,
    tokenizer: { path: 'tokenizer.json', padTokenId: 0, maxLength: 1 },
    scheduler: { name: 'EulerDiscrete', betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012, numTrainTimesteps: 1000, stepsOffset: 1, timestepSpacing: 'linspace' },
    defaults: { steps: 1, guidance: 0 },
    contextWidth: null,
    latentSize: 8,
    vaeScalingFactor: 1,
    weights: 'unknown',
    requires: { shaderF16: spec.shaderF16 },
    approxDownloadBytes: files.reduce((sum, f) => sum + f.approxSize, 0),
    warnings: [],
  };
}
