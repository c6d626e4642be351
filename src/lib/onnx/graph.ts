/**
 * Lookups over an indexed graph (producer/consumers of a tensor, initializers by name) and
 * small constant folding of shape tensors. Built once per graph and cached.
 */
import type { GraphInfo, NodeInfo, TensorInfo } from './types.ts';

export interface GraphLookup {
  producer: Map<string, NodeInfo>;
  consumers: Map<string, NodeInfo[]>;
  initializer: Map<string, TensorInfo>;
  /** Position of each node in graph order. */
  order: Map<NodeInfo, number>;
  byName: Map<string, NodeInfo>;
}

const cache = new WeakMap<GraphInfo, GraphLookup>();

/** Producer/consumer/initializer maps of `g` (cached per graph object). */
export function lookup(g: GraphInfo): GraphLookup {
  let l = cache.get(g);
  if (l) return l;
  l = { producer: new Map(), consumers: new Map(), initializer: new Map(), order: new Map(), byName: new Map() };
  for (const t of g.initializers) l.initializer.set(t.name, t);
  g.nodes.forEach((n, i) => {
    l!.order.set(n, i);
    if (n.name) l!.byName.set(n.name, n);
    for (const o of n.outputs) if (o) l!.producer.set(o, n);
    for (const x of n.inputs) {
      if (!x) continue;
      const list = l!.consumers.get(x);
      if (list) list.push(n);
      else l!.consumers.set(x, [n]);
    }
  });
  cache.set(g, l);
  return l;
}

/** Ops that pass a tensor's values through (for tracing weights and shapes). */
const passThrough = new Set(['Identity', 'Cast', 'Unsqueeze', 'Squeeze']);

/** The initializer behind `name`, looking through Identity nodes; null if computed. */
export function initializerBehind(l: GraphLookup, name: string): TensorInfo | null {
  for (let hop = 0; hop < 4; hop++) {
    const t = l.initializer.get(name);
    if (t) return t;
    const p = l.producer.get(name);
    if (!p || p.opType !== 'Identity') return null;
    name = p.inputs[0];
  }
  return null;
}

/**
 * Integer elements of a shape tensor as far as they are constant: initializers, Constant nodes,
 * and Concat/Unsqueeze/Cast of those; a non-constant part counts as one `null`.
 */
export function constantSequence(l: GraphLookup, name: string, depth = 0): (number | null)[] {
  if (depth > 8) return [null];
  const t = l.initializer.get(name);
  if (t) return t.values ?? [null];
  const p = l.producer.get(name);
  if (!p) return [null];
  if (p.opType === 'Constant') {
    const a = p.attributes[0];
    return a?.t?.values ?? a?.ints ?? (a?.i !== undefined ? [a.i] : [null]);
  }
  if (p.opType === 'Concat') return p.inputs.flatMap((x) => constantSequence(l, x, depth + 1));
  if (passThrough.has(p.opType)) return constantSequence(l, p.inputs[0], depth + 1);
  return [null];
}

/**
 * Nodes reachable forward from tensor `name` through at most `hops` nodes, breadth first
 * (the start tensor's consumers are hop 1).
 */
export function downstream(l: GraphLookup, name: string, hops: number): NodeInfo[] {
  const seen = new Set<NodeInfo>();
  let frontier = [name];
  for (let h = 0; h < hops && frontier.length; h++) {
    const next: string[] = [];
    for (const x of frontier) for (const n of l.consumers.get(x) ?? []) {
      if (seen.has(n)) continue;
      seen.add(n);
      next.push(...n.outputs);
    }
    frontier = next;
  }
  return [...seen];
}

/** The nearest MatMul upstream of tensor `name` through reshaping/casting/bias ops (≤ `hops`). */
export function matMulUpstream(l: GraphLookup, name: string, hops = 4): NodeInfo | null {
  for (let h = 0; h < hops; h++) {
    const p = l.producer.get(name);
    if (!p) return null;
    if (p.opType === 'MatMul') return p;
    if (!['Reshape', 'Transpose', 'Cast', 'Identity', 'Add'].includes(p.opType)) return null;
    // For Add (bias), follow the input that is not an initializer.
    name = p.opType === 'Add' ? (p.inputs.find((x) => !l.initializer.has(x)) ?? p.inputs[0]) : p.inputs[0];
  }
  return null;
}
