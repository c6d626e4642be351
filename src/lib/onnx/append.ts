/**
 * Exposing intermediate tensors as graph outputs by APPENDING to the model file. Protobuf merges
 * a second occurrence of an embedded-message field into the first, so a trailing ModelProto
 * `graph` record that holds only new `output` ValueInfos adds outputs to the existing graph:
 * `new Blob([original, appended])` is the new model, and the original bytes are never copied.
 */
import protobuf from 'protobufjs/minimal.js';
import { fieldHeader } from './encode.ts';
import { OnnxFormatError } from './errors.ts';
import { Dimension, Graph, Model, TensorShape, TensorTypeProto, TypeProto, ValueInfo as VI } from './schema.ts';
import type { GraphInfo, ModelIndex, ValueInfo } from './types.ts';

/** A tensor to expose. `elemType` is inferred from the graph when omitted; `dims` are optional. */
export interface NewOutput {
  name: string;
  elemType?: number;
  dims?: (number | string | null)[];
}

/**
 * Bytes to append to the model file so that `outputs` (names of existing tensors, e.g. every
 * attn2's Q) become graph outputs, plus the index of the extended file. Names that already are
 * outputs are skipped; a name no node produces is an error.
 */
export function appendGraphOutputs(index: ModelIndex, outputs: (string | NewOutput)[]): { bytes: Uint8Array; index: ModelIndex } {
  const g = index.graph;
  const existing = new Set(g.outputs.map((o) => o.name));
  const produced = new Set(g.nodes.flatMap((n) => n.outputs));
  const added: ValueInfo[] = [];
  for (const o of outputs) {
    const spec: NewOutput = typeof o === 'string' ? { name: o } : o;
    if (existing.has(spec.name)) continue;
    if (!produced.has(spec.name)) {
      throw new OnnxFormatError(`no node produces a tensor named '${spec.name}'`, undefined, 'expose a node output (see the index: graph.nodes[].outputs)');
    }
    const elemType = spec.elemType ?? inferElemType(g, spec.name);
    if (!elemType) {
      throw new OnnxFormatError(`cannot tell the element type of '${spec.name}' from the graph`, undefined, 'pass { name, elemType } (an ONNX DataType code)');
    }
    existing.add(spec.name);
    added.push({ name: spec.name, elemType, dims: spec.dims ?? null });
  }
  const body = protobuf.Writer.create();
  for (const v of added) writeValueInfo(body, v);
  const payload = body.finish();
  // One trailing ModelProto `graph` record (tag, length, outputs); nothing when nothing is added.
  const header = added.length ? fieldHeader(Model.graph, payload.length) : new Uint8Array(0);
  const bytes = new Uint8Array(header.length + payload.length);
  bytes.set(header);
  bytes.set(payload, header.length);
  const graph: GraphInfo = { ...g, outputs: [...g.outputs, ...added] };
  const extended: ModelIndex = { ...index, graph, byteLength: index.byteLength + bytes.length };
  if (added.length && index.graphRecords) {
    const at = index.byteLength;
    extended.graphRecords = [...index.graphRecords, { offset: at, payload: at + header.length, end: at + bytes.length }];
  }
  return { bytes, index: extended };
}

function writeValueInfo(w: protobuf.Writer, v: ValueInfo): void {
  w.uint32((Graph.output << 3) | 2).fork();
  w.uint32((VI.name << 3) | 2).string(v.name);
  w.uint32((VI.type << 3) | 2).fork();
  w.uint32((TypeProto.tensorType << 3) | 2).fork();
  w.uint32((TensorTypeProto.elemType << 3) | 0).int32(v.elemType);
  if (v.dims) {
    w.uint32((TensorTypeProto.shape << 3) | 2).fork();
    for (const d of v.dims) {
      w.uint32((TensorShape.dim << 3) | 2).fork();
      if (typeof d === 'number') w.uint32((Dimension.dimValue << 3) | 0).int64(d);
      else if (typeof d === 'string') w.uint32((Dimension.dimParam << 3) | 2).string(d);
      w.ldelim();
    }
    w.ldelim();
  }
  w.ldelim().ldelim().ldelim();
}

/** Ops whose output element type is not that of their first typed input. */
const fixedOutputType: Record<string, number> = { Shape: 7, Size: 7, NonZero: 7, ArgMax: 7, ArgMin: 7, Equal: 9, Less: 9, Greater: 9, Not: 9, And: 9, Or: 9 };

/**
 * Element type (ONNX DataType code) of tensor `name`: from value_info/inputs/outputs/initializers,
 * else propagated from its producer (Cast's `to`, or its inputs' type). 0 when it cannot be told.
 */
export function inferElemType(g: GraphInfo, name: string): number {
  const known = new Map<string, number>();
  for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) if (v.elemType) known.set(v.name, v.elemType);
  for (const t of g.initializers) known.set(t.name, t.dataType);
  const producer = new Map<string, (typeof g.nodes)[number]>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  // Iterative depth-first walk up the producers (graphs can be thousands of nodes deep).
  const stack = [name];
  const visiting = new Set<string>();
  while (stack.length) {
    const cur = stack[stack.length - 1];
    if (known.has(cur)) { stack.pop(); continue; }
    const n = producer.get(cur);
    if (!n) { known.set(cur, 0); stack.pop(); continue; }
    const fixed = n.opType === 'Cast' ? n.attributes.find((a) => a.name === 'to')?.i : n.opType === 'Constant' ? n.attributes.find((a) => a.t)?.t?.dataType : fixedOutputType[n.opType];
    if (fixed !== undefined) { known.set(cur, fixed); stack.pop(); continue; }
    const pending = n.inputs.filter((i) => i !== '' && !known.has(i) && !visiting.has(i));
    if (pending.length && !visiting.has(cur)) {
      visiting.add(cur);
      stack.push(...pending);
      continue;
    }
    const types = n.inputs.map((i) => known.get(i) ?? 0).filter((t) => t !== 0 && t !== 7 && t !== 6);
    known.set(cur, types[0] ?? n.inputs.map((i) => known.get(i) ?? 0).find((t) => t !== 0) ?? 0);
    stack.pop();
  }
  return known.get(name) ?? 0;
}
