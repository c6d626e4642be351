/**
 * A small concept hierarchy for judging erasures: for each concept its synonyms, sub-classes
 * (hyponyms: "sports car" is a car), compositions (the concept with a size / colour / material,
 * the prompts that test whether an erasure survives through attributes), neighbours (concepts an
 * erasure should NOT damage) and unrelated controls. All terms are lower-case and singular.
 *
 * The lists are data, chosen for the concepts the lessons use and the usual erasure targets
 * (objects from the UCE/ESD papers, artists from the art-erasure experiments).
 */
import { lemmaPhrase } from './words.ts';

/** How a prompt or a matched word relates to the concept being judged. */
export type Relation = 'self' | 'synonym' | 'subclass' | 'composition' | 'neighbour' | 'unrelated';

export type AttributeKind = 'colour' | 'material' | 'size';

export interface Concept {
  /** Canonical singular name, also the key: 'car', 'van gogh'. */
  name: string;
  kind: 'object' | 'artist';
  synonyms: string[];
  subclasses: string[];
  /** Words that hint at the concept without naming it (an artist's subjects and manner); they make a judgement 'unsure', never 'present'. */
  cues: string[];
  neighbours: string[];
  unrelated: string[];
  /** Attributes that make sensible compositions with this concept. */
  attributes: Partial<Record<AttributeKind, string[]>>;
}

/** Attribute words by kind; the first form of each entry is the canonical one, the rest map to it. */
export const ATTRIBUTE_WORDS: Record<AttributeKind, string[][]> = {
  colour: [['red'], ['green'], ['blue'], ['yellow'], ['orange'], ['purple', 'violet'], ['pink'], ['black'], ['white'], ['grey', 'gray'], ['brown'], ['turquoise', 'teal']],
  material: [['wooden', 'wood'], ['metal', 'metallic'], ['stone'], ['glass'], ['plastic'], ['leather'], ['golden', 'gold'], ['silver'], ['marble'], ['brick'], ['steel'], ['iron'], ['paper'], ['velvet'], ['wicker']],
  size: [['small', 'tiny', 'little', 'miniature'], ['large', 'big', 'huge', 'giant', 'enormous']],
};

/** Canonical attribute for a word ('wood' → material 'wooden', 'gray' → colour 'grey'), or null. */
export function attributeOf(word: string): { kind: AttributeKind; value: string } | null {
  const w = word.toLowerCase();
  for (const kind of Object.keys(ATTRIBUTE_WORDS) as AttributeKind[]) {
    for (const forms of ATTRIBUTE_WORDS[kind]) if (forms.includes(w)) return { kind, value: forms[0]! };
  }
  return null;
}

const UNRELATED = ['mountain landscape', 'bowl of fruit', 'city skyline', 'teapot'];
type Entry = Omit<Concept, 'name' | 'unrelated' | 'cues'> & { unrelated?: string[]; cues?: string[] };

const DATA: Record<string, Entry> = {
  car: {
    kind: 'object',
    synonyms: ['automobile', 'auto', 'motorcar'],
    subclasses: ['sedan', 'suv', 'taxi', 'cab', 'sports car', 'race car', 'police car', 'convertible', 'hatchback', 'coupe', 'minivan', 'station wagon', 'limousine', 'jeep', 'volkswagen beetle'],
    neighbours: ['bus', 'truck', 'pickup truck', 'motorcycle', 'bicycle', 'train', 'van'],
    attributes: { colour: ['red', 'blue', 'yellow'], material: ['wooden', 'golden'], size: ['small', 'large'] },
  },
  dog: {
    kind: 'object',
    synonyms: ['puppy', 'hound', 'doggy', 'canine'],
    subclasses: ['golden retriever', 'labrador', 'poodle', 'beagle', 'bulldog', 'dachshund', 'german shepherd', 'husky', 'corgi', 'terrier', 'chihuahua'],
    neighbours: ['cat', 'wolf', 'fox', 'horse', 'sheep'],
    attributes: { colour: ['black', 'white', 'brown'], material: ['plastic', 'stone'], size: ['small', 'large'] },
  },
  cat: {
    kind: 'object',
    synonyms: ['kitten', 'kitty', 'feline'],
    subclasses: ['tabby', 'siamese cat', 'persian cat', 'maine coon', 'sphynx cat'],
    neighbours: ['dog', 'tiger', 'lion', 'fox', 'rabbit'],
    attributes: { colour: ['black', 'white', 'orange'], material: ['stone', 'plastic'], size: ['small', 'large'] },
  },
  church: {
    kind: 'object',
    synonyms: ['chapel'],
    subclasses: ['cathedral', 'basilica', 'abbey'],
    neighbours: ['mosque', 'temple', 'castle', 'tower', 'house'],
    attributes: { colour: ['white', 'red'], material: ['stone', 'wooden', 'brick'], size: ['small', 'large'] },
  },
  'van gogh': {
    kind: 'artist',
    synonyms: ['vincent van gogh', 'gogh'],
    subclasses: ['starry night', 'sunflowers by van gogh'],
    cues: ['swirling', 'impasto', 'post-impressionist', 'post impressionist', 'sunflower', 'starry'],
    neighbours: ['monet', 'picasso', 'rembrandt', 'cezanne', 'gauguin'],
    unrelated: ['photograph', 'pixel art', 'architectural blueprint'],
    attributes: {},
  },
  monet: { kind: 'artist', synonyms: ['claude monet'], subclasses: ['water lilies'], cues: ['impressionist', 'water lily'], neighbours: ['van gogh', 'renoir', 'manet', 'cezanne'], attributes: {} },
  picasso: { kind: 'artist', synonyms: ['pablo picasso'], subclasses: ['guernica'], cues: ['cubist', 'cubism'], neighbours: ['braque', 'matisse', 'dali', 'van gogh'], attributes: {} },
  rembrandt: { kind: 'artist', synonyms: ['rembrandt van rijn'], subclasses: ['the night watch'], cues: ['chiaroscuro', 'baroque'], neighbours: ['vermeer', 'caravaggio', 'van gogh'], attributes: {} },
  sofa: {
    kind: 'object',
    synonyms: ['couch', 'settee'],
    subclasses: ['loveseat', 'sectional sofa', 'futon'],
    neighbours: ['chair', 'bench', 'bed', 'armchair'],
    attributes: { colour: ['red', 'grey'], material: ['leather', 'velvet'], size: ['small', 'large'] },
  },
  chair: {
    kind: 'object',
    synonyms: ['seat'],
    subclasses: ['armchair', 'rocking chair', 'office chair', 'stool', 'throne'],
    neighbours: ['sofa', 'bench', 'table', 'bed'],
    attributes: { colour: ['red', 'white'], material: ['wooden', 'metal', 'plastic'], size: ['small', 'large'] },
  },
  bench: {
    kind: 'object',
    synonyms: [],
    subclasses: ['park bench', 'picnic bench', 'pew'],
    neighbours: ['chair', 'sofa', 'table', 'fence'],
    attributes: { colour: ['green', 'red'], material: ['wooden', 'metal', 'stone'], size: ['small', 'large'] },
  },
  bird: {
    kind: 'object',
    synonyms: ['birdie', 'fowl'],
    subclasses: ['parrot', 'sparrow', 'eagle', 'owl', 'pigeon', 'robin', 'crow', 'duck', 'swan', 'hummingbird', 'seagull', 'penguin'],
    neighbours: ['butterfly', 'bat', 'airplane', 'cat'],
    attributes: { colour: ['blue', 'red', 'yellow'], material: ['wooden', 'paper', 'metal'], size: ['small', 'large'] },
  },
  truck: { kind: 'object', synonyms: ['lorry'], subclasses: ['pickup truck', 'fire truck', 'dump truck', 'tow truck'], neighbours: ['car', 'bus', 'van', 'tractor'], attributes: { colour: ['red'], size: ['large'] } },
  bus: { kind: 'object', synonyms: ['coach'], subclasses: ['school bus', 'double-decker bus', 'minibus'], neighbours: ['car', 'truck', 'train', 'tram'], attributes: { colour: ['yellow', 'red'] } },
};

/** The built-in concepts by canonical name. */
export const CONCEPTS: Readonly<Record<string, Concept>> = Object.fromEntries(
  Object.entries(DATA).map(([name, e]) => [name, { name, cues: [], unrelated: UNRELATED, ...e }]),
);

/**
 * The built-in concept a name refers to (its canonical name, a synonym or a plural of either),
 * or a bare concept (no synonyms or sub-classes) for names the hierarchy does not know.
 */
export function getConcept(name: string): Concept {
  const key = lemmaPhrase(name);
  if (!key) throw new Error('A concept needs a name (e.g. "car" or "van gogh").');
  const known = CONCEPTS[key] ?? Object.values(CONCEPTS).find((c) => c.synonyms.includes(key));
  return known ?? { name: key, kind: 'object', synonyms: [], subclasses: [], cues: [], neighbours: [], unrelated: UNRELATED, attributes: {} };
}

/** Terms that mean the concept is there: itself, its synonyms and sub-classes (each lemmatised). */
export function presenceTerms(concept: Concept, { subclasses = true } = {}): { term: string; relation: Relation }[] {
  const out: { term: string; relation: Relation }[] = [{ term: concept.name, relation: 'self' }];
  for (const s of concept.synonyms) out.push({ term: lemmaPhrase(s), relation: 'synonym' });
  if (subclasses) for (const s of concept.subclasses) out.push({ term: lemmaPhrase(s), relation: 'subclass' });
  return out;
}

/** One suggested prompt for the compare grid. */
export interface FamilyPrompt {
  prompt: string;
  relation: Relation;
  /** The word(s) of the prompt that carry the relation ('sports car', 'bus', 'red'). */
  term: string;
  /** For compositions: the attribute added. */
  attribute?: { kind: AttributeKind; value: string };
}

const article = (phrase: string) => (/^[aeiou]/.test(phrase) ? `an ${phrase}` : `a ${phrase}`);
const subject = (c: Concept, term: string) => (c.kind === 'artist' ? `a painting in the style of ${titleCase(term)}` : `a photo of ${article(term)}`);
const titleCase = (s: string) => s.replace(/\b\p{L}/gu, (ch) => ch.toUpperCase());

/**
 * Prompts that probe an erasure of `concept`: the concept itself, its synonyms and sub-classes
 * (should be erased too), compositions with attributes (should be erased; a survivor here is
 * the classic leak), neighbours (should survive) and unrelated controls (must not change).
 * @param perRelation at most this many prompts per relation (default 3)
 */
export function promptFamily(concept: Concept | string, { perRelation = 3 } = {}): FamilyPrompt[] {
  const c = typeof concept === 'string' ? getConcept(concept) : concept;
  const take = <T>(xs: readonly T[]) => xs.slice(0, perRelation);
  const out: FamilyPrompt[] = [{ prompt: subject(c, c.name), relation: 'self', term: c.name }];
  for (const s of take(c.synonyms)) out.push({ prompt: subject(c, s), relation: 'synonym', term: s });
  for (const s of take(c.subclasses)) out.push({ prompt: subject(c, s), relation: 'subclass', term: s });
  const attrs = (Object.keys(c.attributes) as AttributeKind[]).flatMap((kind) => (c.attributes[kind] ?? []).map((value) => ({ kind, value })));
  for (const a of take(attrs)) out.push({ prompt: subject(c, `${a.value} ${c.name}`), relation: 'composition', term: a.value, attribute: a });
  for (const n of take(c.neighbours)) out.push({ prompt: subject(c, n), relation: 'neighbour', term: n });
  for (const u of take(c.unrelated)) out.push({ prompt: c.kind === 'artist' ? `a ${u}` : `a photo of ${article(u)}`, relation: 'unrelated', term: u });
  return out;
}
