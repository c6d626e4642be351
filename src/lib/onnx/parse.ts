/**
 * Message parsers for the ONNX protobuf messages an index needs (Model, Graph, Node, Attribute,
 * ValueInfo, Tensor). Each walks its message field by field through a WindowReader: small
 * fields are decoded, tensor payloads are recorded as byte ranges and skipped, unknown fields
 * are skipped by wire type.
 */
import { OnnxFormatError } from './errors.ts';
import { Attribute, AttributeType, Dimension, Graph, Node, TensorShape, TensorTypeProto, TypeProto, ValueInfo as VI } from './schema.ts';
import { countEntry, type ParseContext } from './context.ts';
import { parseTensor } from './parse-tensor.ts';
import { WIRE } from './wire.ts';
import type { AttributeInfo, GraphInfo, NodeInfo, ValueInfo } from './types.ts';

export function emptyGraph(): GraphInfo {
  return { name: '', nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [] };
}

/** Parses a GraphProto in [start, end) and merges it into `g` (repeated fields append, as protobuf merges). */
export async function parseGraph(ctx: ParseContext, start: number, end: number, depth: number, g = emptyGraph()): Promise<GraphInfo> {
  if (depth > ctx.limits.maxGraphDepth) {
    throw new OnnxFormatError(
      `subgraphs nested more than ${ctx.limits.maxGraphDepth} levels deep`,
      start,
      'this file is malformed or hostile (a recursion bomb); use a different export',
    );
  }
  const { w } = ctx;
  for (let pos = start; pos < end; ) {
    let f = w.field(pos, end, 'GraphProto');
    if (f instanceof Promise) f = await f;
    pos = f.next;
    if (f.wire !== WIRE.LEN) continue;
    switch (f.field) {
      case Graph.node:
        countEntry(ctx, f.at);
        {
          const n = await parseNode(ctx, f.start, f.end, depth);
          n.record = { offset: f.at, length: f.end - f.at };
          g.nodes.push(n);
        }
        break;
      case Graph.name:
        g.name = await w.string(f, 'graph name');
        break;
      case Graph.initializer:
        countEntry(ctx, f.at);
        {
          const t = await parseTensor(ctx, f.start, f.end, `initializer #${g.initializers.length}`);
          t.record = { offset: f.at, length: f.end - f.at };
          g.initializers.push(t);
        }
        break;
      case Graph.input:
      case Graph.output:
      case Graph.valueInfo: {
        countEntry(ctx, f.at);
        const v = await parseValueInfo(ctx, f.start, f.end);
        if (f.field === Graph.valueInfo) v.record = { offset: f.at, length: f.end - f.at };
        (f.field === Graph.input ? g.inputs : f.field === Graph.output ? g.outputs : g.valueInfo).push(v);
        break;
      }
    }
  }
  return g;
}

async function parseNode(ctx: ParseContext, start: number, end: number, depth: number): Promise<NodeInfo> {
  const { w } = ctx;
  const n: NodeInfo = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [] };
  for (let pos = start; pos < end; ) {
    let f = w.field(pos, end, 'NodeProto');
    if (f instanceof Promise) f = await f;
    pos = f.next;
    switch (f.field) {
      case Node.input:
        n.inputs.push(await w.string(f, 'node input name'));
        break;
      case Node.output:
        n.outputs.push(await w.string(f, 'node output name'));
        break;
      case Node.name:
        n.name = await w.string(f, 'node name');
        break;
      case Node.opType:
        n.opType = await w.string(f, 'node op_type');
        break;
      case Node.domain:
        n.domain = await w.string(f, 'node domain');
        break;
      case Node.attribute:
        if (f.wire !== WIRE.LEN) break;
        countEntry(ctx, f.at);
        n.attributes.push(await parseAttribute(ctx, f.start, f.end, depth, n.name));
        break;
    }
  }
  return n;
}

async function parseAttribute(ctx: ParseContext, start: number, end: number, depth: number, node: string): Promise<AttributeInfo> {
  const { w } = ctx;
  const a: AttributeInfo = { name: '', type: AttributeType.UNDEFINED };
  const what = `attribute of node '${node}'`;
  let seen = 0; // which value field appeared, to infer `type` for files that omit it
  for (let pos = start; pos < end; ) {
    let f = w.field(pos, end, 'AttributeProto');
    if (f instanceof Promise) f = await f;
    pos = f.next;
    switch (f.field) {
      case Attribute.name:
        a.name = await w.string(f, `${what} name`);
        break;
      case Attribute.type:
        a.type = f.int;
        break;
      case Attribute.f:
        a.f = f.float;
        seen = AttributeType.FLOAT;
        break;
      case Attribute.i:
        a.i = f.int;
        seen = AttributeType.INT;
        break;
      case Attribute.s:
        if (f.end - f.start <= 4096) a.s = await w.string(f, `${what} s`);
        else a.sRange = { offset: f.start, length: f.end - f.start };
        seen = AttributeType.STRING;
        break;
      case Attribute.t:
        a.t = await parseTensor(ctx, f.start, f.end, `tensor ${what}`);
        seen = AttributeType.TENSOR;
        break;
      case Attribute.g:
        a.g = await parseGraph(ctx, f.start, f.end, depth + 1);
        seen = AttributeType.GRAPH;
        break;
      case Attribute.floats:
        (a.floats ??= []).push(...(await w.floats(f, `${what} floats`)));
        seen = AttributeType.FLOATS;
        break;
      case Attribute.ints:
        (a.ints ??= []).push(...(await w.ints(f, `${what} ints`)));
        seen = AttributeType.INTS;
        break;
      case Attribute.strings:
        (a.strings ??= []).push(await w.string(f, `${what} strings`));
        seen = AttributeType.STRINGS;
        break;
      case Attribute.tensors:
        countEntry(ctx, f.at);
        (a.tensors ??= []).push(await parseTensor(ctx, f.start, f.end, `tensor ${what}`));
        seen = AttributeType.TENSORS;
        break;
      case Attribute.graphs:
        countEntry(ctx, f.at);
        (a.graphs ??= []).push(await parseGraph(ctx, f.start, f.end, depth + 1));
        seen = AttributeType.GRAPHS;
        break;
    }
    if ((a.ints?.length ?? 0) + (a.floats?.length ?? 0) + (a.strings?.length ?? 0) > 1 << 20) {
      throw new OnnxFormatError(`${what} '${a.name}' has more than 2^20 values`, f.at);
    }
  }
  if (a.type === AttributeType.UNDEFINED) a.type = seen;
  return a;
}

/** Parses a ValueInfoProto; only tensor types are described (elemType 0 otherwise). */
export async function parseValueInfo(ctx: ParseContext, start: number, end: number): Promise<ValueInfo> {
  const { w } = ctx;
  const v: ValueInfo = { name: '', elemType: 0, dims: null };
  for (let pos = start; pos < end; ) {
    let f = w.field(pos, end, 'ValueInfoProto');
    if (f instanceof Promise) f = await f;
    pos = f.next;
    if (f.field === VI.name) v.name = await w.string(f, 'value name');
    else if (f.field === VI.type && f.wire === WIRE.LEN) await parseType(ctx, f.start, f.end, v);
  }
  return v;
}

async function parseType(ctx: ParseContext, start: number, end: number, v: ValueInfo): Promise<void> {
  const { w } = ctx;
  for (let pos = start; pos < end; ) {
    let t = w.field(pos, end, 'TypeProto');
    if (t instanceof Promise) t = await t;
    pos = t.next;
    if (t.field !== TypeProto.tensorType || t.wire !== WIRE.LEN) continue;
    for (let p = t.start; p < t.end; ) {
      let f = w.field(p, t.end, 'TypeProto.Tensor');
    if (f instanceof Promise) f = await f;
      p = f.next;
      if (f.field === TensorTypeProto.elemType && f.wire === WIRE.VARINT) v.elemType = f.int;
      else if (f.field === TensorTypeProto.shape && f.wire === WIRE.LEN) v.dims = await parseShape(ctx, f.start, f.end);
    }
  }
}

async function parseShape(ctx: ParseContext, start: number, end: number): Promise<(number | string | null)[]> {
  const { w } = ctx;
  const dims: (number | string | null)[] = [];
  for (let pos = start; pos < end; ) {
    let d = w.field(pos, end, 'TensorShapeProto');
    if (d instanceof Promise) d = await d;
    pos = d.next;
    if (d.field !== TensorShape.dim || d.wire !== WIRE.LEN) continue;
    if (dims.length >= 64) throw new OnnxFormatError('a value shape has more than 64 dimensions', d.at);
    let dim: number | string | null = null;
    for (let p = d.start; p < d.end; ) {
      let f = w.field(p, d.end, 'TensorShapeProto.Dimension');
    if (f instanceof Promise) f = await f;
      p = f.next;
      if (f.field === Dimension.dimValue && f.wire === WIRE.VARINT) dim = f.int;
      else if (f.field === Dimension.dimParam) dim = await w.string(f, 'dim_param', 4096);
    }
    dims.push(dim);
  }
  return dims;
}
