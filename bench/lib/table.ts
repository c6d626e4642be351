/** Markdown tables for benchmark output, padded so they also read well in a terminal. */

export type Cell = string | number | null | undefined;

function text(c: Cell): string {
  if (c === null || c === undefined) return '';
  return typeof c === 'number' ? String(c) : c;
}

/** A GitHub-flavoured markdown table: `headers` then one line per row; cells padded to the column width. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = [headers.map(text), ...rows.map((r) => headers.map((_, i) => text(r[i])))];
  const widths = headers.map((_, i) => Math.max(3, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join('\n');
}

/** Format milliseconds for a table: "12.3 ms", "4.56 s" from 10 s up. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(0)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** Format a ratio a/b as "×5.2" (or '—' when either side is missing). */
export function formatRatio(r: number | null | undefined): string {
  return r === null || r === undefined || !Number.isFinite(r) ? '—' : `×${r.toFixed(r >= 100 ? 0 : 2)}`;
}
