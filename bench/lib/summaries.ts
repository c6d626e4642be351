/**
 * Headline rows of each bench's JSON for the combined table of bench/run.ts. Benches written by
 * different people shape their JSON differently: `rows` of {task|measure, ms|value+unit, goal_ms},
 * onnx.json's `results`, or a ready `summary` of {measurement, value, goal}.
 */
import { formatMs } from './table.ts';

export interface SummaryRow {
  measurement: string;
  value: string;
  goal?: string;
}

type Json = Record<string, unknown>;

/** Rows of the shapes erasure.json / attention.json / diffusion.json use. */
function fromRows(rows: Json[]): SummaryRow[] {
  return rows.map((r) => {
    const name = String(r.measurement ?? r.task ?? r.measure ?? '?');
    const dims = [r.d !== undefined ? `d ${r.d}` : '', r.n !== undefined ? `n ${r.n}` : ''].filter(Boolean).join(', ');
    const value = typeof r.ms === 'number' ? formatMs(r.ms) : `${r.value ?? '?'}${r.unit ? ` ${r.unit}` : ''}`;
    const goal = typeof r.goal_ms === 'number' ? `< ${r.goal_ms} ms` : r.goal !== undefined ? String(r.goal) : undefined;
    return { measurement: dims ? `${name} (${dims})` : name, value, ...(goal ? { goal } : {}) };
  });
}

/** onnx.json: per model file, index / sites / patch times with peak memory. */
function fromOnnx(results: Json[]): SummaryRow[] {
  const out: SummaryRow[] = [];
  for (const r of results) {
    for (const [key, label] of [['index', 'index'], ['findSites', 'find sites'], ['patch32Blob', 'patch 32 (Blob)'], ['patch32InPlace', 'patch 32 (in place)']] as const) {
      const m = r[key] as { ms: number; peakMB: { rss: number } } | null | undefined;
      if (m) out.push({ measurement: `${r.label}: ${label}`, value: `${formatMs(m.ms)}, Δrss ${m.peakMB.rss} MB` });
    }
  }
  return out;
}

/** The headline rows of one bench's JSON (an explanatory row when the shape is unknown). */
export function summarize(name: string, json: unknown): SummaryRow[] {
  if (!json || typeof json !== 'object') return [{ measurement: 'no JSON written', value: '—' }];
  const j = json as Json;
  if (Array.isArray(j.summary)) return fromRows(j.summary as Json[]);
  if (name === 'onnx' && Array.isArray(j.results)) return fromOnnx(j.results as Json[]);
  if (Array.isArray(j.rows)) return fromRows(j.rows as Json[]);
  return [{ measurement: `see bench/results/${name}.json`, value: '' }];
}
