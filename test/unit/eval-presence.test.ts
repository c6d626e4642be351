import { describe, expect, it, vi } from 'vitest';
import { CONCEPTS, attributeOf, getConcept, presenceTerms, promptFamily } from '../../src/lib/eval/concepts.ts';
import { decidePresence } from '../../src/lib/eval/presence.ts';
import { lemma, lemmaTokens, findPhrase, isNegated } from '../../src/lib/eval/words.ts';

// Recorded Florence-2 outputs for transformers.js' "beetle" test image (see eval-florence-parse.test.ts).
const BEETLE_OD = { labels: ['car', 'door', 'wheel', 'wheel'] };
const BEETLE_CAPTION = 'A green car parked in front of a yellow building.';
const BEETLE_MORE_DETAILED = 'The image shows a vintage Volkswagen Beetle car parked on a cobblestone street in front of a yellow building with two wooden doors.';

describe('words', () => {
  it('lemmatises plurals, irregulars and leaves singulars alone', () => {
    const cases: [string, string][] = [['cars', 'car'], ['benches', 'bench'], ['puppies', 'puppy'], ['wolves', 'wolf'], ['buses', 'bus'], ['bus', 'bus'], ['glass', 'glass'], ['people', 'person'], ['Taxis', 'taxi'], ["dog's", 'dog'], ['couches', 'couch'], ['is', 'is'], ['cactus', 'cactus']];
    for (const [w, l] of cases) expect(lemma(w), w).toBe(l);
  });

  it('finds multi-word terms in any inflection, and negation just before them', () => {
    const t = lemmaTokens('Two sports cars and no dogs.');
    expect(findPhrase(t, 'sports car')).toEqual([1]);
    expect(findPhrase(t, 'dog')).toEqual([5]);
    expect(isNegated(t, 5)).toBe(true);
    expect(isNegated(t, 1)).toBe(false);
  });
});

describe('concept hierarchy', () => {
  it('resolves synonyms and plurals to the canonical concept', () => {
    expect(getConcept('Automobiles').name).toBe('car');
    expect(getConcept('couch').name).toBe('sofa');
    expect(getConcept('Vincent van Gogh').name).toBe('van gogh');
    expect(getConcept('zebras')).toMatchObject({ name: 'zebra', synonyms: [], subclasses: [] });
    expect(() => getConcept('  ')).toThrow(/needs a name/);
  });

  it('keeps every list lower-case and free of the concept itself, and neighbours apart from presence terms', () => {
    for (const c of Object.values(CONCEPTS)) {
      const terms = presenceTerms(c).map((t) => t.term);
      for (const n of c.neighbours) expect(terms, `${c.name} neighbour ${n}`).not.toContain(n);
      for (const w of [...c.synonyms, ...c.subclasses, ...c.neighbours]) expect(w).toBe(w.toLowerCase());
    }
  });

  it('normalises attribute words to one value per meaning', () => {
    expect(attributeOf('wood')).toEqual({ kind: 'material', value: 'wooden' });
    expect(attributeOf('Gray')).toEqual({ kind: 'colour', value: 'grey' });
    expect(attributeOf('huge')).toEqual({ kind: 'size', value: 'large' });
    expect(attributeOf('car')).toBeNull();
  });

  it('suggests a prompt family tagged by relation for an object', () => {
    const f = promptFamily('car', { perRelation: 2 });
    const by = (r: string) => f.filter((p) => p.relation === r).map((p) => p.prompt);
    expect(by('self')).toEqual(['a photo of a car']);
    expect(by('synonym')).toEqual(['a photo of an automobile', 'a photo of an auto']);
    expect(by('subclass')).toEqual(['a photo of a sedan', 'a photo of a suv']);
    expect(by('composition')).toEqual(['a photo of a red car', 'a photo of a blue car']);
    expect(f.find((p) => p.relation === 'composition')!.attribute).toEqual({ kind: 'colour', value: 'red' });
    expect(by('neighbour')).toEqual(['a photo of a bus', 'a photo of a truck']);
    expect(by('unrelated')).toHaveLength(2);
  });

  it('suggests style prompts for an artist', () => {
    const f = promptFamily('van gogh', { perRelation: 1 });
    expect(f.map((p) => [p.relation, p.prompt])).toEqual([
      ['self', 'a painting in the style of Van Gogh'],
      ['synonym', 'a painting in the style of Vincent Van Gogh'],
      ['subclass', 'a painting in the style of Starry Night'],
      ['neighbour', 'a painting in the style of Monet'],
      ['unrelated', 'a photograph'],
    ]);
  });
});

describe('decidePresence', () => {
  it('finds the car in the beetle image from its OD label and from its caption, with the evidence', async () => {
    const d = await decidePresence('car', { od: BEETLE_OD, caption: BEETLE_CAPTION });
    expect(d.verdict).toBe('present');
    expect(d.evidence).toContainEqual({ source: 'od-label', text: 'car', matched: true, term: 'car', relation: 'self' });
    expect(d.evidence).toContainEqual({ source: 'caption-word', text: 'car', matched: true, term: 'car', relation: 'self' });
    const onlyCaption = await decidePresence('car', { caption: BEETLE_MORE_DETAILED });
    expect(onlyCaption.verdict).toBe('present');
    expect(onlyCaption.evidence.filter((e) => e.matched).map((e) => [e.text, e.relation])).toEqual([['car', 'self'], ['volkswagen beetle', 'subclass']]);
  });

  it('says absent for concepts the outputs do not mention, and names neighbours it saw', async () => {
    expect((await decidePresence('dog', { od: BEETLE_OD, caption: BEETLE_CAPTION })).verdict).toBe('absent');
    const bus = await decidePresence('bus', { od: { labels: ['car'] }, caption: 'a car on a road' });
    expect(bus.verdict).toBe('absent');
    expect(bus.evidence).toContainEqual(expect.objectContaining({ source: 'od-label', text: 'car', matched: false, relation: 'neighbour' }));
  });

  it('matches synonyms, plurals and sub-classes, heads of labels only', async () => {
    expect((await decidePresence('car', { od: { labels: ['sports cars'] } })).evidence[0]).toMatchObject({ matched: true, relation: 'subclass', term: 'sports car' });
    expect((await decidePresence('sofa', { caption: 'Two couches by a window.' })).verdict).toBe('present');
    expect((await decidePresence('car', { od: { labels: ['toy car'] } })).verdict).toBe('present');
    expect((await decidePresence('car', { od: { labels: ['car seat'] } })).verdict).toBe('absent');
    expect((await decidePresence('car', { od: { labels: ['taxi'] } }, { subclasses: false })).verdict).toBe('absent');
  });

  it('does not count a negated mention', async () => {
    const d = await decidePresence('dog', { caption: 'An empty park with no dogs.' });
    expect(d.verdict).toBe('absent');
    expect(d.evidence).toEqual([expect.objectContaining({ text: 'dogs', matched: false, note: 'negated' })]);
  });

  it('never decides from grounding alone: a grounding box for "car" is recorded but not used', async () => {
    const d = await decidePresence('car', { od: { labels: ['tree'] }, caption: 'A tree in a field.', grounding: { labels: ['car'] } });
    expect(d.verdict).toBe('absent');
    expect(d.evidence).toContainEqual(expect.objectContaining({ source: 'grounding', text: 'car', matched: false }));
    await expect(decidePresence('car', { grounding: { labels: ['car'] } })).rejects.toThrow(/without <OD> labels or a caption: grounding boxes a phrase/);
  });

  it('asks CLIP only about unexplained words (not neighbours or stopwords) and applies the threshold and unsure band', async () => {
    const table: Record<string, number> = { cabriolet: 0.93, roadster: 0.85, field: 0.4, grass: 0.3 };
    const similarity = vi.fn(async (_c: string, words: string[]) => words.map((w) => table[w] ?? 0));
    const hit = await decidePresence('car', { od: { labels: ['cabriolet', 'truck'] }, caption: 'A field with grass.' }, { similarity });
    expect(similarity).toHaveBeenCalledWith('car', ['cabriolet', 'field', 'grass']);
    expect(hit.verdict).toBe('present');
    expect(hit.evidence).toContainEqual({ source: 'clip-similarity', text: 'cabriolet', matched: true, similarity: 0.93 });
    const maybe = await decidePresence('car', { od: { labels: ['roadster'] } }, { similarity });
    expect(maybe.verdict).toBe('unsure');
    const no = await decidePresence('car', { od: { labels: ['roadster'] } }, { similarity, unsureFrom: 0.9 });
    expect(no.verdict).toBe('absent');
    similarity.mockClear();
    await decidePresence('car', { od: { labels: ['car'] } }, { similarity });
    expect(similarity).not.toHaveBeenCalled(); // named by the lists: no model call needed
    await expect(decidePresence('car', { od: { labels: ['x1'] }, caption: 'odd words' }, { similarity: async () => [] })).rejects.toThrow(/returned 0 values for 3 words/);
  });

  it('calls an artist unsure on cue words and present when named', async () => {
    expect((await decidePresence('van gogh', { caption: 'A painting with swirling brushstrokes of a starry sky.' })).verdict).toBe('unsure');
    expect((await decidePresence('Van Gogh', { caption: "A painting in Van Gogh's style." })).verdict).toBe('present');
  });
});
