import { describe, expect, it } from 'vitest';
import { Florence2Processor } from '@huggingface/transformers';
import { binToPixel, parseBoxes, parseFlorenceOutput, taskKind, type FlorenceTask } from '../../src/lib/eval/florence-parse.ts';
import { TASKS_ANSWER_POST_PROCESSING_TYPE } from '../../tools/florence-gen/tasks.ts';

/**
 * Real Florence-2 outputs and their expected parses, as published in transformers.js' own
 * processor test: huggingface/transformers.js tests/models/florence2/test_processor_florence2.js
 * ("Post-process generation", image "beetle", 640×480 — the size follows from the published
 * boxes: car x1 = (53 + 0.5) / 1000 · 640 = 34.24). Read from the copy in sroussey/transformers.js
 * at 1f49a13; the model card of microsoft/Florence-2 shows the same caption for car.jpg.
 */
const BEETLE: [number, number] = [640, 480];
const VECTORS: { task: FlorenceTask; text: string; target: unknown }[] = [
  {
    task: '<CAPTION>',
    text: '</s><s>A green car parked in front of a yellow building.</s>',
    target: 'A green car parked in front of a yellow building.',
  },
  {
    task: '<MORE_DETAILED_CAPTION>',
    text: '</s><s>The image shows a vintage Volkswagen Beetle car parked on a cobblestone street in front of a yellow building with two wooden doors. The car is painted in a bright turquoise color and has a white stripe running along the side. It has two doors on either side of the car, one on top of the other, and a small window on the front. The building appears to be old and dilapidated, with peeling paint and crumbling walls. The sky is blue and there are trees in the background.</s>',
    target: 'The image shows a vintage Volkswagen Beetle car parked on a cobblestone street in front of a yellow building with two wooden doors. The car is painted in a bright turquoise color and has a white stripe running along the side. It has two doors on either side of the car, one on top of the other, and a small window on the front. The building appears to be old and dilapidated, with peeling paint and crumbling walls. The sky is blue and there are trees in the background.',
  },
  {
    task: '<OD>',
    text: '</s><s><s><s>car<loc_53><loc_333><loc_933><loc_774>door<loc_712><loc_203><loc_906><loc_545>wheel<loc_704><loc_576><loc_866><loc_772><loc_149><loc_584><loc_310><loc_773></s>',
    target: {
      bboxes: [[34.24, 160.08, 597.44, 371.76], [456.0, 97.68, 580.16, 261.84], [450.88, 276.72, 554.56, 370.8], [95.68, 280.56, 198.72, 371.28]],
      labels: ['car', 'door', 'wheel', 'wheel'],
    },
  },
  {
    task: '<DENSE_REGION_CAPTION>',
    text: '</s><s>turquoise Volkswagen Beetle<loc_52><loc_333><loc_932><loc_774>wheel<loc_704><loc_576><loc_864><loc_772><loc_148><loc_584><loc_308><loc_773></s>',
    target: { bboxes: [[33.6, 160.08, 596.8, 371.76], [450.88, 276.72, 553.28, 370.8], [95.04, 280.56, 197.44, 371.28]], labels: ['turquoise Volkswagen Beetle', 'wheel', 'wheel'] },
  },
  {
    task: '<CAPTION_TO_PHRASE_GROUNDING>',
    text: '</s><s><s><s>A green car<loc_54><loc_330><loc_911><loc_780>a yellow building<loc_0><loc_8><loc_998><loc_635></s>',
    target: { bboxes: [[34.88, 158.64, 583.36, 374.64], [0.32, 4.08, 639.04, 305.04]], labels: ['A green car', 'a yellow building'] },
  },
];

function expectBoxesClose(actual: number[][], expected: number[][]) {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((b, i) => b.forEach((v, j) => expect(v).toBeCloseTo(expected[i]![j]!, 9)));
}

describe('parseFlorenceOutput on published Florence-2 outputs', () => {
  for (const v of VECTORS) {
    it(`${v.task} gives the published result`, () => {
      const r = parseFlorenceOutput(v.task, v.text, BEETLE);
      if (typeof v.target === 'string') {
        expect(r).toEqual({ kind: 'text', task: v.task, text: v.target });
      } else {
        const t = v.target as { bboxes: number[][]; labels: string[] };
        expect(r.kind).toBe('boxes');
        if (r.kind !== 'boxes') return;
        expect(r.labels).toEqual(t.labels);
        expectBoxesClose(r.bboxes, t.bboxes);
      }
    });
  }

  it("agrees with transformers.js' own Florence2Processor.post_process_generation", () => {
    // The library's processor only needs the task table from its image-processor config.
    const processor = new Florence2Processor({}, { image_processor: { config: { tasks_answer_post_processing_type: TASKS_ANSWER_POST_PROCESSING_TYPE } } } as never, null);
    for (const v of VECTORS) {
      const lib = processor.post_process_generation(v.text, v.task, BEETLE)[v.task] as string | { bboxes: number[][]; labels: string[] };
      const ours = parseFlorenceOutput(v.task, v.text, BEETLE);
      if (typeof lib === 'string') expect(ours).toMatchObject({ kind: 'text', text: lib.trim() });
      else {
        expect(ours).toMatchObject({ kind: 'boxes', labels: lib.labels });
        expectBoxesClose((ours as { bboxes: number[][] }).bboxes, lib.bboxes);
      }
    }
  });
});

describe('location bins', () => {
  it('maps bin k to the centre of the k-th thousandth of the side, x by width and y by height', () => {
    expect(binToPixel(0, 1000)).toBe(0.5);
    expect(binToPixel(999, 1000)).toBe(999.5);
    // A non-square image: x bins scale with width, y bins with height.
    const { bboxes } = parseBoxes('x<loc_0><loc_0><loc_999><loc_999>', [200, 100]);
    expect(bboxes).toEqual([[0.1, 0.05, 199.9, 99.95]]);
  });

  it('gives the previous label to unlabelled boxes, and an empty label when there is none (region proposals)', () => {
    expect(parseBoxes('<loc_1><loc_2><loc_3><loc_4>', [1000, 1000]).labels).toEqual(['']);
    expect(parseBoxes('a<loc_1><loc_2><loc_3><loc_4><loc_5><loc_6><loc_7><loc_8>', [1000, 1000]).labels).toEqual(['a', 'a']);
  });

  it('ignores pad tokens of batched generation and incomplete trailing groups', () => {
    const r = parseBoxes('<pad><s>dog<loc_10><loc_20><loc_30><loc_40>cat<loc_1><loc_2></s><pad><pad>', [1000, 1000]);
    expect(r).toEqual({ bboxes: [[10.5, 20.5, 30.5, 40.5]], labels: ['dog'] });
  });

  it('refuses a missing or non-positive image size with a message naming the expected order', () => {
    expect(() => parseBoxes('a<loc_1><loc_2><loc_3><loc_4>', [0, 10])).toThrow(/image size as \[width, height\]/);
    expect(() => parseFlorenceOutput('<OD>', '', undefined as never)).toThrow(/\[width, height\]/);
  });

  it('knows which tasks answer with boxes', () => {
    expect(taskKind('<OD>')).toBe('boxes');
    expect(taskKind('<MORE_DETAILED_CAPTION>')).toBe('text');
    expect(() => taskKind('<VQA>' as FlorenceTask)).toThrow(/Unknown Florence-2 task "<VQA>"/);
  });
});
