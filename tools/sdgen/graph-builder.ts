/**
 * The in-memory ONNX graph that {@link ./onnx-writer.ts} serialises: typed attributes, tensors,
 * value infos, nodes, and the {@link GraphBuilder} that collects them. Import it through
 * onnx-writer.ts (which re-exports everything here).
 */
import { bytesPerElement } from '../../src/lib/onnx/schema.ts';

/** A tensor dimension: a fixed size, or a symbolic name (`dim_param`, e.g. 'batch'). */
export type Dim = number | string;

/** Element storage of a tensor. FLOAT16/BFLOAT16 data is passed as raw bits in a Uint16Array. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A dense tensor: ONNX data type code (schema.ts DataType), dims, and its elements. */
export interface TensorValue {
  name?: string;
  dataType: number;
  dims: number[];
  data: TensorData;
  /**
   * 'raw' (default): bytes in raw_data. 'typed': the typed repeated field onnx's
   * `helper.make_tensor(..., raw=False)` writes (float_data, int32_data (also int8/16, fp16 bits),
   * int64_data, double_data; packed), as ORT's fusion scripts do for small shape tensors.
   * Always inline, never external.
   */
  encoding?: 'raw' | 'typed';
}

/** A typed attribute value; build one with the {@link attr} helpers. */
export type AttrValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'tensor'; value: TensorValue };

/** Attribute constructors: `attrs: { axis: attr.int(1), epsilon: attr.float(1e-5) }`. */
export const attr = {
  float: (value: number): AttrValue => ({ type: 'float', value }),
  int: (value: number): AttrValue => ({ type: 'int', value }),
  string: (value: string): AttrValue => ({ type: 'string', value }),
  floats: (value: number[]): AttrValue => ({ type: 'floats', value }),
  ints: (value: number[]): AttrValue => ({ type: 'ints', value }),
  tensor: (value: TensorValue): AttrValue => ({ type: 'tensor', value }),
};

/** A graph input or output: name, element type code and shape. */
export interface ValueInfoDef {
  name: string;
  dataType: number;
  dims: Dim[];
}

/** One node of the graph. `domain` '' is the default ONNX domain. */
export interface NodeDef {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  domain: string;
  attrs: Record<string, AttrValue>;
}

/** Options of {@link GraphBuilder.node}. */
export interface NodeOptions {
  name?: string;
  domain?: string;
  attrs?: Record<string, AttrValue>;
}

/** Collects the inputs, outputs, initializers and nodes of one ONNX graph. */
export class GraphBuilder {
  readonly inputs: ValueInfoDef[] = [];
  readonly outputs: ValueInfoDef[] = [];
  readonly initializers: TensorValue[] = [];
  readonly nodes: NodeDef[] = [];
  private readonly names = new Set<string>();
  private readonly initializerIndex = new Map<string, number>();

  constructor(readonly name = 'main_graph') {}

  /** Declares a graph input; returns its name. */
  input(name: string, dataType: number, dims: Dim[]): string {
    this.claim(name, 'input');
    this.inputs.push({ name, dataType, dims: [...dims] });
    return name;
  }

  /** Declares a graph output (a value some node produces); returns its name. */
  output(name: string, dataType: number, dims: Dim[]): string {
    this.outputs.push({ name, dataType, dims: [...dims] });
    return name;
  }

  /**
   * Adds an initializer (a weight); returns its name. `data.length` must equal the product of
   * `dims` (a scalar has dims []). FLOAT16 data is raw IEEE half bits in a Uint16Array.
   */
  initializer(name: string, dataType: number, dims: number[], data: TensorData, encoding: 'raw' | 'typed' = 'raw'): string {
    checkTensor(name, dataType, dims, data);
    this.claim(name, 'initializer');
    this.initializerIndex.set(name, this.initializers.length);
    this.initializers.push({ name, dataType, dims: [...dims], data, encoding });
    return name;
  }

  /** The initializer called `name`, or undefined. */
  getInitializer(name: string): TensorValue | undefined {
    const i = this.initializerIndex.get(name);
    return i === undefined ? undefined : this.initializers[i];
  }

  /** Adds a node; returns its output names. Use '' for an omitted optional input. */
  node(opType: string, inputs: string[], outputs: string[], options: NodeOptions = {}): string[] {
    for (const o of outputs) if (o !== '') this.claim(o, `output of ${opType}`);
    this.nodes.push({
      opType,
      inputs: [...inputs],
      outputs: [...outputs],
      name: options.name ?? '',
      domain: options.domain ?? '',
      attrs: options.attrs ?? {},
    });
    return outputs;
  }

  /**
   * Renames a node output everywhere it is used (e.g. to make the last node write the graph
   * output 'out_sample' directly, as torch does). Throws if `to` is taken.
   */
  renameValue(from: string, to: string): void {
    if (!this.names.has(from)) throw new Error(`GraphBuilder.renameValue: no value named "${from}".`);
    if (this.initializerIndex.has(from) || this.inputs.some((v) => v.name === from)) throw new Error(`GraphBuilder.renameValue: "${from}" is an input or initializer; only node outputs can be renamed.`);
    this.claim(to, 'renamed value');
    this.names.delete(from);
    for (const n of this.nodes) {
      n.inputs = n.inputs.map((i) => (i === from ? to : i));
      n.outputs = n.outputs.map((o) => (o === from ? to : o));
    }
    for (const o of this.outputs) if (o.name === from) o.name = to;
  }

  /** True when a value (input, initializer or node output) of this name exists. */
  has(name: string): boolean {
    return this.names.has(name);
  }

  private claim(name: string, what: string): void {
    if (this.names.has(name)) throw new Error(`GraphBuilder: value name "${name}" (${what}) is already defined; every value must have one producer.`);
    this.names.add(name);
  }
}

/** Throws unless `data` holds exactly product(dims) elements of `dataType`. */
export function checkTensor(name: string, dataType: number, dims: number[], data: TensorData): void {
  const size = bytesPerElement[dataType];
  if (!size) throw new Error(`Tensor "${name}": data type ${dataType} has no fixed element size; use a numeric type from schema.ts DataType.`);
  const count = dims.reduce((p, d) => p * d, 1);
  if (data.byteLength !== count * size) {
    throw new Error(`Tensor "${name}": dims [${dims.join(', ')}] need ${count} elements of ${size} bytes, got ${data.byteLength} bytes.`);
  }
}
