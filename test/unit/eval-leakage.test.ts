import { describe, expect, it } from 'vitest';
import { assignAttributes, parsePromptObjects, readAttributes } from '../../src/lib/eval/leakage.ts';
import { parseFlorenceOutput } from '../../src/lib/eval/florence-parse.ts';

describe('parsePromptObjects', () => {
  it('splits a two-object prompt into objects with their attributes', () => {
    expect(parsePromptObjects('a wooden bench and a bird')).toEqual([
      { noun: 'bench', attributes: [{ kind: 'material', value: 'wooden' }] },
      { noun: 'bird', attributes: [] },
    ]);
    expect(parsePromptObjects('A photo of a small red car next to two large blue buses')).toEqual([
      { noun: 'car', attributes: [{ kind: 'size', value: 'small' }, { kind: 'colour', value: 'red' }] },
      { noun: 'bus', attributes: [{ kind: 'size', value: 'large' }, { kind: 'colour', value: 'blue' }] },
    ]);
  });
});

describe('readAttributes', () => {
  const objects = parsePromptObjects('a wooden bench and a bird');
  it('reads attributive, stacked, predicative and "made of" forms, and maps sub-classes to prompt objects', () => {
    expect(readAttributes('a wooden bird sitting on a bench', objects)).toEqual([{ attribute: { kind: 'material', value: 'wooden' }, noun: 'bird', object: 'bird' }]);
    expect(readAttributes('a small brown wooden sparrow', objects).map((r) => [r.attribute.value, r.object])).toEqual([['small', 'bird'], ['brown', 'bird'], ['wooden', 'bird']]);
    expect(readAttributes('The bench is wooden.', objects).map((r) => r.object)).toEqual(['bench']);
    expect(readAttributes('a bird made of wood', objects).map((r) => [r.attribute.value, r.object])).toEqual([['wooden', 'bird']]);
    expect(readAttributes('a wooden fence', objects)).toEqual([{ attribute: { kind: 'material', value: 'wooden' }, noun: 'fence', object: null }]);
  });
});

describe('assignAttributes', () => {
  it('flags "wooden" that moved from the bench to the bird (grounding phrases with their boxes)', () => {
    // Grounding output in Florence-2's format for the caption "A wooden bird on a green bench."
    const grounding = parseFlorenceOutput('<CAPTION_TO_PHRASE_GROUNDING>', '</s><s>A wooden bird<loc_100><loc_100><loc_300><loc_300>a green bench<loc_0><loc_500><loc_999><loc_999></s>', [512, 512]);
    if (grounding.kind !== 'boxes') throw new Error('expected boxes');
    const [a] = assignAttributes('a wooden bench and a bird', { grounding });
    expect(a).toMatchObject({ attribute: { value: 'wooden' }, intended: 'bench', observedOn: ['bird'], status: 'leaked', leaked: true });
    expect(a!.evidence).toEqual([{ source: 'grounding', text: 'A wooden bird', attribute: { kind: 'material', value: 'wooden' }, noun: 'bird', object: 'bird', box: [51.456, 51.456, 153.856, 153.856] }]);
  });

  it('says kept, shared, elsewhere and missing', () => {
    const prompt = 'a wooden bench and a red bird';
    const st = (caption: string) => assignAttributes(prompt, { caption }).map((a) => [a.attribute.value, a.status, a.leaked]);
    expect(st('A wooden bench with a red bird on it.')).toEqual([['wooden', 'kept', false], ['red', 'kept', false]]);
    expect(st('A red wooden bench and a red bird.')).toEqual([['wooden', 'kept', false], ['red', 'shared', true]]);
    expect(st('A bench next to a wooden fence, and a bird.')).toEqual([['wooden', 'elsewhere', false], ['red', 'missing', false]]);
  });

  it('combines caption, region captions and grounding', () => {
    const r = assignAttributes('a wooden bench and a bird', {
      caption: 'A bench and a bird.',
      regions: { labels: ['wooden bird', 'metal bench'] },
    });
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ status: 'leaked', observedOn: ['bird'] });
    expect(r[0]!.evidence.map((e) => e.source)).toEqual(['region']);
  });

  it('refuses a prompt without objects', () => {
    expect(() => assignAttributes('and with', {})).toThrow(/Found no object in the prompt "and with"/);
  });
});
