/**
 * Attribute leakage: for a prompt with two objects and attributes ("a wooden bench and a bird"),
 * which object in the image carries which colour / material / size. After an edit, "wooden" can
 * move from the bench to the bird; this module finds that from Florence-2's caption, its region
 * captions (`<DENSE_REGION_CAPTION>` labels) and the grounding phrases of the caption
 * (`<CAPTION_TO_PHRASE_GROUNDING>` labels such as "a wooden bird"), each of which names an
 * attribute next to the noun it describes.
 *
 * Grammar handled (enough for Florence-2's captions): attributive "a wooden bird", stacked
 * "a small red wooden bench", predicative "the bench is wooden", and "a bird made of wood".
 */
import { attributeOf, getConcept, presenceTerms, type AttributeKind } from './concepts.ts';
import type { Box } from './florence-parse.ts';
import { findPhrase, lemmaTokens, tokenize } from './words.ts';

/** An attribute word normalised to its canonical value ('wood' → 'wooden'). */
export interface Attribute {
  kind: AttributeKind;
  value: string;
}

/** One object of the prompt with the attributes the prompt gives it. */
export interface PromptObject {
  /** The head noun as written, lemmatised ('bench'). */
  noun: string;
  attributes: Attribute[];
}

const BOILERPLATE = /^(?:(?:a|an|the)\s+)?(?:photo|photograph|picture|image|painting|drawing|render|illustration)\s+of\s+/i;
const BOUNDARIES = new Set(['and', 'with', 'on', 'in', 'near', 'beside', 'behind', 'under', 'above', 'next', 'to', 'by', 'at', 'holding', 'sitting', 'standing']);
const DETERMINERS = new Set(['a', 'an', 'the', 'one', 'two', 'some', 'its', 'their', 'his', 'her']);

/**
 * The objects of a prompt and their attributes: "a wooden bench and a bird" →
 * [{noun: 'bench', attributes: [material wooden]}, {noun: 'bird', attributes: []}].
 */
export function parsePromptObjects(prompt: string): PromptObject[] {
  const tokens = tokenize(prompt.replace(BOILERPLATE, ''));
  const objects: PromptObject[] = [];
  let chunk: string[] = [];
  const flush = () => {
    const words = chunk.filter((w) => !DETERMINERS.has(w));
    chunk = [];
    const head = [...words].reverse().find((w) => !attributeOf(w));
    if (!head) return;
    const attributes = words.map(attributeOf).filter((a): a is Attribute => a !== null);
    objects.push({ noun: lemmaTokens(head)[0]!, attributes });
  };
  for (const t of tokens) {
    if (BOUNDARIES.has(t)) flush();
    else chunk.push(t);
  }
  flush();
  return objects;
}

/** Where a text says an attribute sits on a noun. */
export interface Observation {
  source: 'caption' | 'region' | 'grounding';
  /** The phrase it was read from. */
  text: string;
  attribute: Attribute;
  /** The prompt object it describes, or null when the noun is not one of the prompt's objects. */
  object: string | null;
  /** The noun as read ('sparrow' for the prompt object 'bird'). */
  noun: string;
  /** The region's box, for region captions and grounding phrases. */
  box?: Box;
}

/** The prompt object a noun refers to (itself, a synonym or a sub-class: 'sparrow' → 'bird'). */
function objectFor(noun: string, objects: readonly PromptObject[]): string | null {
  for (const o of objects) {
    if (presenceTerms(getConcept(o.noun)).some(({ term }) => findPhrase([noun], term).length > 0 || lemmaTokens(term).at(-1) === noun)) return o.noun;
  }
  return null;
}

/** The attribute → noun pairs one phrase states. */
export function readAttributes(text: string, objects: readonly PromptObject[]): { attribute: Attribute; noun: string; object: string | null }[] {
  const t = lemmaTokens(text);
  const out: { attribute: Attribute; noun: string; object: string | null }[] = [];
  for (let i = 0; i < t.length; i++) {
    const attribute = attributeOf(t[i]!);
    if (!attribute) continue;
    let noun: string | undefined;
    if (['is', 'are', 'be', 'look', 'looks'].includes(t[i - 1] ?? '') || (t[i - 1] === 'of' && t[i - 2] === 'made')) {
      // Predicative: look back for the nearest noun of the prompt ("the bench is wooden").
      for (let j = i - 2; j >= Math.max(0, i - 6) && !noun; j--) if (objectFor(t[j]!, objects)) noun = t[j];
    } else {
      // Attributive: skip further attributes ("small red wooden bench") to the head noun.
      let j = i + 1;
      while (j < t.length && attributeOf(t[j]!)) j++;
      if (j < t.length && !BOUNDARIES.has(t[j]!) && !DETERMINERS.has(t[j]!)) noun = t[j];
    }
    if (noun) out.push({ attribute, noun, object: objectFor(noun, objects) });
  }
  return out;
}

/** What Florence-2 said about the image, for leakage. */
export interface LeakageInput {
  caption?: string | null;
  /** `<DENSE_REGION_CAPTION>` result. */
  regions?: { labels: readonly string[]; bboxes?: readonly Box[] } | null;
  /** `<CAPTION_TO_PHRASE_GROUNDING>` result for the caption. */
  grounding?: { labels: readonly string[]; bboxes?: readonly Box[] } | null;
}

/** Where one attribute of the prompt ended up. */
export interface AttributeAssignment {
  attribute: Attribute;
  /** The object the prompt gave it to. */
  intended: string;
  /** Prompt objects (and other nouns, as read) the image's descriptions give it to. */
  observedOn: string[];
  /**
   * kept: only on the intended object; leaked: on another prompt object and not the intended one;
   * shared: on both; elsewhere: only on nouns outside the prompt; missing: not mentioned.
   */
  status: 'kept' | 'leaked' | 'shared' | 'elsewhere' | 'missing';
  /** On a prompt object other than the intended one. */
  leaked: boolean;
  evidence: Observation[];
}

/** Every attribute observation in the caption, region captions and grounding phrases. */
export function observeAttributes(input: LeakageInput, objects: readonly PromptObject[]): Observation[] {
  const out: Observation[] = [];
  const read = (source: Observation['source'], text: string, box?: Box) => {
    for (const r of readAttributes(text, objects)) out.push({ source, text, ...r, ...(box ? { box } : {}) });
  };
  if (input.caption) read('caption', input.caption);
  input.regions?.labels.forEach((l, i) => read('region', l, input.regions?.bboxes?.[i]));
  input.grounding?.labels.forEach((l, i) => read('grounding', l, input.grounding?.bboxes?.[i]));
  return out;
}

/**
 * Which object carries each attribute of the prompt, and whether it leaked.
 * @example assignAttributes('a wooden bench and a bird', { grounding: { labels: ['a wooden bird', 'a bench'] } })
 *   → [{ attribute: {material, wooden}, intended: 'bench', observedOn: ['bird'], status: 'leaked', leaked: true, … }]
 */
export function assignAttributes(prompt: string, input: LeakageInput): AttributeAssignment[] {
  const objects = parsePromptObjects(prompt);
  if (objects.length === 0) throw new Error(`Found no object in the prompt ${JSON.stringify(prompt)}; write it like "a wooden bench and a bird".`);
  const observations = observeAttributes(input, objects);
  return objects.flatMap((o) =>
    o.attributes.map((attribute): AttributeAssignment => {
      const evidence = observations.filter((x) => x.attribute.value === attribute.value);
      const observedOn = [...new Set(evidence.map((x) => x.object ?? x.noun))];
      const onIntended = evidence.some((x) => x.object === o.noun);
      const onOther = evidence.some((x) => x.object !== null && x.object !== o.noun);
      const status = onIntended && onOther ? 'shared' : onIntended ? 'kept' : onOther ? 'leaked' : evidence.length ? 'elsewhere' : 'missing';
      return { attribute, intended: o.noun, observedOn, status, leaked: onOther, evidence };
    }),
  );
}
