/**
 * Calibration by the user: anyone can correct a judgement ("there IS a car"), the correction is
 * kept next to the judge's verdict (never replacing it), and the app reports how often the judge
 * agrees with the people who checked it, per concept and overall, with Cohen's kappa (agreement
 * corrected for chance) so a class or a researcher can see how far to trust the badges.
 */
import type { PresenceDecision, Verdict } from './presence.ts';

/** A person's answer for one image and concept. */
export interface Correction {
  verdict: 'present' | 'absent';
  /** ms since epoch. */
  at: number;
  note?: string;
}

/** One judged (image, concept) pair, with the user's correction when there is one. */
export interface JudgedItem {
  imageId: string;
  concept: string;
  judge: PresenceDecision;
  correction?: Correction;
}

/** The verdict to show: the user's when they corrected it, else the judge's. */
export function shownVerdict(item: JudgedItem): Verdict {
  return item.correction?.verdict ?? item.judge.verdict;
}

/** A copy of `items` with the correction for (imageId, concept) set; throws if that pair was never judged. */
export function withCorrection(items: readonly JudgedItem[], imageId: string, concept: string, correction: Correction): JudgedItem[] {
  const i = items.findIndex((x) => x.imageId === imageId && x.concept === concept);
  if (i < 0) throw new Error(`No judgement of '${concept}' for image ${imageId} to correct; judge the image first.`);
  return items.map((x, j) => (j === i ? { ...x, correction } : x));
}

/** Agreement between the judge and the users over the corrected items. */
export interface AgreementStats {
  /** Items a user checked. */
  count: number;
  /** Of those, where the judge said the same. ('unsure' never agrees.) */
  agree: number;
  /** agree / count; null when count is 0. */
  rate: number | null;
  /** Items the judge called 'unsure' (counted as disagreements). */
  unsure: number;
  /** Cohen's kappa over {present, absent, unsure}; null when undefined (no items, or chance agreement is 1). */
  kappa: number | null;
}

const CATEGORIES: Verdict[] = ['present', 'absent', 'unsure'];

/** Agreement statistics of a list of (judge, user) verdict pairs. */
export function agreementOf(pairs: readonly { judge: Verdict; user: Verdict }[]): AgreementStats {
  const n = pairs.length;
  const agree = pairs.filter((p) => p.judge === p.user).length;
  const unsure = pairs.filter((p) => p.judge === 'unsure').length;
  if (n === 0) return { count: 0, agree: 0, rate: null, unsure: 0, kappa: null };
  const po = agree / n;
  // Chance agreement: both pick category k independently with their own marginal rates.
  const pe = CATEGORIES.reduce((s, k) => s + (pairs.filter((p) => p.judge === k).length / n) * (pairs.filter((p) => p.user === k).length / n), 0);
  return { count: n, agree, rate: po, unsure, kappa: pe >= 1 ? null : (po - pe) / (1 - pe) };
}

/** Agreement overall and per concept, over the items that carry a correction. */
export function agreement(items: readonly JudgedItem[]): { overall: AgreementStats; perConcept: Record<string, AgreementStats> } {
  const checked = items.filter((x) => x.correction);
  const pairs = (xs: readonly JudgedItem[]) => xs.map((x) => ({ judge: x.judge.verdict, user: x.correction!.verdict as Verdict }));
  const concepts = [...new Set(checked.map((x) => x.concept))].sort();
  return {
    overall: agreementOf(pairs(checked)),
    perConcept: Object.fromEntries(concepts.map((c) => [c, agreementOf(pairs(checked.filter((x) => x.concept === c)))])),
  };
}
