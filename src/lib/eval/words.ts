/**
 * Words for matching captions and labels against concepts: tokenising, lemmas (plural →
 * singular) and phrase search over lemmatised tokens. English only, rule-based: enough for
 * Florence-2's captions and COCO-style labels, not a general lemmatiser.
 */

/** Plurals the suffix rules get wrong. */
const IRREGULAR: Record<string, string> = {
  people: 'person', children: 'child', men: 'man', women: 'woman', mice: 'mouse', geese: 'goose',
  teeth: 'tooth', feet: 'foot', knives: 'knife', wives: 'wife', leaves: 'leaf', wolves: 'wolf',
  shelves: 'shelf', loaves: 'loaf', calves: 'calf', halves: 'half', scarves: 'scarf', buses: 'bus',
  taxis: 'taxi', taxes: 'tax', oxen: 'ox', cacti: 'cactus', dice: 'die', lilies: 'lily',
  ponies: 'pony', puppies: 'puppy', kitties: 'kitty', species: 'species', series: 'series',
  sheep: 'sheep', fish: 'fish', deer: 'deer', glasses: 'glass', lenses: 'lens', couches: 'couch',
  gloves: 'glove', doves: 'dove', stoves: 'stove', coupes: 'coupe', canoes: 'canoe', shoes: 'shoe', toes: 'toe',
  monies: 'money', movies: 'movie', cookies: 'cookie', pies: 'pie', ties: 'tie', lies: 'lie',
};

/** Words never treated as plurals (they end in s but are singular). */
const SINGULAR_S = new Set(['bus', 'gas', 'glass', 'grass', 'class', 'dress', 'chess', 'moss', 'cross', 'boss', 'lens', 'canvas', 'campus', 'cactus', 'octopus', 'walrus', 'hippopotamus', 'platypus', 'this', 'is', 'was', 'has', 'his', 'its', 'us', 'yes', 'always', 'across', 'perhaps', 'series', 'species', 'news', 'physics', 'various', 'christmas', 'atlas', 'iris', 'lotus', 'texas', 'paris', 'degas', 'kiss', 'swiss']);

/**
 * The singular of an English noun ('cars' → 'car', 'benches' → 'bench', 'puppies' → 'puppy',
 * 'wolves' → 'wolf'); other words come back lower-cased and unchanged.
 */
export function lemma(word: string): string {
  const w = word.toLowerCase().replace(/['’]s$/, '');
  if (IRREGULAR[w]) return IRREGULAR[w]!;
  if (w.length <= 3 || SINGULAR_S.has(w) || !w.endsWith('s') || /(ss|us|is)$/.test(w)) return w;
  if (/[^aeiou]ies$/.test(w)) return w.slice(0, -3) + 'y';
  if (/(ches|shes|xes|zes|sses)$/.test(w)) return w.slice(0, -2);
  return w.slice(0, -1);
}

/** Lower-case word tokens of a text (letters, digits, inner hyphens and apostrophes). */
export function tokenize(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu) ?? []).map((t) => t.replace(/['’]s$/, ''));
}

/** A phrase as space-joined lemmas: 'Sports Cars' → 'sports car', 'Van Gogh's' → 'van gogh'. */
export function lemmaPhrase(phrase: string): string {
  const t = tokenize(phrase);
  // Only the head (last word) of a noun phrase is inflected: 'sports cars', not 'sport car'.
  return t.map((w, i) => (i === t.length - 1 ? lemma(w) : w)).join(' ');
}

/**
 * Start indices where `term` occurs in `tokens`, both compared as per-word lemmas
 * ('sports cars' matches 'sports car').
 * @param tokens from {@link lemmaTokens}
 */
export function findPhrase(tokens: readonly string[], term: string): number[] {
  const t = lemmaTokens(term);
  if (t.length === 0) return [];
  const hits: number[] = [];
  for (let i = 0; i + t.length <= tokens.length; i++) {
    if (t.every((w, j) => tokens[i + j] === w)) hits.push(i);
  }
  return hits;
}

/** Lemmatised tokens of a text (every token, since compounds like 'sports car' keep their first word). */
export function lemmaTokens(text: string): string[] {
  return tokenize(text).map(lemma);
}

/** Function words and caption boilerplate; never sent to CLIP as candidate objects. */
export const STOPWORDS: ReadonlySet<string> = new Set(
  ('a an the this that these those there here it its is are was were be been being has have had ' +
    'of in on at to from with without by for and or but not no nor as into onto over under above below ' +
    'near behind beside between front back top bottom left right side middle center centre background foreground ' +
    'image picture photo photograph shows show showing depicts depicting appears appear seem seems ' +
    'which who whom whose while where when what some any all each every one two three few several many ' +
    'very also other another its their his her they them he she we you i me my our your ' +
    'sitting standing parked lying looking made covered surrounded sits stands' +
    ' can could would should may might will just only up down out off').split(/\s+/),
);

/** Words that cancel a following mention: 'no cars', 'without a dog'. */
export const NEGATIONS: ReadonlySet<string> = new Set(['no', 'without', 'not', 'never', 'nor', 'absent']);

/** Whether the token at `index` is negated by one of the two tokens before it (skipping one article). */
export function isNegated(tokens: readonly string[], index: number): boolean {
  for (let k = 1; k <= 2 && index - k >= 0; k++) {
    const w = tokens[index - k]!;
    if (NEGATIONS.has(w)) return true;
    if (!['a', 'an', 'the', 'any'].includes(w)) return false;
  }
  return false;
}
