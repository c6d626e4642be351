/**
 * Prompts for the compare grid from the erased concepts' families (eval/concepts.ts): the concept
 * itself, synonyms, sub-classes, compositions, neighbours and unrelated controls, each tagged with
 * its relation so the grid can say what to expect (erased vs. kept).
 */
import { promptFamily, type Relation } from '../lib/eval/concepts.ts';
import type { EraseRequest } from '../lib/erasure/request.ts';
import { LIMITS, type PromptItem } from './state.ts';

/** The concepts an edit erases (TIME: its source prompt). */
export function erasedConcepts(edit: EraseRequest | null): string[] {
  if (!edit) return [];
  if (edit.method === 'time') return [edit.source];
  if (edit.method === 'progressive') return edit.steps.flat();
  return edit.erase;
}

/** What a relation should show after a good erasure, for the grid's legend. */
export const EXPECTATION: Record<Relation | 'custom', string> = {
  self: 'should be erased',
  synonym: 'should be erased',
  subclass: 'should be erased',
  composition: 'should be erased (a survivor is a leak)',
  neighbour: 'should survive',
  unrelated: 'must not change',
  custom: 'your prompt',
};

/**
 * Suggested prompts for an edit: the family of each erased concept, `perRelation` per relation,
 * without duplicates, at most LIMITS.prompts in all (one of each relation first).
 */
export function suggestPrompts(edit: EraseRequest | null, perRelation = 2): PromptItem[] {
  const all = erasedConcepts(edit).flatMap((c) => promptFamily(c, { perRelation }));
  const seen = new Set<string>();
  const unique = all.filter((p) => !seen.has(p.prompt.toLowerCase()) && seen.add(p.prompt.toLowerCase()));
  // One of each relation first, so a long family still shows every kind of probe.
  const firsts = new Set<string>();
  const head = unique.filter((p) => !firsts.has(p.relation) && firsts.add(p.relation));
  const ordered = [...head, ...unique.filter((p) => !head.includes(p))];
  return ordered.slice(0, LIMITS.prompts).map((p) => ({ text: p.prompt, relation: p.relation }));
}
