/** Parsing state and limits shared by the message parsers of one file. */
import { OnnxFormatError } from './errors.ts';
import { StringStringEntry } from './schema.ts';
import type { WindowReader } from './wire.ts';

/** Limits that turn hostile or corrupt files into errors instead of hangs or exhausted memory. */
export interface ParseLimits {
  /** Subgraphs (If/Loop bodies) nested inside attributes: deepest level allowed. */
  maxGraphDepth: number;
  /** Nodes + tensors + value infos + attributes, over the whole file. */
  maxEntries: number;
}

export const defaultLimits: ParseLimits = { maxGraphDepth: 8, maxEntries: 4_000_000 };

export interface ParseContext {
  w: WindowReader;
  limits: ParseLimits;
  entries: number;
}

/** Counts one more indexed entry, failing on absurd counts. */
export function countEntry(ctx: ParseContext, at: number): void {
  if (++ctx.entries > ctx.limits.maxEntries) {
    throw new OnnxFormatError(`more than ${ctx.limits.maxEntries} nodes/tensors/values`, at, 'this is not a model this app can use');
  }
}

/** Parses a StringStringEntryProto (external_data entries, metadata_props). */
export async function parseEntry(ctx: ParseContext, start: number, end: number): Promise<[string, string]> {
  const { w } = ctx;
  let key = '';
  let value = '';
  for (let pos = start; pos < end; ) {
    let f = w.field(pos, end, 'StringStringEntryProto');
    if (f instanceof Promise) f = await f;
    pos = f.next;
    if (f.field === StringStringEntry.key) key = await w.string(f, 'entry key', 4096);
    else if (f.field === StringStringEntry.value) value = await w.string(f, 'entry value');
  }
  return [key, value];
}
