import { describe, expect, it } from 'vitest';
import { agreement, agreementOf, shownVerdict, withCorrection, type JudgedItem } from '../../src/lib/eval/agreement.ts';
import { gridTotals } from '../../src/lib/eval/totals.ts';
import type { Verdict } from '../../src/lib/eval/presence.ts';

const item = (imageId: string, concept: string, verdict: Verdict): JudgedItem => ({ imageId, concept, judge: { concept, verdict, evidence: [] } });

/** Cohen's kappa from a confusion table, written from the textbook definition (independent of agreementOf). */
function kappaFromTable(table: number[][]): number {
  const n = table.flat().reduce((a, b) => a + b, 0);
  const po = table.reduce((s, row, i) => s + row[i]!, 0) / n;
  const rows = table.map((r) => r.reduce((a, b) => a + b, 0) / n);
  const cols = table[0]!.map((_, j) => table.reduce((s, r) => s + r[j]!, 0) / n);
  const pe = rows.reduce((s, r, i) => s + r * cols[i]!, 0);
  return (po - pe) / (1 - pe);
}

describe('agreement with user corrections', () => {
  it('keeps the judge verdict beside the correction and shows the correction', () => {
    const items = [item('img1', 'car', 'absent')];
    const corrected = withCorrection(items, 'img1', 'car', { verdict: 'present', at: 1 });
    expect(items[0]!.correction).toBeUndefined(); // input untouched
    expect(corrected[0]!.judge.verdict).toBe('absent');
    expect(shownVerdict(corrected[0]!)).toBe('present');
    expect(() => withCorrection(items, 'img2', 'car', { verdict: 'present', at: 1 })).toThrow(/No judgement of 'car' for image img2/);
  });

  it('counts agreement per concept and overall, unsure as a disagreement, and kappa as the textbook formula', () => {
    // judge→user: car: P→P, P→P, A→P, A→A, U→A ; dog: A→A, P→A
    const spec: [string, Verdict, 'present' | 'absent'][] = [
      ['car', 'present', 'present'], ['car', 'present', 'present'], ['car', 'absent', 'present'], ['car', 'absent', 'absent'], ['car', 'unsure', 'absent'],
      ['dog', 'absent', 'absent'], ['dog', 'present', 'absent'],
    ];
    let items: JudgedItem[] = spec.map(([c, v], i) => item(`i${i}`, c, v));
    items.push(item('unchecked', 'car', 'present'));
    spec.forEach(([c, , u], i) => (items = withCorrection(items, `i${i}`, c, { verdict: u, at: i })));
    const r = agreement(items);
    expect(r.overall).toMatchObject({ count: 7, agree: 4, unsure: 1 });
    expect(r.overall.rate).toBeCloseTo(4 / 7, 12);
    // rows = judge (P, A, U), cols = user (P, A, U)
    expect(r.overall.kappa).toBeCloseTo(kappaFromTable([[2, 1, 0], [1, 2, 0], [0, 1, 0]]), 12);
    expect(r.perConcept.car).toMatchObject({ count: 5, agree: 3, rate: 0.6 });
    expect(r.perConcept.dog).toMatchObject({ count: 2, agree: 1, rate: 0.5 });
    expect(r.perConcept.dog!.kappa).toBeCloseTo(kappaFromTable([[0, 1], [0, 1]]), 12);
  });

  it('reports nothing rather than a number when nobody checked, and null kappa when chance agreement is total', () => {
    expect(agreement([item('a', 'car', 'present')]).overall).toEqual({ count: 0, agree: 0, rate: null, unsure: 0, kappa: null });
    expect(agreementOf([{ judge: 'present', user: 'present' }, { judge: 'present', user: 'present' }])).toMatchObject({ rate: 1, kappa: null });
  });
});

describe('gridTotals', () => {
  it('tallies badges per row, per column and overall, per concept', () => {
    const t = gridTotals(
      [
        { row: 0, col: 0, badges: [{ concept: 'car', verdict: 'present' }] },
        { row: 0, col: 1, badges: [{ concept: 'car', verdict: 'absent' }] },
        { row: 1, col: 0, badges: [{ concept: 'car', verdict: 'present' }, { concept: 'bus', verdict: 'present' }] },
        { row: 1, col: 1, badges: [{ concept: 'car', verdict: 'unsure' }, { concept: 'bus', verdict: 'present' }] },
      ],
      { rows: 2, cols: 3 },
    );
    expect(t.rows[0]).toEqual({ car: { present: 1, absent: 1, unsure: 0, total: 2 } });
    expect(t.rows[1]).toEqual({ car: { present: 1, absent: 0, unsure: 1, total: 2 }, bus: { present: 2, absent: 0, unsure: 0, total: 2 } });
    expect(t.cols[0]).toEqual({ car: { present: 2, absent: 0, unsure: 0, total: 2 }, bus: { present: 1, absent: 0, unsure: 0, total: 1 } });
    expect(t.cols[2]).toEqual({});
    expect(t.all.car).toEqual({ present: 2, absent: 1, unsure: 1, total: 4 });
    // Row sums and column sums of every concept agree with the overall tally.
    for (const c of ['car', 'bus']) {
      const rowSum = t.rows.reduce((s, r) => s + (r[c]?.total ?? 0), 0);
      const colSum = t.cols.reduce((s, r) => s + (r[c]?.total ?? 0), 0);
      expect([rowSum, colSum]).toEqual([t.all[c]!.total, t.all[c]!.total]);
    }
  });

  it('refuses cells outside the grid or twice at one place', () => {
    expect(() => gridTotals([{ row: 2, col: 0, badges: [] }], { rows: 2, cols: 2 })).toThrow(/\(2, 0\) is outside the 2×2 grid/);
    expect(() => gridTotals([{ row: 0, col: 0, badges: [] }, { row: 0, col: 0, badges: [] }], { rows: 1, cols: 1 })).toThrow(/appears twice/);
  });
});
