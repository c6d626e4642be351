/**
 * Florence-2's raw generated text → typed results.
 *
 * Florence-2 answers every task as text: captions as plain words, boxes as a label followed by
 * four location tokens `<loc_k>` (k in 0..999, one bin per 1/1000 of the image side, x1 y1 x2 y2).
 * A box without a label repeats the previous label (`wheel<loc…>×4<loc…>×4` = two wheels).
 * The bin centre is the coordinate: ((k + 0.5) / 1000) · size, size = width for x, height for y.
 *
 * This follows transformers.js' `Florence2Processor.post_process_generation` (tested against it
 * in test/unit/eval-florence-parse.test.ts) but lives here so that `src/lib/eval` stays free of
 * transformers.js (layer rule) and the judging logic can be tested on recorded strings in Node.
 * Differences: `<pad>` is stripped as well as `<s>`/`</s>` (batched generation pads), captions
 * are trimmed, and the result is typed per task instead of `{ [task]: any }`.
 */

/** The Florence-2 tasks the judge runs. */
export type FlorenceTask =
  | '<OD>'
  | '<CAPTION>'
  | '<DETAILED_CAPTION>'
  | '<MORE_DETAILED_CAPTION>'
  | '<CAPTION_TO_PHRASE_GROUNDING>'
  | '<DENSE_REGION_CAPTION>'
  | '<REGION_PROPOSAL>';

/** A box [x1, y1, x2, y2] in pixels of the judged image (origin top left). */
export type Box = [number, number, number, number];

/** Boxes with one label each (OD: category names; grounding: the phrases; proposals: ''). */
export interface BoxesResult {
  kind: 'boxes';
  task: FlorenceTask;
  bboxes: Box[];
  labels: string[];
}

/** A caption (any of the three caption tasks). */
export interface TextResult {
  kind: 'text';
  task: FlorenceTask;
  text: string;
}

export type FlorenceResult = BoxesResult | TextResult;

/** Location bins per image side (`<loc_0>` … `<loc_999>`). */
export const SIZE_PER_BIN = 1000;

const BOX_TASKS: ReadonlySet<FlorenceTask> = new Set(['<OD>', '<CAPTION_TO_PHRASE_GROUNDING>', '<DENSE_REGION_CAPTION>', '<REGION_PROPOSAL>']);
const TEXT_TASKS: ReadonlySet<FlorenceTask> = new Set(['<CAPTION>', '<DETAILED_CAPTION>', '<MORE_DETAILED_CAPTION>']);

/** Every task this module parses. */
export const FLORENCE_TASKS: readonly FlorenceTask[] = [...TEXT_TASKS, ...BOX_TASKS];

/** Whether a task answers with boxes or with text. */
export function taskKind(task: FlorenceTask): 'boxes' | 'text' {
  if (BOX_TASKS.has(task)) return 'boxes';
  if (TEXT_TASKS.has(task)) return 'text';
  throw new Error(`Unknown Florence-2 task ${JSON.stringify(task)}; the judge parses ${FLORENCE_TASKS.join(', ')}.`);
}

/** The centre of location bin `bin` in pixels along a side of `size` pixels. */
export function binToPixel(bin: number, size: number): number {
  return ((bin + 0.5) / SIZE_PER_BIN) * size;
}

/** Remove the BART special tokens `<s>`, `</s>` and `<pad>` that decoding with special tokens keeps. */
export function stripSpecialTokens(text: string): string {
  return text.replaceAll('<s>', '').replaceAll('</s>', '').replaceAll('<pad>', '');
}

function checkImageSize(imageSize: readonly [number, number]): void {
  const [w, h] = imageSize ?? [];
  if (!(Number.isFinite(w) && Number.isFinite(h) && w! > 0 && h! > 0)) {
    throw new Error(`Florence-2 boxes need the image size as [width, height] in pixels (got ${JSON.stringify(imageSize)}).`);
  }
}

// label (optional, no '<') then exactly four location tokens.
const BOX_PATTERN = /([^<]+)?<loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)>/g;

/**
 * Parse `label<loc_x1><loc_y1><loc_x2><loc_y2>` groups.
 * @param text raw decoded text (special tokens may still be in it)
 * @param imageSize [width, height] of the judged image in pixels
 * @returns one box (pixels) and one trimmed label per group; an unlabelled group repeats the previous label
 */
export function parseBoxes(text: string, imageSize: readonly [number, number]): { bboxes: Box[]; labels: string[] } {
  checkImageSize(imageSize);
  const bboxes: Box[] = [];
  const labels: string[] = [];
  for (const m of stripSpecialTokens(text).matchAll(BOX_PATTERN)) {
    const label = m[1]?.trim();
    labels.push(label ? label : (labels.at(-1) ?? ''));
    const bins = [m[2], m[3], m[4], m[5]].map(Number);
    bboxes.push(bins.map((b, i) => binToPixel(b, imageSize[i % 2]!)) as Box);
  }
  return { bboxes, labels };
}

/**
 * Parse the raw text Florence-2 generated for `task` into a typed result.
 * @param text decoded with special tokens kept (`batch_decode(ids, {skip_special_tokens: false})`)
 * @param imageSize [width, height] of the judged image in pixels (only used by box tasks)
 */
export function parseFlorenceOutput(task: FlorenceTask, text: string, imageSize: readonly [number, number]): FlorenceResult {
  if (taskKind(task) === 'text') return { kind: 'text', task, text: stripSpecialTokens(text).trim() };
  return { kind: 'boxes', task, ...parseBoxes(text, imageSize) };
}
