import { describe, expect, it } from 'vitest';
import { cellBadges, columnLabels, evidenceLines, jobColumn, judgedCells, rowConcept, validateJudgeRecord, type JudgeRecord } from '../../src/app/judge-records.ts';
import { judgeOverride } from '../../src/app/judge-source.ts';
import { Persistence, type KeyValue } from '../../src/app/persist.ts';
import { gridJobs } from '../../src/app/grid.ts';
import { defaultState, type PlaygroundState, type PromptItem } from '../../src/app/state.ts';
import { decidePresence } from '../../src/lib/eval/presence.ts';
import { gridTotals } from '../../src/lib/eval/totals.ts';

const p = (text: string, relation: PromptItem['relation'] = 'custom'): PromptItem => ({ text, relation });
const uce = (erase: string[]): PlaygroundState['edit'] => ({ method: 'uce', erase, target: '', preserve: [], lambda: 0.5, eraseScale: 1, preserveScale: 1, tokens: '2025' });

describe('the concepts a cell is judged for', () => {
  it("finds the row's concept from the erased concepts' prompt families, else from the prompt's last object", () => {
    expect(rowConcept(p('a photo of a bus', 'neighbour'), ['car'])).toBe('bus');
    expect(rowConcept(p('A photo of a red car', 'composition'), ['car'])).toBe('car'); // a composition is about the concept
    expect(rowConcept(p('a photo of an automobile', 'synonym'), ['car'])).toBe('car'); // canonical name
    expect(rowConcept(p('a photo of a sports car', 'subclass'), ['car'])).toBe('sports car');
    expect(rowConcept(p('a painting in the style of Van Gogh', 'self'), ['van gogh'])).toBe('van gogh');
    expect(rowConcept(p('a wooden bench and a bird'), ['car'])).toBe('bird');
    expect(rowConcept(p('two dogs on a sofa'), [])).toBe('sofa');
    expect(rowConcept(p('and with'), [])).toBeNull();
  });

  it('badges: each erased concept, then the row concept, merged when they are the same', () => {
    expect(cellBadges({ edit: uce(['car']) }, p('a photo of a bus', 'neighbour'))).toEqual([
      { concept: 'car', roles: ['erased'] },
      { concept: 'bus', roles: ['row'] },
    ]);
    expect(cellBadges({ edit: uce(['cars', 'automobile']) }, p('a photo of a car', 'self'))).toEqual([{ concept: 'car', roles: ['erased', 'row'] }]);
    expect(cellBadges({ edit: null }, p('a photo of a cat'))).toEqual([{ concept: 'cat', roles: ['row'] }]);
    expect(cellBadges({ edit: { method: 'time', source: 'dog', destination: 'animal' } as PlaygroundState['edit'] }, p('a photo of a cat'))).toEqual([
      { concept: 'dog', roles: ['erased'] },
      { concept: 'cat', roles: ['row'] },
    ]);
  });

  it('places jobs in columns seed by seed, original then erased, and the totals add up per row and column', () => {
    const state: PlaygroundState = { ...defaultState(), prompts: [p('a photo of a car', 'self'), p('a photo of a bus', 'neighbour')], seeds: [7, 3], edit: uce(['car']) };
    expect(columnLabels(state)).toEqual(['seed 7 · original', 'seed 7 · erased', 'seed 3 · original', 'seed 3 · erased']);
    const jobs = gridJobs(state);
    expect(jobs.map((j) => jobColumn(state, j))).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect(columnLabels({ ...state, edit: null })).toEqual(['seed 7', 'seed 3']);
    // Verdicts: the erased images say absent, the originals present; one image not judged yet.
    const unjudged = jobs[7]!.key;
    const cells = judgedCells(state, jobs, (key, concept) => (key === unjudged ? null : jobs.find((j) => j.key === key)!.edited && concept === 'car' ? 'absent' : 'present'));
    expect(cells).toHaveLength(7);
    const t = gridTotals(cells, { rows: 2, cols: 4 });
    expect(t.all.car).toEqual({ present: 4, absent: 3, unsure: 0, total: 7 });
    expect(t.all.bus).toEqual({ present: 3, absent: 0, unsure: 0, total: 3 });
    expect(t.rows[0]!.car!.total).toBe(4);
    expect(t.rows[1]!.car!.total + t.rows[1]!.bus!.total).toBe(6);
    expect(t.cols[3]!.car).toEqual({ present: 0, absent: 1, unsure: 0, total: 1 });
  });
});

describe('evidence sentences', () => {
  it('say which label or word matched, and what was seen when nothing did', async () => {
    const record = { od: { labels: ['sports car', 'tree'], bboxes: [] }, caption: 'A red sports car parked by a bus, no cars behind it.' };
    const present = await decidePresence('car', { od: record.od, caption: record.caption });
    const lines = evidenceLines(present, record);
    expect(lines).toContain('Detected “sports car”: car (subclass “sports car”)');
    expect(lines).toContain('The caption says “sports car” (subclass “sports car”)');
    expect(lines).toContain('The caption says “cars”, negated');
    const absent = await decidePresence('dog', { od: { labels: ['tree'] }, caption: 'an empty road' });
    expect(evidenceLines(absent, { od: { labels: ['tree'], bboxes: [] }, caption: '' })).toEqual(['No detected label or caption word names dog (detected: “tree”).']);
    const many = ['tree', 'tree', 'a', 'b', 'c', 'd', 'e', 'f', 'g'];
    expect(evidenceLines(absent, { od: { labels: many, bboxes: [] }, caption: '' }).at(-1)).toBe('No detected label or caption word names dog (detected: “tree”, “a”, “b”, “c”, “d”, “e” and 2 more).');
  });
});

function memoryKv(): KeyValue & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  return {
    map,
    get: async (k) => structuredClone(map.get(k)) as never,
    set: async (k, v) => void map.set(k, structuredClone(v)),
    del: async (k) => void map.delete(k),
    keys: async () => [...map.keys()],
  };
}

describe('judge records in storage', () => {
  const record: JudgeRecord = { imageKey: '["tiny",2,1,7,"a car",null]', od: { labels: ['car'], bboxes: [[1, 2, 30, 40]] }, caption: 'a car', at: 5, corrections: { car: { verdict: 'absent', at: 9 } } };

  it('keeps a record with its corrections by the image key', async () => {
    const kv = memoryKv();
    const store = new Persistence(kv);
    await store.putJudgement(record);
    expect(await store.getJudgement(record.imageKey)).toEqual(record);
    expect(await store.getJudgement('other')).toBeNull();
  });

  it('refuses damaged records by field, and drops damaged ones read back', async () => {
    expect(() => validateJudgeRecord({ ...record, od: { labels: ['car'], bboxes: [] } })).toThrow(/'od' must hold as many labels as boxes/);
    expect(() => validateJudgeRecord({ ...record, corrections: { car: { verdict: 'maybe', at: 1 } } })).toThrow(/correction of 'car' must be/);
    expect(() => validateJudgeRecord({ ...record, caption: 3 })).toThrow(/'caption' must be a text/);
    const kv = memoryKv();
    kv.map.set('judge:k', { ...record, imageKey: 'k', od: { labels: [1], bboxes: [[0, 0, 1, 1]] } });
    kv.map.set('judge:moved', record);
    const store = new Persistence(kv);
    expect(await store.getJudgement('k')).toBeNull();
    expect(await store.getJudgement('moved')).toBeNull();
    expect([...kv.map.keys()]).toEqual([]);
  });
});

describe('the judge model override (?judge=)', () => {
  const page = 'https://lab.example/app/';
  it('accepts a folder on the same origin and names its storage after it', () => {
    const o = judgeOverride('?judge=judge-test/florence-tiny', page)!;
    expect(o.baseUrl).toBe('https://lab.example/app/judge-test/florence-tiny/');
    expect(o.source.id).toBe('judge-judge-test-florence-tiny');
    expect(o.source.label).toMatch(/judge-test\/florence-tiny/);
    expect(judgeOverride('?x=1', page)).toBeNull();
  });

  it('refuses another origin and other schemes', () => {
    expect(() => judgeOverride('?judge=https://evil.example/m/', page)).toThrow(/same origin as the page \(https:\/\/lab\.example\)/);
    expect(() => judgeOverride('?judge=//evil.example/m', page)).toThrow(/same origin/);
    expect(() => judgeOverride('?judge=javascript:alert(1)', page)).toThrow(/same origin/);
    expect(() => judgeOverride('?judge=', page)).toThrow(/names no folder/);
  });
});
