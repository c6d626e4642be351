/**
 * The judge in the compare grid, as plain data: what Florence-2 said about each image (a
 * {@link JudgeRecord}, kept by the image's grid key with the users' corrections), which concepts a
 * cell is judged for (the erased ones and the row's own), the grid positions for `gridTotals`, the
 * evidence as sentences, and the judged items `agreement` counts. No worker, no Svelte.
 */
import { getConcept, promptFamily } from '../lib/eval/concepts.ts';
import { parsePromptObjects } from '../lib/eval/leakage.ts';
import type { Correction } from '../lib/eval/agreement.ts';
import type { PresenceDecision } from '../lib/eval/presence.ts';
import type { GridCell } from '../lib/eval/totals.ts';
import type { Box } from '../lib/eval/florence-parse.ts';
import { erasedConcepts } from './family.ts';
import type { GridJob } from './grid.ts';
import type { PlaygroundState, PromptItem } from './state.ts';

/** What the judge saw in one image, and what people said about it. */
export interface JudgeRecord {
  /** The grid job key of the image (everything that determines it). */
  imageKey: string;
  /** `<OD>` labels and boxes ([x1, y1, x2, y2], pixels of the image). */
  od: { labels: string[]; bboxes: Box[] };
  /** `<MORE_DETAILED_CAPTION>`. */
  caption: string;
  /** When it was judged, ms since epoch. */
  at: number;
  /** Users' corrections by concept name. */
  corrections: Record<string, Correction>;
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isText = (x: unknown, max: number): x is string => typeof x === 'string' && x.length <= max;

/**
 * A record read back from storage, checked as if it came from outside.
 * @throws with the field that is wrong
 */
export function validateJudgeRecord(x: unknown): JudgeRecord {
  const bad = (what: string) => new Error(`judge record: ${what}`);
  if (!isObj(x)) throw bad('not an object');
  if (!isText(x.imageKey, 4000) || !x.imageKey) throw bad("'imageKey' must be a grid key");
  const od = x.od as Record<string, unknown> | undefined;
  if (!isObj(od) || !Array.isArray(od.labels) || !Array.isArray(od.bboxes) || od.labels.length !== od.bboxes.length) throw bad("'od' must hold as many labels as boxes");
  if (!od.labels.every((l) => isText(l, 200))) throw bad("'od.labels' must be short texts");
  if (!od.bboxes.every((b) => Array.isArray(b) && b.length === 4 && b.every((v) => typeof v === 'number' && Number.isFinite(v)))) throw bad("'od.bboxes' must be [x1, y1, x2, y2] numbers");
  if (!isText(x.caption, 5000)) throw bad("'caption' must be a text");
  if (typeof x.at !== 'number') throw bad("'at' must be a time");
  if (!isObj(x.corrections)) throw bad("'corrections' must be an object");
  const corrections: Record<string, Correction> = {};
  for (const [concept, c] of Object.entries(x.corrections)) {
    if (!isObj(c) || (c.verdict !== 'present' && c.verdict !== 'absent') || typeof c.at !== 'number') throw bad(`the correction of '${concept}' must be {verdict: present|absent, at}`);
    corrections[concept] = { verdict: c.verdict, at: c.at };
  }
  return { imageKey: x.imageKey, od: { labels: od.labels as string[], bboxes: od.bboxes as Box[] }, caption: x.caption, at: x.at, corrections };
}

/**
 * The concept a grid row is about: the term of its prompt in an erased concept's family
 * ('a photo of a bus' → 'bus'; a composition is about the concept itself), else the last object
 * its prompt names; null when it names none. Canonical names (getConcept: 'automobile' → 'car').
 */
export function rowConcept(prompt: PromptItem, erased: readonly string[]): string | null {
  const text = prompt.text.trim().toLowerCase();
  for (const c of erased) {
    const hit = promptFamily(c, { perRelation: 1000 }).find((p) => p.prompt.toLowerCase() === text);
    if (hit) return getConcept(hit.relation === 'composition' ? c : hit.term).name;
  }
  const noun = parsePromptObjects(prompt.text).at(-1)?.noun;
  return noun ? getConcept(noun).name : null;
}

/** One badge of a cell: a concept and why it is judged there. */
export interface BadgeSpec {
  concept: string;
  /** 'erased': an erased concept; 'row': the row's own concept (both when they coincide). */
  roles: ('erased' | 'row')[];
}

/** The badges of the cells of one row: each erased concept, then the row's own concept. */
export function cellBadges(state: Pick<PlaygroundState, 'edit'>, prompt: PromptItem): BadgeSpec[] {
  const erased = [...new Set(erasedConcepts(state.edit).map((c) => getConcept(c).name))];
  const out: BadgeSpec[] = erased.map((concept) => ({ concept, roles: ['erased'] }));
  const row = rowConcept(prompt, erased);
  if (row) {
    const same = out.find((b) => b.concept === row);
    if (same) same.roles.push('row');
    else out.push({ concept: row, roles: ['row'] });
  }
  return out;
}

/** Column of a job in the grid: seed by seed, original then erased. */
export function jobColumn(state: Pick<PlaygroundState, 'seeds' | 'edit'>, job: Pick<GridJob, 'seed' | 'edited'>): number {
  return state.seeds.indexOf(job.seed) * (state.edit ? 2 : 1) + (job.edited ? 1 : 0);
}

/** Column names in order ('seed 7 · original', 'seed 7 · erased', …). */
export function columnLabels(state: Pick<PlaygroundState, 'seeds' | 'edit'>): string[] {
  return state.seeds.flatMap((s) => (state.edit ? [`seed ${s} · original`, `seed ${s} · erased`] : [`seed ${s}`]));
}

/**
 * Cells for `gridTotals`: every job with a verdict for at least one of its badges.
 * @param verdictOf the verdict shown for (image key, concept), or null when not judged
 */
export function judgedCells(
  state: Pick<PlaygroundState, 'seeds' | 'edit' | 'prompts'>,
  jobs: readonly GridJob[],
  verdictOf: (key: string, concept: string) => PresenceDecision['verdict'] | null,
): GridCell[] {
  const cells: GridCell[] = [];
  for (const job of jobs) {
    const row = state.prompts.findIndex((p) => p.text === job.prompt);
    if (row < 0) continue;
    const badges = cellBadges(state, state.prompts[row]!).flatMap((b) => {
      const verdict = verdictOf(job.key, b.concept);
      return verdict ? [{ concept: b.concept, verdict }] : [];
    });
    if (badges.length) cells.push({ row, col: jobColumn(state, job), badges });
  }
  return cells;
}

const quote = (s: string) => `“${s}”`;
/** Detected labels listed in the "nothing matched" sentence (distinct, in order). */
const MAX_LABELS_SHOWN = 6;

/** The evidence of a decision as sentences for the badge's tooltip (never empty). */
export function evidenceLines(decision: PresenceDecision, record: Pick<JudgeRecord, 'od' | 'caption'>): string[] {
  const c = decision.concept;
  const lines = decision.evidence.map((e) => {
    const as = e.term && e.term !== c ? ` (${e.relation ?? 'term'} ${quote(e.term)})` : '';
    switch (e.source) {
      case 'od-label':
        return e.matched ? `Detected ${quote(e.text)}: ${c}${as}` : `Detected ${quote(e.text)}: ${e.note ?? 'not ' + c}`;
      case 'caption-word':
        return e.matched ? `The caption says ${quote(e.text)}${as}` : `The caption says ${quote(e.text)}, ${e.note ?? 'not counted'}`;
      case 'cue':
        return `The caption says ${quote(e.text)}: ${e.note ?? 'a hint'}`;
      case 'clip-similarity':
        return `${quote(e.text)} is ${e.similarity?.toFixed(2)} similar to ${c}${e.matched ? '' : ' (not enough)'}`;
      default:
        return `${quote(e.text)}: ${e.note ?? 'not used'}`;
    }
  });
  if (!decision.evidence.some((e) => e.matched)) {
    const distinct = [...new Set(record.od.labels)];
    const more = distinct.length > MAX_LABELS_SHOWN ? ` and ${distinct.length - MAX_LABELS_SHOWN} more` : '';
    const labels = distinct.length ? distinct.slice(0, MAX_LABELS_SHOWN).map(quote).join(', ') + more : 'nothing';
    lines.push(`No detected label or caption word names ${c} (detected: ${labels}).`);
  }
  return lines;
}
