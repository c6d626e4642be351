/**
 * Totals of presence badges in the compare grid: rows are prompts (the concept, its synonyms,
 * neighbours, …), columns are models or edits (original, UCE, RECE round 2, …), each cell an
 * image with badges for the erased concept and for the row's own concept.
 */
import type { Verdict } from './presence.ts';

/** Counts of badges by verdict. */
export interface Tally {
  present: number;
  absent: number;
  unsure: number;
  total: number;
}

/** One image of the grid and its badges (one per concept judged). */
export interface GridCell {
  row: number;
  col: number;
  badges: readonly { concept: string; verdict: Verdict }[];
}

export interface GridTotals {
  /** rows[r][concept]: badges of that concept in row r. */
  rows: Record<string, Tally>[];
  /** cols[c][concept]: badges of that concept in column c. */
  cols: Record<string, Tally>[];
  /** All cells, per concept. */
  all: Record<string, Tally>;
}

const empty = (): Tally => ({ present: 0, absent: 0, unsure: 0, total: 0 });

function add(into: Record<string, Tally>, concept: string, verdict: Verdict): void {
  const t = (into[concept] ??= empty());
  t[verdict]++;
  t.total++;
}

/**
 * Per-row, per-column and overall tallies of badges, per concept.
 * @param size grid size: rows × cols (cells may be missing, e.g. while images are generated)
 * @throws for a cell outside the grid or two cells at one position
 */
export function gridTotals(cells: readonly GridCell[], size: { rows: number; cols: number }): GridTotals {
  const out: GridTotals = {
    rows: Array.from({ length: size.rows }, () => ({})),
    cols: Array.from({ length: size.cols }, () => ({})),
    all: {},
  };
  const seen = new Set<string>();
  for (const cell of cells) {
    if (!(Number.isInteger(cell.row) && Number.isInteger(cell.col) && cell.row >= 0 && cell.col >= 0 && cell.row < size.rows && cell.col < size.cols)) {
      throw new Error(`Grid cell (${cell.row}, ${cell.col}) is outside the ${size.rows}×${size.cols} grid.`);
    }
    const key = `${cell.row},${cell.col}`;
    if (seen.has(key)) throw new Error(`Grid cell (${cell.row}, ${cell.col}) appears twice; give each image its own cell.`);
    seen.add(key);
    for (const b of cell.badges) {
      add(out.rows[cell.row]!, b.concept, b.verdict);
      add(out.cols[cell.col]!, b.concept, b.verdict);
      add(out.all, b.concept, b.verdict);
    }
  }
  return out;
}
