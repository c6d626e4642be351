/**
 * "Is there a car?" from what Florence-2 said about an image. Florence-2 has no yes/no answer,
 * so presence is decided from its object-detection labels (`<OD>`) and its caption words, matched
 * against the concept, its synonyms and sub-classes with lemmas ('cars' → 'car'). Words the
 * lists miss can be compared with the concept by CLIP text similarity (a callback, so this
 * module stays model-free). Grounding is NEVER evidence of presence: `<CAPTION_TO_PHRASE_GROUNDING>`
 * boxes something for any phrase, present or not; it is accepted here only to say so.
 *
 * Every decision keeps its evidence (which label or word matched, or how similar it was), so the
 * UI can show why on hover and a user can correct it (agreement.ts).
 */
import { getConcept, presenceTerms, type Concept, type Relation, attributeOf } from './concepts.ts';
import { findPhrase, isNegated, lemmaTokens, STOPWORDS, tokenize } from './words.ts';

export type Verdict = 'present' | 'absent' | 'unsure';

/** One reason behind a verdict. */
export interface Evidence {
  source: 'od-label' | 'caption-word' | 'clip-similarity' | 'cue' | 'grounding';
  /** The label or caption word(s) looked at. */
  text: string;
  /** Whether this piece says the concept is there. */
  matched: boolean;
  /** The concept term it matched ('sports car'), when it did. */
  term?: string;
  relation?: Relation;
  /** CLIP text cosine similarity with the concept, for 'clip-similarity'. */
  similarity?: number;
  note?: string;
}

/** What Florence-2 said about one image (any part may be missing). */
export interface PresenceInput {
  /** `<OD>` labels. */
  od?: { labels: readonly string[] } | null;
  /** A caption (`<CAPTION>`, `<DETAILED_CAPTION>` or `<MORE_DETAILED_CAPTION>`). */
  caption?: string | null;
  /** Grounding labels: recorded as evidence with matched = false, never used for the verdict. */
  grounding?: { labels: readonly string[] } | null;
}

/**
 * CLIP text similarity: cosine similarity of the concept with each word, each in [-1, 1]
 * (e.g. projected text embeddings of "a photo of a {word}").
 */
export type SimilarityFn = (concept: string, words: string[]) => Promise<number[]>;

export interface PresenceOptions {
  similarity?: SimilarityFn;
  /** Similarity at or above which a word counts as the concept (default 0.9; calibrate with agreement.ts). */
  threshold?: number;
  /** Similarity at or above which (and below `threshold`) the verdict is 'unsure' (default 0.8). */
  unsureFrom?: number;
  /** Count sub-classes as the concept (default true: a 'sports car' is a car). */
  subclasses?: boolean;
  /** Most words sent to CLIP per decision (default 24). */
  maxSimilarityWords?: number;
}

export interface PresenceDecision {
  concept: string;
  verdict: Verdict;
  evidence: Evidence[];
}

/** The longest concept term that ends `label` (its head noun: 'toy car' is a car, 'car seat' is not). */
function labelMatch(label: string, terms: { term: string; relation: Relation }[]) {
  const tokens = lemmaTokens(label);
  const longestFirst = [...terms].sort((a, b) => lemmaTokens(b.term).length - lemmaTokens(a.term).length);
  return longestFirst.find(({ term }) => {
    const hits = findPhrase(tokens, term);
    return hits.length > 0 && hits.at(-1)! + lemmaTokens(term).length === tokens.length;
  });
}

/** Evidence from caption words: every mention of a term, negated ones ('no cars') as not matched. */
function captionEvidence(caption: string, terms: { term: string; relation: Relation }[]): Evidence[] {
  const tokens = lemmaTokens(caption);
  const raw = tokenize(caption);
  const out: Evidence[] = [];
  for (const { term, relation } of terms) {
    for (const at of findPhrase(tokens, term)) {
      const text = raw.slice(at, at + lemmaTokens(term).length).join(' ');
      const negated = isNegated(tokens, at);
      out.push({ source: 'caption-word', text, matched: !negated, term, relation, ...(negated ? { note: 'negated' } : {}) });
    }
  }
  return out;
}

/** Labels and caption words that no list explains: candidates for CLIP similarity. */
function unexplainedWords(input: PresenceInput, concept: Concept, explained: Set<string>): string[] {
  const neighbours = new Set(concept.neighbours.map((n) => lemmaTokens(n).join(' ')));
  const words = new Set<string>();
  const consider = (w: string) => {
    const key = lemmaTokens(w).join(' ');
    if (key && !explained.has(key) && !neighbours.has(key)) words.add(key);
  };
  for (const l of input.od?.labels ?? []) consider(l);
  for (const t of tokenize(input.caption ?? '')) {
    if (t.length >= 3 && !STOPWORDS.has(t) && !attributeOf(t) && !/\d/.test(t)) consider(t);
  }
  return [...words];
}

/**
 * Decide whether `concept` is in an image from its `<OD>` labels and caption.
 * @throws when neither labels nor a caption are given (grounding alone cannot tell)
 */
export async function decidePresence(concept: Concept | string, input: PresenceInput, options: PresenceOptions = {}): Promise<PresenceDecision> {
  const c = typeof concept === 'string' ? getConcept(concept) : concept;
  if (!input.od && (input.caption === undefined || input.caption === null)) {
    throw new Error(`Cannot judge '${c.name}' without <OD> labels or a caption: grounding boxes a phrase whether or not it is there. Run <OD> and a caption task first.`);
  }
  const terms = presenceTerms(c, { subclasses: options.subclasses ?? true });
  const evidence: Evidence[] = [];
  const explained = new Set<string>(terms.map((t) => lemmaTokens(t.term).join(' ')));

  for (const label of input.od?.labels ?? []) {
    const m = labelMatch(label, terms);
    if (m) evidence.push({ source: 'od-label', text: label, matched: true, term: m.term, relation: m.relation });
    else if (c.neighbours.some((n) => labelMatch(label, [{ term: n, relation: 'neighbour' }]))) {
      evidence.push({ source: 'od-label', text: label, matched: false, relation: 'neighbour', note: `a neighbour of ${c.name}, not ${c.name}` });
    }
  }
  if (input.caption) evidence.push(...captionEvidence(input.caption, terms));
  if (input.caption) {
    for (const cue of c.cues) {
      for (const at of findPhrase(lemmaTokens(input.caption), cue)) {
        evidence.push({ source: 'cue', text: tokenize(input.caption).slice(at, at + lemmaTokens(cue).length).join(' '), matched: false, term: cue, note: `hints at ${c.name} without naming it` });
      }
    }
  }
  for (const label of input.grounding?.labels ?? []) {
    evidence.push({ source: 'grounding', text: label, matched: false, note: 'grounding boxes a phrase whether or not it is there; not used' });
  }

  const named = evidence.some((e) => e.matched);
  let best = -Infinity;
  if (!named && options.similarity) {
    const words = unexplainedWords(input, c, explained).slice(0, options.maxSimilarityWords ?? 24);
    const sims = words.length ? await options.similarity(c.name, words) : [];
    if (sims.length !== words.length) throw new Error(`The similarity callback returned ${sims.length} values for ${words.length} words.`);
    const threshold = options.threshold ?? 0.9;
    words.forEach((w, i) => {
      const s = sims[i]!;
      best = Math.max(best, s);
      if (s >= (options.unsureFrom ?? 0.8)) evidence.push({ source: 'clip-similarity', text: w, matched: s >= threshold, similarity: s });
    });
  }
  const verdict: Verdict = evidence.some((e) => e.matched)
    ? 'present'
    : best >= (options.unsureFrom ?? 0.8) || evidence.some((e) => e.source === 'cue')
      ? 'unsure'
      : 'absent';
  return { concept: c.name, verdict, evidence };
}
