import { describe, expect, it } from 'vitest';
import { editAtStep, getLesson, LESSONS } from '../../src/app/lessons.ts';
import { defaultState, validateState } from '../../src/app/state.ts';
import { erasedConcepts, suggestPrompts } from '../../src/app/family.ts';

describe('lessons', () => {
  it('are the three the issue asks for, each a valid playground state at every step', () => {
    expect(LESSONS.map((l) => l.id)).toEqual(['car', 'van-gogh', 'blue-sofa']);
    for (const lesson of LESSONS) {
      expect(lesson.steps.length).toBeGreaterThanOrEqual(3);
      for (let i = 0; i < lesson.steps.length; i++) {
        const s = { ...defaultState(), edit: editAtStep(lesson, i), prompts: lesson.prompts, seeds: lesson.seeds };
        expect(validateState(JSON.parse(JSON.stringify(s)))).toEqual(s);
      }
      const texts = lesson.prompts.map((p) => p.text);
      expect(new Set(texts).size).toBe(texts.length);
      for (const step of lesson.steps) {
        for (const f of step.focus ?? []) expect(texts, `${lesson.id}: '${step.title}' focuses on a prompt the lesson lacks`).toContain(f);
        expect(step.text.length).toBeLessThan(320);
      }
      // Every lesson shows the erased concept itself and at least one control that should survive.
      expect(lesson.prompts.some((p) => p.relation === 'self')).toBe(true);
      expect(lesson.prompts.some((p) => p.relation === 'neighbour' || p.relation === 'unrelated')).toBe(true);
    }
  });

  it('match the issue: car → red car and bus; Van Gogh → other painters, with a protecting step; blue sofa → blue chair', () => {
    const car = getLesson('car');
    expect(car.edit).toMatchObject({ method: 'uce', erase: ['car'], target: '' });
    expect(car.prompts.map((p) => p.text)).toEqual(expect.arrayContaining(['a photo of a red car', 'a photo of a bus']));
    const vg = getLesson('van-gogh');
    expect(vg.edit).toMatchObject({ erase: ['Van Gogh'], target: 'art' });
    expect(editAtStep(vg, 0)).toBe(vg.edit);
    expect(editAtStep(vg, 3)).toMatchObject({ preserve: ['Monet', 'Picasso'] });
    expect(editAtStep(vg, 99)).toMatchObject({ preserve: ['Monet', 'Picasso'] });
    expect(getLesson('blue-sofa').prompts.map((p) => p.text)).toContain('a photo of a blue chair');
    expect(() => getLesson('nope')).toThrow(/No lesson 'nope'. Lessons: car, van-gogh, blue-sofa/);
  });
});

describe('suggested prompts', () => {
  it('come from the erased concept family, one of each relation first, tagged, within limits', () => {
    const p = suggestPrompts({ method: 'uce', erase: ['car'] });
    expect(p[0]).toEqual({ text: 'a photo of a car', relation: 'self' });
    expect(p.slice(0, 6).map((x) => x.relation)).toEqual(['self', 'synonym', 'subclass', 'composition', 'neighbour', 'unrelated']);
    expect(p.length).toBeLessThanOrEqual(12);
    expect(p.some((x) => x.text === 'a photo of a bus' && x.relation === 'neighbour')).toBe(true);
    expect(p.some((x) => /red car/.test(x.text) && x.relation === 'composition')).toBe(true);
    expect(validateState({ ...defaultState(), prompts: p })).toBeTruthy();
  });

  it('cover every erased concept and method, without duplicates', () => {
    expect(erasedConcepts({ method: 'time', source: 'a rose', destination: 'a blue rose' })).toEqual(['a rose']);
    expect(erasedConcepts({ method: 'progressive', steps: [['car'], ['bus']] })).toEqual(['car', 'bus']);
    expect(erasedConcepts(null)).toEqual([]);
    const p = suggestPrompts({ method: 'uce', erase: ['car', 'bus'] }, 3);
    const texts = p.map((x) => x.text.toLowerCase());
    expect(new Set(texts).size).toBe(texts.length);
    expect(texts).toContain('a photo of a bus');
    expect(suggestPrompts({ method: 'uce', erase: ['Van Gogh'] })[0]!.text).toBe('a painting in the style of Van Gogh');
  });
});
