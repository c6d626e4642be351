/**
 * The erase panel's form as plain data, and its conversion to and from an EraseRequest. The form
 * keeps every method's fields at once, so switching method and back loses nothing; defaults are
 * the reference code's (DESIGN.md): UCE λ 0.5, erase 1, preserve 1 (2025 tokens); TIME λ 0.1;
 * RECE λ 0.1, preserve 0.1, 1–3 rounds on top of a UCE edit.
 */
import type { EraseRequest } from '../lib/erasure/request.ts';
import { RECE_PRESETS } from '../lib/erasure/rece.ts';

export type Method = EraseRequest['method'];
export type RecePreset = keyof typeof RECE_PRESETS;

export interface EditForm {
  method: Method;
  /** Concepts to erase (UCE, RECE; progressive erases them one per step, in order). */
  erase: string[];
  target: string;
  preserve: string[];
  lambda: number;
  eraseScale: number;
  preserveScale: number;
  tokens: '2025' | '2023';
  source: string;
  destination: string;
  preset: RecePreset;
  rounds: number;
}

/** Reference λ and preserve scale per method. */
export const METHOD_DEFAULTS: Record<Method, { lambda: number; preserveScale: number }> = {
  uce: { lambda: 0.5, preserveScale: 1 },
  progressive: { lambda: 0.5, preserveScale: 1 },
  time: { lambda: 0.1, preserveScale: 0 },
  rece: { lambda: 0.1, preserveScale: 0.1 },
};

/** One line per method, for the panel. */
export const METHOD_HELP: Record<Method, string> = {
  uce: 'UCE: one closed-form edit maps each erased concept’s text vector to the target’s, while preserved concepts stay put.',
  time: 'TIME: rewrites a source prompt to mean a destination prompt (e.g. “roses” → “blue roses”), all 77 tokens aligned.',
  rece: 'RECE: UCE, then 1–3 rounds that find the embedding that still produces the concept and erase that too.',
  progressive: 'Progressive: UCE one concept at a time, each step on top of the last (composed maps).',
};

/** One line per setting. */
export const FIELD_HELP = {
  target: "What erased concepts become: '' (the empty prompt) for objects, 'art' for artists.",
  preserve: 'Concepts whose text vectors must not move (neighbours you want to keep).',
  lambda: 'λ: how strongly every other direction is kept as it was (larger = gentler edit).',
  eraseScale: 'Weight of the erase terms.',
  preserveScale: 'Weight of the preserve terms.',
  tokens: '2025: the last word token only (current UCE code). 2023: last word + end and padding tokens, and always preserves the empty prompt.',
  rounds: 'RECE rounds: each finds a new adversarial embedding of the concept and erases it.',
  preset: "RECE's task presets set its regularisation and rounds.",
} as const;

export function defaultForm(): EditForm {
  return {
    method: 'uce', erase: ['car'], target: '', preserve: [], lambda: 0.5, eraseScale: 1, preserveScale: 1, tokens: '2025',
    source: 'a photo of a rose', destination: 'a photo of a blue rose', preset: 'easyObjects', rounds: 1,
  };
}

/** Switch method, moving λ and preserve scale to the new method's defaults. */
export function switchMethod(form: EditForm, method: Method): EditForm {
  const d = METHOD_DEFAULTS[method];
  return { ...form, method, lambda: d.lambda, preserveScale: method === 'time' ? form.preserveScale : d.preserveScale, rounds: method === 'rece' ? RECE_PRESETS[form.preset].rounds : form.rounds };
}

/** The request the form describes. */
export function formToRequest(f: EditForm): EraseRequest {
  const uceSettings = { target: f.target, preserve: [...f.preserve], lambda: f.lambda, eraseScale: f.eraseScale, preserveScale: f.preserveScale, tokens: f.tokens };
  switch (f.method) {
    case 'uce':
      return { method: 'uce', erase: [...f.erase], ...uceSettings };
    case 'progressive':
      return { method: 'progressive', steps: f.erase.map((c) => [c]), ...uceSettings };
    case 'time':
      return { method: 'time', source: f.source, destination: f.destination, lambda: f.lambda };
    case 'rece':
      return {
        method: 'rece', erase: [...f.erase], preset: f.preset, rounds: f.rounds, target: f.target, preserve: [...f.preserve],
        lambda: f.lambda, preserveScale: f.preserveScale, uce: { tokens: f.tokens },
      };
  }
}

/** The form for a request (fields the request lacks keep `base`'s values or the method defaults). */
export function requestToForm(r: EraseRequest, base: EditForm = defaultForm()): EditForm {
  const d = METHOD_DEFAULTS[r.method];
  const f: EditForm = { ...base, method: r.method, lambda: r.lambda ?? d.lambda, preserveScale: d.preserveScale };
  if (r.method === 'time') return { ...f, source: r.source, destination: r.destination };
  if (r.method === 'progressive') f.erase = r.steps.flat();
  else f.erase = [...r.erase];
  f.target = r.target ?? '';
  f.preserve = [...(r.preserve ?? [])];
  f.preserveScale = r.preserveScale ?? d.preserveScale;
  if (r.method === 'rece') {
    f.preset = r.preset ?? 'easyObjects';
    f.rounds = r.rounds ?? RECE_PRESETS[f.preset].rounds;
    f.tokens = r.uce?.tokens ?? '2025';
  } else {
    f.eraseScale = r.eraseScale ?? 1;
    f.tokens = r.tokens ?? '2025';
  }
  return f;
}

/** Split typed text into concepts: commas or new lines separate, blanks dropped, duplicates removed. */
export function parseConcepts(text: string, existing: readonly string[] = []): string[] {
  const out = [...existing];
  for (const c of text.split(/[,\n]/).map((s) => s.trim().replace(/\s+/g, ' ')).filter(Boolean)) {
    if (!out.some((x) => x.toLowerCase() === c.toLowerCase())) out.push(c);
  }
  return out;
}

/** Seeds from typed text ("1, 2 7"): integers in [0, 2³²), duplicates removed; null if any is not one. */
export function parseSeeds(text: string): number[] | null {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  const seeds = parts.map(Number);
  if (!parts.length || seeds.some((s) => !Number.isInteger(s) || s < 0 || s > 2 ** 32 - 1)) return null;
  return [...new Set(seeds)];
}
