/**
 * Progressive erasure: a concept's variants (sub-classes, compositions, synonyms) erased one
 * group at a time, each UCE step computed on the model already edited by the previous steps, so
 * the maps compose in order: M_total = M_1·M_2⋯M_k (W → W·M_1 → W·M_1·M_2 …).
 * eraseAllAtOnce solves the same concepts as one UCE system for comparison.
 */
import { describeEdit, rankOfEdit, type ClosedFormEdit, type EditResult } from './closed-form.ts';
import { composeContextMaps, type ContextMap } from './context-map.ts';
import { checkConceptList } from './inputs.ts';
import { eraseUce, type UceOptions } from './uce.ts';
import type { EncodePrompts } from './tokens.ts';

export interface ProgressiveOptions extends Omit<UceOptions, 'erase'> {
  /** Groups erased in order, e.g. [['car'], ['red car', 'blue car'], ['vehicle']]. */
  steps: string[][];
}

export interface ProgressiveResult extends EditResult {
  /** Each step's own map (relative to the model after the previous steps) and diagnostics. */
  steps: EditResult[];
}

function checkSteps(steps: unknown): string[][] {
  if (!Array.isArray(steps) || steps.length === 0) throw new Error('progressive erasure: steps is empty; give at least one group of concepts');
  steps.forEach((s, i) => checkConceptList(s, `progressive step ${i + 1}`));
  checkConceptList((steps as string[][]).flat(), 'progressive steps (all groups together)');
  return steps as string[][];
}

/** Merge the solved vectors of several steps (for describing the composed map on all of them). */
function mergeEdits(edits: ClosedFormEdit[]): ClosedFormEdit {
  const first = edits[0];
  return {
    ...first,
    sources: edits.flatMap((e) => e.sources),
    targets: edits.flatMap((e) => e.targets),
    preserve: first.preserve,
    sourceLabels: edits.flatMap((e) => e.sourceLabels ?? e.sources.map((_, i) => ({ prompt: `erased ${i}`, token: -1 }))),
    preserveLabels: first.preserveLabels,
  };
}

/**
 * Erase the groups one at a time, composing maps. The returned diagnostics describe the composed
 * map on every step's erased vectors and on the preserve set; conditionNumber is the worst step's.
 */
export async function eraseProgressive(options: ProgressiveOptions, encode: EncodePrompts): Promise<ProgressiveResult> {
  const steps = checkSteps(options.steps);
  const results: EditResult[] = [];
  let total: ContextMap | undefined;
  for (const group of steps) {
    const r = await eraseUce({ ...options, erase: group }, encode);
    results.push(r);
    total = total ? composeContextMaps(total, r.map) : r.map;
  }
  const map: ContextMap = { ...total!, provenance: { method: 'progressive', params: { steps }, parts: results.map((r) => r.map.provenance) } };
  const edit = mergeEdits(results.map((r) => r.edit));
  const cond = Math.max(...results.map((r) => r.diagnostics.conditionNumber));
  const diagnostics = describeEdit(map, edit, rankOfEdit(map), cond, results[0].diagnostics.solver);
  return { map, diagnostics, edit, steps: results };
}

/** The all-at-once counterpart: one UCE edit of every concept in every step. */
export async function eraseAllAtOnce(options: ProgressiveOptions, encode: EncodePrompts): Promise<EditResult> {
  const steps = checkSteps(options.steps);
  const { steps: _omit, ...rest } = options;
  return eraseUce({ ...rest, erase: steps.flat() }, encode);
}
