/**
 * `indexModel`: reads an ONNX ModelProto (bytes or a Blob/File, read in windows) into a
 * ModelIndex without copying tensor bytes.
 */
import { defaultLimits, parseEntry, type ParseContext, type ParseLimits } from './context.ts';
import { OnnxFormatError, truncatedHint } from './errors.ts';
import { emptyGraph, parseGraph } from './parse.ts';
import { checkExternalBounds } from './parse-tensor.ts';
import { Model, OpsetId } from './schema.ts';
import type { GraphInfo, ModelIndex, OpsetImport, TensorInfo } from './types.ts';
import { toByteSource, WIRE, WindowReader, type ByteSource, type BytesLike } from './wire.ts';

export interface IndexOptions {
  /** External data files keyed by `location`; when given, every external range is checked against the file's size. */
  externalData?: Record<string, BytesLike>;
  /** Bytes per window when reading a Blob (default 256 KiB). */
  windowSize?: number;
  limits?: Partial<ParseLimits>;
}

/**
 * Indexes an ONNX model: opsets, graph inputs/outputs, nodes, attributes and every tensor's
 * byte range. A Blob/File is read in small windows (tensor payloads are skipped unread), so a
 * 1.7 GB file costs a few MB of memory; a custom ByteSource (e.g. over OPFS) works too.
 * Throws OnnxFormatError for anything that is not a well-formed ONNX model, naming the problem,
 * the byte offset and what to do.
 */
export async function indexModel(source: BytesLike | ByteSource, opts: IndexOptions = {}): Promise<ModelIndex> {
  const w = new WindowReader(toByteSource(source), opts.windowSize);
  await checkMagic(w);
  const ctx: ParseContext = { w, limits: { ...defaultLimits, ...opts.limits }, entries: 0 };
  const index: ModelIndex = {
    irVersion: 0, producerName: '', producerVersion: '', domain: '', modelVersion: 0,
    opsetImports: [], metadata: {}, graph: emptyGraph(), byteLength: w.size, externalLocations: [],
  };
  let sawGraph = false;
  for (let pos = 0; pos < w.size; ) {
    let f = w.field(pos, w.size, 'ModelProto');
    if (f instanceof Promise) f = await f;
    pos = f.next;
    switch (f.field) {
      case Model.irVersion: index.irVersion = f.int; break;
      case Model.producerName: index.producerName = await w.string(f, 'producer_name'); break;
      case Model.producerVersion: index.producerVersion = await w.string(f, 'producer_version'); break;
      case Model.domain: index.domain = await w.string(f, 'model domain'); break;
      case Model.modelVersion: index.modelVersion = f.int; break;
      case Model.graph:
        if (f.wire !== WIRE.LEN) throw new OnnxFormatError('the graph field is not a message', f.at);
        // A second `graph` record merges into the first, as protobuf does (appended outputs).
        await parseGraph(ctx, f.start, f.end, 0, index.graph);
        (index.graphRecords ??= []).push({ offset: f.at, payload: f.start, end: f.end });
        sawGraph = true;
        break;
      case Model.opsetImport:
        if (f.wire === WIRE.LEN) index.opsetImports.push(await parseOpset(ctx, f.start, f.end));
        break;
      case Model.metadataProps:
        if (f.wire === WIRE.LEN) {
          const [k, v] = await parseEntry(ctx, f.start, f.end);
          index.metadata[k] = v;
        }
        break;
    }
  }
  if (!sawGraph) throw new OnnxFormatError('this file has no graph: it is not an ONNX model', 0, 'check that you picked the model.onnx file');
  if (index.irVersion <= 0) throw new OnnxFormatError('this file has no ir_version: it is not an ONNX model', 0, 'check that you picked the model.onnx file');
  index.externalLocations = [...new Set(allTensors(index.graph).flatMap((t) => (t.data.kind === 'external' ? [t.data.location] : [])))];
  checkExternal(index, opts.externalData);
  return index;
}

async function parseOpset(ctx: ParseContext, start: number, end: number): Promise<OpsetImport> {
  const o: OpsetImport = { domain: '', version: 0 };
  for (let pos = start; pos < end; ) {
    let f = ctx.w.field(pos, end, 'OperatorSetIdProto');
    if (f instanceof Promise) f = await f;
    pos = f.next;
    if (f.field === OpsetId.domain) o.domain = await ctx.w.string(f, 'opset domain', 4096);
    else if (f.field === OpsetId.version) o.version = f.int;
  }
  return o;
}

/** Every tensor of the main graph (initializers and Constant/attribute tensors, not subgraphs). */
export function allTensors(g: GraphInfo): TensorInfo[] {
  const out = [...g.initializers];
  for (const n of g.nodes) for (const a of n.attributes) {
    if (a.t) out.push(a.t);
    if (a.tensors) out.push(...a.tensors);
  }
  return out;
}

function checkExternal(index: ModelIndex, files: IndexOptions['externalData']): void {
  if (!files) return;
  for (const t of allTensors(index.graph)) {
    if (t.data.kind !== 'external') continue;
    const file = files[t.data.location];
    if (!file) {
      throw new OnnxFormatError(
        `tensor '${t.name}' is stored in external file '${t.data.location}', which was not given`,
        undefined,
        `download '${t.data.location}' next to the model and pass it too (given: ${Object.keys(files).join(', ') || 'none'})`,
      );
    }
    checkExternalBounds(t, file instanceof ArrayBuffer ? file.byteLength : file instanceof Uint8Array ? file.length : file.size);
  }
}

/** ModelProto fields an ONNX file can start with (onnx writes ir_version, field 1, first). */
const firstTags = new Set([0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72]);

/** Rejects text files, HTML error pages, LFS pointers, archives and empty files before parsing. */
async function checkMagic(w: WindowReader): Promise<void> {
  if (w.size === 0) throw new OnnxFormatError('the file is empty', 0, truncatedHint(0, 1));
  const head = await w.view(0, Math.min(w.size, 64));
  const text = new TextDecoder('utf-8', { fatal: false }).decode(head);
  const printable = head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
  let kind = '';
  if (text.startsWith('version https://git-lfs')) kind = 'a Git LFS pointer, not the model itself';
  else if (/^\s*<(!doctype|html|\?xml)/i.test(text)) kind = 'an HTML/XML page (an error or login page?)';
  else if (head[0] === 0x50 && head[1] === 0x4b) kind = 'a ZIP archive';
  else if (head[0] === 0x1f && head[1] === 0x8b) kind = 'a gzip archive';
  else if (printable && head.length >= 8) kind = 'a text file';
  if (kind || !firstTags.has(head[0])) {
    const shown = JSON.stringify(text.slice(0, 24));
    throw new OnnxFormatError(
      `not a binary ONNX model: the file starts with ${shown}${kind ? `, which looks like ${kind}` : ` (byte 0x${head[0].toString(16)} is no ModelProto field)`}`,
      0,
      'download the binary model.onnx again (for Hugging Face, use the /resolve/ URL)',
    );
  }
}
