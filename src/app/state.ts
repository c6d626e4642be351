/**
 * The playground's whole state as plain data — model, edit, prompts, seeds and settings — and
 * its validation. Everything that arrives from outside the running page (a share link, a saved
 * session, a lesson) goes through {@link validateState}, which refuses unknown fields, wrong
 * types and out-of-range values with a message that names the field.
 */
import { parseEraseRequest, type EraseRequest } from '../lib/erasure/request.ts';
import type { Relation } from '../lib/eval/concepts.ts';

/** Which model: one that ships with the app, or a Hub repo laid out like a diffusers ONNX export. */
/**
 * Which model: a built-in one, a Hub repo at a revision, or files the user picked from their
 * computer (`id` names the stored import; such a model is never saved nor put in a link).
 */
export type ModelRef = { kind: 'builtin'; id: string } | { kind: 'hub'; repo: string; revision: string } | { kind: 'local'; id: string };

/** One row of the compare grid; `relation` says how it relates to the erased concept. */
export interface PromptItem {
  text: string;
  relation: Relation | 'custom';
}

export type EnginePreference = 'auto' | 'wasm' | 'webgpu';

export interface PlaygroundState {
  model: ModelRef;
  /** The erasure to apply, or null for none (the grid then shows the original model only). */
  edit: EraseRequest | null;
  prompts: PromptItem[];
  /** Integers in [0, 2³²): the same seed gives the same starting noise for original and erased. */
  seeds: number[];
  steps: number;
  /** Classifier-free guidance scale (≤ 1: conditional branch only). */
  guidance: number;
  engine: EnginePreference;
}

/** Bounds on everything a link or a saved session may ask for (a hostile link cannot ask for more). */
export const LIMITS = {
  prompts: 12,
  seeds: 6,
  promptChars: 200,
  concepts: 16,
  conceptChars: 100,
  progressiveSteps: 8,
  maxSteps: 50,
  maxGuidance: 30,
  maxSeed: 2 ** 32 - 1,
  /** λ and scales of an erasure. */
  maxScalar: 1000,
} as const;

export const BUILTIN_IDS = ['tiny', 'sd-turbo', 'sd-1-5', 'sd-1-4'] as const;
const RELATIONS = ['self', 'synonym', 'subclass', 'composition', 'neighbour', 'unrelated', 'custom'];
const ENGINES = ['auto', 'wasm', 'webgpu'];

/** A state that failed validation; the message names the field and what it should be. */
export class StateError extends Error {
  override name = 'StateError';
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function fail(field: string, want: string, got?: unknown): never {
  const shown = got === undefined ? '' : `, got ${JSON.stringify(got)?.slice(0, 60)}`;
  throw new StateError(`'${field}' must be ${want}${shown}`);
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], where: string): void {
  const extra = Object.keys(o).filter((k) => !allowed.includes(k));
  if (extra.length) throw new StateError(`${where} has unknown field${extra.length > 1 ? 's' : ''} ${extra.map((k) => `'${k}'`).join(', ')} (allowed: ${allowed.join(', ')})`);
}

/** A short human text: no control characters (they could hide text), at most `max` characters. */
function checkText(s: unknown, field: string, max: number, allowEmpty = true): string {
  if (typeof s !== 'string') fail(field, 'a string', s);
  if (s.length > max) fail(field, `at most ${max} characters (it has ${s.length})`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(s)) fail(field, 'plain text without control or bidi-override characters', s);
  if (!allowEmpty && s.trim() === '') fail(field, 'a non-empty text');
  return s;
}

function checkNumber(x: unknown, field: string, min: number, max: number, { integer = false, exclusiveMin = false } = {}): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) fail(field, 'a finite number', x);
  if (integer && !Number.isInteger(x)) fail(field, 'an integer', x);
  if ((exclusiveMin ? x <= min : x < min) || x > max) fail(field, `${exclusiveMin ? 'above' : 'at least'} ${min} and at most ${max}`, x);
  return x;
}

function checkConcepts(x: unknown, field: string, allowEmptyList = false): void {
  if (!Array.isArray(x)) fail(field, 'a list of concepts', x);
  if (x.length > LIMITS.concepts) fail(field, `at most ${LIMITS.concepts} concepts (it has ${x.length})`);
  if (!allowEmptyList && x.length === 0) fail(field, 'at least one concept');
  x.forEach((c, i) => checkText(c, `${field}[${i}]`, LIMITS.conceptChars, false));
}

/** Settings shared by UCE-style requests (top level, or RECE's `uce`). */
function checkUceRanges(o: Record<string, unknown>, prefix: string): void {
  if (o.target !== undefined) checkText(o.target, `${prefix}target`, LIMITS.conceptChars);
  if (o.preserve !== undefined) checkConcepts(o.preserve, `${prefix}preserve`, true);
  if (o.lambda !== undefined) checkNumber(o.lambda, `${prefix}lambda`, 0, LIMITS.maxScalar, { exclusiveMin: true });
  for (const k of ['eraseScale', 'preserveScale']) if (o[k] !== undefined) checkNumber(o[k], `${prefix}${k}`, 0, LIMITS.maxScalar);
}

/**
 * An erase request from untrusted JSON: the erasure layer's own validation (fields and types,
 * {@link parseEraseRequest}) and then the playground's bounds (list lengths, text, λ > 0).
 */
export function validateEdit(x: unknown): EraseRequest {
  let req: EraseRequest;
  try {
    req = parseEraseRequest(x);
  } catch (e) {
    // "erase request: 'lambda' must be …" → "'edit.lambda' must be …"
    const m = (e as Error).message;
    throw new StateError(/^erase request: '/.test(m) ? m.replace(/^erase request: '/, "'edit.") : m.replace(/^erase request: /, "'edit' has "));
  }
  const o = req as unknown as Record<string, unknown>;
  switch (req.method) {
    case 'uce':
      checkConcepts(req.erase, 'edit.erase');
      checkUceRanges(o, 'edit.');
      break;
    case 'time':
      checkText(req.source, 'edit.source', LIMITS.promptChars, false);
      checkText(req.destination, 'edit.destination', LIMITS.promptChars, false);
      if (req.lambda !== undefined) checkNumber(req.lambda, 'edit.lambda', 0, LIMITS.maxScalar, { exclusiveMin: true });
      break;
    case 'rece':
      checkConcepts(req.erase, 'edit.erase');
      checkUceRanges(o, 'edit.');
      if (req.regularization !== undefined) checkNumber(req.regularization, 'edit.regularization', 0, LIMITS.maxScalar, { exclusiveMin: true });
      if (req.uce !== undefined) checkUceRanges(req.uce as Record<string, unknown>, 'edit.uce.');
      break;
    case 'progressive':
      if (req.steps.length === 0 || req.steps.length > LIMITS.progressiveSteps) fail('edit.steps', `1 to ${LIMITS.progressiveSteps} steps`, req.steps.length);
      req.steps.forEach((s, i) => checkConcepts(s, `edit.steps[${i}]`));
      checkUceRanges(o, 'edit.');
      break;
  }
  return req;
}

function validateModel(x: unknown): ModelRef {
  if (!isObj(x)) fail('model', "{kind:'builtin', id}, {kind:'hub', repo, revision} or {kind:'local', id}", x);
  if (x.kind === 'builtin') {
    onlyKeys(x, ['kind', 'id'], "'model'");
    if (!BUILTIN_IDS.includes(x.id as (typeof BUILTIN_IDS)[number])) fail('model.id', `one of ${BUILTIN_IDS.join(', ')}`, x.id);
    return { kind: 'builtin', id: x.id as string };
  }
  if (x.kind === 'hub') {
    onlyKeys(x, ['kind', 'repo', 'revision'], "'model'");
    if (typeof x.repo !== 'string' || !/^[\w.-]{1,96}\/[\w.-]{1,96}$/.test(x.repo)) fail('model.repo', "a Hub repo like 'owner/name'", x.repo);
    if (typeof x.revision !== 'string' || !/^[\w.-]{1,64}$/.test(x.revision)) fail('model.revision', "a branch, tag or commit like 'main'", x.revision);
    return { kind: 'hub', repo: x.repo, revision: x.revision };
  }
  if (x.kind === 'local') {
    onlyKeys(x, ['kind', 'id'], "'model'");
    if (typeof x.id !== 'string' || !/^[\w.-]{1,64}$/.test(x.id)) fail('model.id', "a stored import's id like 'local'", x.id);
    return { kind: 'local', id: x.id };
  }
  fail('model.kind', "'builtin', 'hub' or 'local'", x.kind);
}

const STATE_KEYS = ['model', 'edit', 'prompts', 'seeds', 'steps', 'guidance', 'engine'];

/** Check untrusted JSON as a {@link PlaygroundState}; throws a {@link StateError} naming the field. */
export function validateState(x: unknown): PlaygroundState {
  if (!isObj(x)) throw new StateError('the state must be a JSON object');
  onlyKeys(x, STATE_KEYS, 'the state');
  for (const k of STATE_KEYS) if (!(k in x)) throw new StateError(`the state has no '${k}'`);
  const model = validateModel(x.model);
  const edit = x.edit === null ? null : validateEdit(x.edit);
  if (!Array.isArray(x.prompts)) fail('prompts', 'a list', x.prompts);
  if (x.prompts.length > LIMITS.prompts) fail('prompts', `at most ${LIMITS.prompts} prompts (it has ${x.prompts.length})`);
  const prompts = x.prompts.map((p, i): PromptItem => {
    if (!isObj(p)) fail(`prompts[${i}]`, '{text, relation}', p);
    onlyKeys(p, ['text', 'relation'], `'prompts[${i}]'`);
    if (!RELATIONS.includes(p.relation as string)) fail(`prompts[${i}].relation`, `one of ${RELATIONS.join(', ')}`, p.relation);
    return { text: checkText(p.text, `prompts[${i}].text`, LIMITS.promptChars, false), relation: p.relation as PromptItem['relation'] };
  });
  if (!Array.isArray(x.seeds) || x.seeds.length === 0) fail('seeds', 'a non-empty list of integers', x.seeds);
  if (x.seeds.length > LIMITS.seeds) fail('seeds', `at most ${LIMITS.seeds} seeds (it has ${x.seeds.length})`);
  const seeds = x.seeds.map((s, i) => checkNumber(s, `seeds[${i}]`, 0, LIMITS.maxSeed, { integer: true }));
  const steps = checkNumber(x.steps, 'steps', 1, LIMITS.maxSteps, { integer: true });
  const guidance = checkNumber(x.guidance, 'guidance', 0, LIMITS.maxGuidance);
  if (!ENGINES.includes(x.engine as string)) fail('engine', `one of ${ENGINES.join(', ')}`, x.engine);
  return { model, edit, prompts, seeds, steps, guidance, engine: x.engine as EnginePreference };
}

/** The state a first visit starts from: the offline model, no edit, a few prompts. */
export function defaultState(): PlaygroundState {
  return {
    model: { kind: 'builtin', id: 'tiny' },
    edit: { method: 'uce', erase: ['car'], target: '', preserve: [], lambda: 0.5, eraseScale: 1, preserveScale: 1, tokens: '2025' },
    prompts: [
      { text: 'a photo of a car', relation: 'self' },
      { text: 'a photo of a red car', relation: 'composition' },
      { text: 'a photo of a bus', relation: 'neighbour' },
    ],
    seeds: [1, 2],
    steps: 4,
    guidance: 7.5,
    engine: 'auto',
  };
}

/** A stable text key of an edit (for caching images per edit); '' for no edit. */
export function editKey(edit: EraseRequest | null): string {
  return edit === null ? '' : stableJson(edit);
}

/** JSON with object keys sorted, so equal values give equal text. */
export function stableJson(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(stableJson).join(',')}]`;
  if (isObj(x)) {
    return `{${Object.keys(x)
      .filter((k) => x[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(x[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(x);
}

/** A readable one-line name of a model reference. */
export function modelKey(m: ModelRef): string {
  if (m.kind === 'builtin') return m.id;
  return m.kind === 'local' ? `local:${m.id}` : `hub:${m.repo}@${m.revision}`;
}
