/**
 * Building model inputs from a session's own metadata (names, dtypes, static shapes) instead of
 * assuming them: SD exports differ (timestep int64 [1] or float32 [B]; fp16 or fp32 inputs;
 * static batch 2 for guidance).
 */

import { floatToHalf, halfToFloat } from '../onnx/fp16.ts';

/** One input or output as onnxruntime reports it (`session.inputMetadata`). */
export interface TensorMeta {
  name: string;
  /** onnxruntime type name: 'float32', 'float16', 'int64', 'int32', … */
  type: string;
  /** Static sizes as numbers, symbolic ones as strings (e.g. 'batch'). */
  shape: readonly (number | string)[];
}

/** A typed array of the kind onnxruntime takes for a given tensor type. */
export type TensorData = Float32Array | Uint16Array | Int32Array | BigInt64Array;

/** Raised when a model's inputs do not fit what the pipeline needs; says which and why. */
export class ModelInputError extends Error {
  override name = 'ModelInputError';
}

/** Find an input by name; the error lists the inputs the model does have. */
export function requireInput(inputs: readonly TensorMeta[], name: string, model: string): TensorMeta {
  const meta = inputs.find((m) => m.name === name);
  if (!meta) {
    throw new ModelInputError(
      `${model} has no input '${name}' (it has ${inputs.map((m) => `'${m.name}'`).join(', ') || 'none'}). ` +
        `Is this the right file for ${model}?`,
    );
  }
  return meta;
}

/**
 * Resolve the shape to feed: `wanted` where the model's dimension is symbolic, and a clear error
 * where a static dimension disagrees (e.g. a UNet exported with static batch 2 fed batch 1).
 */
export function resolveShape(meta: TensorMeta, wanted: readonly number[], model: string): number[] {
  if (meta.shape.length !== wanted.length) {
    throw new ModelInputError(
      `${model} input '${meta.name}' has rank ${meta.shape.length} [${meta.shape.join(', ')}], ` +
        `but the pipeline feeds rank ${wanted.length} [${wanted.join(', ')}].`,
    );
  }
  return wanted.map((w, i) => {
    const s = meta.shape[i];
    if (typeof s === 'number' && s > 0 && s !== w) {
      throw new ModelInputError(
        `${model} input '${meta.name}' is exported with a static size ${s} at axis ${i} ` +
          `([${meta.shape.join(', ')}]); the pipeline needs ${w} there.`,
      );
    }
    return w;
  });
}

/** The static batch size of an input, or null when it is symbolic. */
export function staticBatch(meta: TensorMeta): number | null {
  const b = meta.shape[0];
  return typeof b === 'number' && b > 0 ? b : null;
}

/** Convert float32 values to the data array of a tensor of type `type`. */
export function castFloats(values: Float32Array, type: string): TensorData {
  switch (type) {
    case 'float32':
      return values;
    case 'float16': {
      const out = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = floatToHalf(values[i]!);
      return out;
    }
    case 'int64':
      // Truncate toward zero, as numpy's astype(int64) does for diffusers' fractional Euler timesteps.
      return BigInt64Array.from(values, (v) => BigInt(Math.trunc(v)));
    case 'int32':
      return Int32Array.from(values, (v) => Math.trunc(v));
    default:
      throw new ModelInputError(`Input type '${type}' is not supported (expected float32, float16, int64 or int32).`);
  }
}

/** Read a tensor's data (float32, float16 as Float16Array or Uint16Array bits) as float32. */
export function toFloat32(data: ArrayLike<number> | Uint16Array, type: string): Float32Array {
  if (type === 'float32') return data instanceof Float32Array ? data : Float32Array.from(data);
  if (type === 'float16') {
    // Float16Array (Chromium ≥ 135) already holds numbers; Uint16Array holds raw bits.
    if (data instanceof Uint16Array) return Float32Array.from(data, halfToFloat);
    return Float32Array.from(data);
  }
  throw new ModelInputError(`Output type '${type}' cannot be read as float32.`);
}
