/**
 * One JSON shape for "which erasure, with which settings": the worker API, the `npm run erase`
 * case files and share links all carry an EraseRequest, validated here with errors that name the
 * field, and run by one dispatcher.
 */
import type { EditResult } from './closed-form.ts';
import { eraseUce, type UceOptions } from './uce.ts';
import { editTime } from './time.ts';
import { eraseRece, RECE_PRESETS } from './rece.ts';
import { eraseProgressive } from './progressive.ts';
import type { EncodePrompts } from './tokens.ts';

type UceSettings = Omit<UceOptions, 'erase' | 'diagnostics'>;

export type EraseRequest =
  | ({ method: 'uce'; erase: string[] } & UceSettings)
  | { method: 'time'; source: string; destination: string; lambda?: number; augment?: boolean }
  | ({
      method: 'rece';
      erase: string[];
      /** RECE's task preset (regularisation and rounds from its README). */
      preset?: keyof typeof RECE_PRESETS;
      rounds?: number;
      regularization?: number;
      /** Settings of the UCE edit RECE starts from. */
      uce?: UceSettings;
    } & Pick<UceSettings, 'target' | 'preserve' | 'lambda' | 'preserveScale'>)
  | ({ method: 'progressive'; steps: string[][] } & UceSettings);

export type EraseMethod = EraseRequest['method'];

/** Raised for a malformed request; the message names the field and what it should be. */
export class EraseRequestError extends Error {
  override name = 'EraseRequestError';
}

const UCE_KEYS = ['target', 'preserve', 'lambda', 'eraseScale', 'preserveScale', 'tokens', 'expandPrompts', 'conceptType'];
const KEYS: Record<EraseMethod, string[]> = {
  uce: ['method', 'erase', ...UCE_KEYS],
  time: ['method', 'source', 'destination', 'lambda', 'augment'],
  rece: ['method', 'erase', 'preset', 'rounds', 'regularization', 'uce', 'target', 'preserve', 'lambda', 'preserveScale'],
  progressive: ['method', 'steps', ...UCE_KEYS],
};

function fail(field: string, want: string, got: unknown): never {
  throw new EraseRequestError(`erase request: '${field}' must be ${want}, got ${JSON.stringify(got)}`);
}

const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

function checkUceSettings(o: Record<string, unknown>, prefix = ''): void {
  const f = (k: string) => `${prefix}${k}`;
  if (o.target !== undefined && typeof o.target !== 'string') fail(f('target'), 'a string', o.target);
  if (o.preserve !== undefined && !isStrings(o.preserve)) fail(f('preserve'), 'a list of strings', o.preserve);
  for (const k of ['lambda', 'eraseScale', 'preserveScale']) {
    if (o[k] !== undefined && (typeof o[k] !== 'number' || !Number.isFinite(o[k]))) fail(f(k), 'a finite number', o[k]);
  }
  if (o.tokens !== undefined && o.tokens !== '2025' && o.tokens !== '2023') fail(f('tokens'), "'2025' or '2023'", o.tokens);
  if (o.expandPrompts !== undefined && typeof o.expandPrompts !== 'boolean') fail(f('expandPrompts'), 'true or false', o.expandPrompts);
  if (o.conceptType !== undefined && o.conceptType !== 'object' && o.conceptType !== 'art') {
    fail(f('conceptType'), "'object' or 'art'", o.conceptType);
  }
}

/**
 * Validate untrusted JSON (a case file, a share link) as an EraseRequest. Unknown fields are
 * refused rather than ignored, so a typo never silently falls back to a default.
 */
export function parseEraseRequest(json: unknown): EraseRequest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('(request)', 'an object', json);
  const o = json as Record<string, unknown>;
  const method = o.method as EraseMethod;
  if (!(method in KEYS)) fail('method', "one of 'uce', 'time', 'rece', 'progressive'", o.method);
  const unknown = Object.keys(o).filter((k) => !KEYS[method].includes(k));
  if (unknown.length) {
    throw new EraseRequestError(
      `erase request: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} for method '${method}' ` +
        `(allowed: ${KEYS[method].join(', ')})`,
    );
  }
  switch (method) {
    case 'uce':
      if (!isStrings(o.erase)) fail('erase', 'a list of strings', o.erase);
      checkUceSettings(o);
      break;
    case 'time':
      if (typeof o.source !== 'string') fail('source', 'a string', o.source);
      if (typeof o.destination !== 'string') fail('destination', 'a string', o.destination);
      if (o.lambda !== undefined && typeof o.lambda !== 'number') fail('lambda', 'a number', o.lambda);
      if (o.augment !== undefined && typeof o.augment !== 'boolean') fail('augment', 'true or false', o.augment);
      break;
    case 'rece':
      if (!isStrings(o.erase)) fail('erase', 'a list of strings', o.erase);
      if (o.preset !== undefined && !(String(o.preset) in RECE_PRESETS)) fail('preset', `one of ${Object.keys(RECE_PRESETS).join(', ')}`, o.preset);
      if (o.rounds !== undefined && (!Number.isInteger(o.rounds) || (o.rounds as number) < 1 || (o.rounds as number) > 3)) {
        fail('rounds', 'an integer from 1 to 3', o.rounds);
      }
      if (o.regularization !== undefined && typeof o.regularization !== 'number') fail('regularization', 'a number', o.regularization);
      if (o.uce !== undefined) {
        if (typeof o.uce !== 'object' || o.uce === null) fail('uce', 'an object of UCE settings', o.uce);
        checkUceSettings(o.uce as Record<string, unknown>, 'uce.');
      }
      checkUceSettings(o);
      break;
    case 'progressive':
      if (!Array.isArray(o.steps) || !o.steps.every(isStrings)) fail('steps', 'a list of lists of strings', o.steps);
      checkUceSettings(o);
      break;
  }
  return o as unknown as EraseRequest;
}

/** What running a request gives: the composed map and, per method, its stages. */
export interface ErasureOutcome extends EditResult {
  method: EraseMethod;
  /** Each stage's own result (RECE: UCE then its rounds; progressive: its steps). */
  stages: { label: string; result: EditResult }[];
}

/**
 * Run a request. `encode` turns prompts into text-encoder outputs; `gram` (G = Σ WᵀW over the
 * UNet's 32 to_k/to_v projections, d×d) is only asked for by RECE.
 */
export async function runErasure(
  request: EraseRequest,
  encode: EncodePrompts,
  gram?: () => Promise<Float64Array>,
): Promise<ErasureOutcome> {
  switch (request.method) {
    case 'uce': {
      const { method: _m, ...options } = request;
      const r = await eraseUce(options, encode);
      return { ...r, method: 'uce', stages: [{ label: 'UCE', result: r }] };
    }
    case 'time': {
      const { method: _m, ...options } = request;
      const r = await editTime(options, encode);
      return { ...r, method: 'time', stages: [{ label: 'TIME', result: r }] };
    }
    case 'progressive': {
      const { method: _m, ...options } = request;
      const r = await eraseProgressive(options, encode);
      return {
        ...r,
        method: 'progressive',
        stages: r.steps.map((s, i) => ({ label: `step ${i + 1}: ${options.steps[i]!.join(', ')}`, result: s })),
      };
    }
    case 'rece': {
      if (!gram) throw new EraseRequestError('RECE needs the UNet weights (its Gram matrix G = Σ WᵀW); load a model first.');
      const preset = RECE_PRESETS[request.preset ?? 'easyObjects'];
      const base = await eraseUce({ erase: request.erase, ...(request.uce ?? {}) }, encode);
      const r = await eraseRece(
        {
          base: base.map,
          gram: await gram(),
          concepts: request.erase,
          rounds: request.rounds ?? preset.rounds,
          regularization: request.regularization ?? preset.regularization,
          ...(request.target !== undefined ? { target: request.target } : {}),
          ...(request.preserve !== undefined ? { preserve: request.preserve } : {}),
          ...(request.lambda !== undefined ? { lambda: request.lambda } : {}),
          ...(request.preserveScale !== undefined ? { preserveScale: request.preserveScale } : {}),
        },
        encode,
      );
      return {
        ...r,
        method: 'rece',
        stages: [{ label: 'UCE', result: base }, ...r.rounds.map((round, i) => ({ label: `RECE round ${i + 1}`, result: round }))],
      };
    }
  }
}
