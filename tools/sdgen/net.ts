/**
 * The building context shared by the three model generators: torch-export naming (node
 * `/scope/Op`, `/scope/Op_1`, …, outputs `<node>_output_0`), deterministic weights in the compute
 * dtype, anonymous `onnx::MatMul_<n>` initializers, and Constant nodes.
 */
import { DataType } from '../../src/lib/onnx/schema.ts';
import { GraphBuilder, attr, type AttrValue, type TensorData } from './onnx-writer.ts';
import { float32ToHalfBits as toHalfArray } from '../../src/lib/onnx/fp16.ts';
import { normalFor } from './rng.ts';
import type { ComputeDtype } from './config.ts';

/** How a parameter's values are drawn: N(mean, std²) (std 0 gives the constant `mean`). */
export interface Init {
  std: number;
  mean?: number;
}

/** Options of {@link Net.op}. */
export interface OpOptions {
  attrs?: Record<string, AttrValue>;
  domain?: string;
  /** Number of outputs (default 1). */
  outputs?: number;
  /** Use these output names instead of `<node>_output_<i>`. */
  outputNames?: string[];
}

/** Graph builder plus naming and weight conventions of a torch ONNX export. */
export class Net {
  readonly g = new GraphBuilder();
  /** ONNX element type of activations and weights (FLOAT or FLOAT16). */
  readonly floatType: number;
  private readonly opCount = new Map<string, number>();
  private anonCounter: number;

  constructor(
    readonly dtype: ComputeDtype,
    readonly seed: number,
    /** First number of the anonymous `onnx::<Op>_<n>` initializers (torch numbers values globally). */
    anonBase = 1000,
  ) {
    this.floatType = dtype === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
    this.anonCounter = anonBase;
  }

  /** Adds node `<scope>/<opType>[_k]` and returns its output names. */
  op(scope: string, opType: string, inputs: string[], options: OpOptions = {}): string[] {
    const base = `${scope}/${opType}`;
    const k = this.opCount.get(base) ?? 0;
    this.opCount.set(base, k + 1);
    const name = k === 0 ? base : `${base}_${k}`;
    const outputs = options.outputNames ?? Array.from({ length: options.outputs ?? 1 }, (_, i) => `${name}_output_${i}`);
    this.g.node(opType, inputs, outputs, { name, domain: options.domain, attrs: options.attrs });
    return outputs;
  }

  /** Like {@link op} for a single-output node: returns the output name. */
  op1(scope: string, opType: string, inputs: string[], options: OpOptions = {}): string {
    return this.op(scope, opType, inputs, options)[0];
  }

  /** The float32 master values of parameter `stateName` (same for every style and dtype). */
  values(stateName: string, count: number, init: Init): Float32Array {
    if (init.std === 0) return new Float32Array(count).fill(init.mean ?? 0);
    return normalFor(this.seed, stateName, count, init.std, init.mean ?? 0);
  }

  /** Adds float32 values as an initializer in the compute dtype; returns its name. */
  addFloat(name: string, dims: number[], values: Float32Array): string {
    const data: TensorData = this.dtype === 'float16' ? toHalfArray(values) : values;
    return this.g.initializer(name, this.floatType, dims, data);
  }

  /** A parameter kept under its state-dict name (biases, norm weights, conv weights). */
  param(stateName: string, dims: number[], init: Init): string {
    return this.addFloat(stateName, dims, this.values(stateName, product(dims), init));
  }

  /**
   * An anonymous initializer `onnx::<opType>_<n>` holding the values of `stateName` — what
   * torch's constant folding leaves for Linear weights (transposed to [in, out] for MatMul).
   */
  anonParam(stateName: string, opType: string, dims: number[], init: Init): string {
    return this.addFloat(`onnx::${opType}_${this.anonCounter++}`, dims, this.values(stateName, product(dims), init));
  }

  /** A `Constant` node `<scope>/Constant[_k]` holding int64 values (shapes, axes). */
  constInt64(scope: string, values: number[]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.op1(scope, 'Constant', [], { attrs: { value: attr.tensor({ dataType: DataType.INT64, dims: [values.length], data }) } });
  }

  /** A `Constant` node holding a float scalar (or vector) in the compute dtype. */
  constFloat(scope: string, values: number[], dims: number[] = []): string {
    const f = Float32Array.from(values);
    const data: TensorData = this.dtype === 'float16' ? toHalfArray(f) : f;
    return this.op1(scope, 'Constant', [], { attrs: { value: attr.tensor({ dataType: this.floatType, dims, data }) } });
  }

  /** A `Constant` node holding float32 values, whatever the compute dtype. */
  constFloat32(scope: string, values: Float32Array, dims: number[]): string {
    return this.op1(scope, 'Constant', [], { attrs: { value: attr.tensor({ dataType: DataType.FLOAT, dims, data: values }) } });
  }

  /** Cast to an ONNX element type (output `<node>_output_0`, or `outputName` for graph outputs). */
  cast(scope: string, x: string, to: number, outputName?: string): string {
    return this.op1(scope, 'Cast', [x], { attrs: { to: attr.int(to) }, outputNames: outputName ? [outputName] : undefined });
  }

  /** Cast a float32 value into the compute dtype (no node when that is float32). */
  toCompute(scope: string, x: string): string {
    return this.dtype === 'float16' ? this.cast(scope, x, DataType.FLOAT16) : x;
  }
}

/** Product of dims (1 for a scalar). */
export function product(dims: number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}
