/**
 * Classroom lessons: ready-made experiments as data. A lesson sets the edit, the prompts and the
 * seeds with one click (the model and engine stay what the class has loaded), then steps through
 * short explanations; a step may change the edit (e.g. "now also preserve Monet"), which the
 * playground applies when the step is shown.
 */
import type { EraseRequest } from '../lib/erasure/request.ts';
import type { PromptItem } from './state.ts';

export interface LessonStep {
  title: string;
  /** Two or three sentences, read aloud or on a projector. */
  text: string;
  /** Apply this edit when the step is shown (else keep the current one). */
  edit?: EraseRequest;
  /** Prompts the step talks about (must be among the lesson's prompts); the grid highlights them. */
  focus?: string[];
}

export interface Lesson {
  id: string;
  title: string;
  /** One sentence for the lesson list. */
  summary: string;
  edit: EraseRequest;
  prompts: PromptItem[];
  seeds: number[];
  steps: LessonStep[];
}

const uce = (erase: string[], extra: Partial<Extract<EraseRequest, { method: 'uce' }>> = {}): EraseRequest => ({
  method: 'uce', erase, target: '', preserve: [], lambda: 0.5, eraseScale: 1, preserveScale: 1, tokens: '2025', ...extra,
});

export const LESSONS: readonly Lesson[] = [
  {
    id: 'car',
    title: 'Erase “car”: what else goes?',
    summary: 'Erase one word and watch a red car, a sports car and a bus.',
    edit: uce(['car']),
    prompts: [
      { text: 'a photo of a car', relation: 'self' },
      { text: 'a photo of a red car', relation: 'composition' },
      { text: 'a photo of a sports car', relation: 'subclass' },
      { text: 'a photo of a bus', relation: 'neighbour' },
      { text: 'a photo of a bowl of fruit', relation: 'unrelated' },
    ],
    seeds: [1, 2],
    steps: [
      {
        title: 'The edit',
        text: 'UCE rewrites the cross-attention so that the text vector of “car” now points where the empty prompt points. It is one small matrix applied to the text, so it takes milliseconds.',
      },
      {
        title: 'The erased concept',
        text: 'Compare the first row: same seed, same noise, only the edit differs. If the erasure worked, the right-hand image has no car.',
        focus: ['a photo of a car'],
      },
      {
        title: 'Compositions and sub-classes',
        text: '“Red car” and “sports car” were never named in the edit. Do they survive? A car that reappears through an attribute or a sub-class is the classic leak of concept erasure.',
        focus: ['a photo of a red car', 'a photo of a sports car'],
      },
      {
        title: 'Neighbours and controls',
        text: 'A bus is a neighbour: a good erasure leaves it alone, a blunt one damages it too. The bowl of fruit is an unrelated control and should not change at all.',
        focus: ['a photo of a bus', 'a photo of a bowl of fruit'],
      },
    ],
  },
  {
    id: 'van-gogh',
    title: 'Erase “Van Gogh”: do other painters suffer?',
    summary: 'Erase an artist’s style, check Monet and Picasso, then protect them.',
    edit: uce(['Van Gogh'], { target: 'art' }),
    prompts: [
      { text: 'a painting in the style of Van Gogh', relation: 'self' },
      { text: 'The Starry Night', relation: 'subclass' },
      { text: 'a painting in the style of Monet', relation: 'neighbour' },
      { text: 'a painting in the style of Picasso', relation: 'neighbour' },
      { text: 'a photo of a mountain landscape', relation: 'unrelated' },
    ],
    seeds: [3, 4],
    steps: [
      {
        title: 'Artists map to “art”',
        text: 'For artists the target is the word “art” rather than the empty prompt: the picture should stay a painting, just not a Van Gogh.',
        focus: ['a painting in the style of Van Gogh'],
      },
      {
        title: 'A famous work',
        text: '“The Starry Night” never mentions the painter. Does the style come back through the title of his painting?',
        focus: ['The Starry Night'],
      },
      {
        title: 'Other painters',
        text: 'Monet and Picasso sit close to Van Gogh in the text encoder. Look for changes in their rows: that is collateral damage.',
        focus: ['a painting in the style of Monet', 'a painting in the style of Picasso'],
      },
      {
        title: 'Protect the neighbours',
        text: 'Now the edit also preserves Monet and Picasso: their vectors must stay where they are. Compare their rows again.',
        edit: uce(['Van Gogh'], { target: 'art', preserve: ['Monet', 'Picasso'] }),
        focus: ['a painting in the style of Monet', 'a painting in the style of Picasso'],
      },
    ],
  },
  {
    id: 'blue-sofa',
    title: 'Erase “blue sofa”: where does the blue go?',
    summary: 'Erase a composition and watch blue chairs, red sofas and blue cars.',
    edit: uce(['blue sofa']),
    prompts: [
      { text: 'a photo of a blue sofa', relation: 'self' },
      { text: 'a photo of a sofa', relation: 'subclass' },
      { text: 'a photo of a red sofa', relation: 'composition' },
      { text: 'a photo of a blue chair', relation: 'neighbour' },
      { text: 'a photo of a blue car', relation: 'unrelated' },
    ],
    seeds: [5, 6],
    steps: [
      {
        title: 'Erasing a composition',
        text: 'The edit names the pair “blue sofa”. UCE uses the vector of its last word token, which has read both words.',
        focus: ['a photo of a blue sofa'],
      },
      {
        title: 'The parts',
        text: 'Is every sofa gone, or only blue ones? Look at the plain sofa and the red sofa.',
        focus: ['a photo of a sofa', 'a photo of a red sofa'],
      },
      {
        title: 'Where the attribute leaks',
        text: 'Blue chairs and blue cars share the attribute. If they change, the edit hit “blue” rather than “blue sofa”.',
        focus: ['a photo of a blue chair', 'a photo of a blue car'],
      },
    ],
  },
];

/** A lesson by id; the error lists the ids there are. */
export function getLesson(id: string): Lesson {
  const l = LESSONS.find((x) => x.id === id);
  if (!l) throw new Error(`No lesson '${id}'. Lessons: ${LESSONS.map((x) => x.id).join(', ')}.`);
  return l;
}

/** The edit in force at step `index` (the latest step edit at or before it, else the lesson's). */
export function editAtStep(lesson: Lesson, index: number): EraseRequest {
  for (let i = Math.min(index, lesson.steps.length - 1); i >= 0; i--) {
    const e = lesson.steps[i]!.edit;
    if (e) return e;
  }
  return lesson.edit;
}
