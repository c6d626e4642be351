/**
 * Rewriting a model file as SLICES of the original plus a few new records: records inside the
 * top-level `graph` field(s) are cut or replaced by byte range, each changed graph field gets a
 * new length prefix, and every other byte is a slice of the original file (a Blob slice or a
 * subarray, never a copy made here). A 1.7 GB UNet becomes a new Blob without reading its weights.
 */
import protobuf from 'protobufjs/minimal.js';
import { encodeWith, fieldHeader, lengthDelimited, tag } from './encode.ts';
import { OnnxFormatError } from './errors.ts';
import { Graph, Model, Node } from './schema.ts';
import type { ModelIndex } from './types.ts';
import type { BytesLike } from './wire.ts';

/** Replace bytes [offset, offset + length) of the model file (inside a graph field) by `insert`. */
export interface GraphEdit {
  offset: number;
  /** Bytes cut; 0 inserts before `offset`. */
  length: number;
  insert: Uint8Array[];
}

type Part = Blob | Uint8Array;

/** Bytes [start, end) of `file` as a Blob slice or a view (no copy). */
function sliceOf(file: BytesLike, start: number, end: number): Part {
  if (file instanceof Uint8Array) return file.subarray(start, end);
  if (file instanceof ArrayBuffer) return new Uint8Array(file, start, end - start);
  return file.slice(start, end);
}

function partLength(p: Part): number {
  return p instanceof Uint8Array ? p.byteLength : p.size;
}

/**
 * The model file `file` (the one `index` was built from) with `edits` applied, as a Blob.
 * Edits must lie inside the index's top-level graph records and must not overlap.
 */
export function spliceGraph(file: BytesLike, index: ModelIndex, edits: GraphEdit[]): Blob {
  const records = index.graphRecords;
  if (!records?.length) {
    throw new OnnxFormatError('this model index has no graph record ranges', undefined, 'index the file again with this version of indexModel');
  }
  const size = file instanceof Blob ? file.size : file.byteLength;
  if (size !== index.byteLength) {
    throw new OnnxFormatError(`the model file has ${size} bytes but its index describes ${index.byteLength}`, undefined, 'pass the same file that was indexed');
  }
  const sorted = [...edits].sort((a, b) => a.offset - b.offset || a.length - b.length);
  const parts: Part[] = [];
  let cursor = 0;
  let next = 0; // first edit not yet applied
  for (const r of records) {
    parts.push(sliceOf(file, cursor, r.offset));
    cursor = r.end;
    const mine: GraphEdit[] = [];
    while (next < sorted.length && sorted[next].offset < r.end) mine.push(sorted[next++]);
    if (!mine.length) {
      parts.push(sliceOf(file, r.offset, r.end));
      continue;
    }
    const body: Part[] = [];
    let pos = r.payload;
    for (const e of mine) {
      if (e.offset < pos || e.offset + e.length > r.end) {
        throw new OnnxFormatError(`internal: a rewrite of bytes ${e.offset}+${e.length} overlaps another or leaves its graph record`, e.offset, 'please report this');
      }
      body.push(sliceOf(file, pos, e.offset), ...e.insert);
      pos = e.offset + e.length;
    }
    body.push(sliceOf(file, pos, r.end));
    const length = body.reduce((s, p) => s + partLength(p), 0);
    if (length >= 2 ** 31) {
      throw new OnnxFormatError(`the rewritten graph is ${length} bytes, over protobuf's 2 GB limit`, r.offset, 'use an export with external data (weights.pb)');
    }
    parts.push(fieldHeader(Model.graph, length), ...body);
  }
  if (next < sorted.length) {
    throw new OnnxFormatError(`internal: a rewrite at byte ${sorted[next].offset} lies outside every graph record`, sorted[next].offset, 'please report this');
  }
  parts.push(sliceOf(file, cursor, size));
  return new Blob(parts.filter((p) => partLength(p) > 0) as BlobPart[]);
}

/**
 * A `node` record (tag, length, NodeProto) like `record` (the bytes of an existing one: its
 * name, op_type, domain, attributes and doc_string are kept byte for byte) but with `inputs`.
 */
export function withInputs(record: Uint8Array, inputs: string[]): Uint8Array {
  const r = protobuf.Reader.create(record);
  r.uint32(); // the graph's `node` tag
  const end = r.uint32() + r.pos;
  const kept: Uint8Array[] = [];
  while (r.pos < end) {
    const start = r.pos;
    const t = r.uint32();
    r.skipType(t & 7);
    if (t >>> 3 !== Node.input) kept.push(record.subarray(start, r.pos));
  }
  const head = encodeWith((w) => {
    for (const i of inputs) w.uint32(tag(Node.input, 2)).string(i);
  });
  return lengthDelimited(Graph.node, concatBytes([head, ...kept]));
}

/** Joins small byte arrays (node records) into one. */
function concatBytes(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
