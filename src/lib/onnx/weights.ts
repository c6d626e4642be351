/**
 * Reading tensor elements from the files behind an index: raw_data or a packed field in the
 * model file, or a range of an external data file. Only the tensor's own bytes are read.
 */
import { decodeFloat32 } from './elements.ts';
import { OnnxFormatError, truncatedHint } from './errors.ts';
import { allTensors } from './model.ts';
import type { ModelIndex, ModelSources, TensorInfo } from './types.ts';
import { toByteSource, type BytesLike } from './wire.ts';

/** The initializer (or Constant tensor) called `name`; throws naming similar tensors when absent. */
export function findTensor(index: ModelIndex, name: string): TensorInfo {
  const t = index.graph.initializers.find((x) => x.name === name) ?? allTensors(index.graph).find((x) => x.name === name);
  if (t) return t;
  const key = name.split(/[/.:_]/).filter(Boolean).pop() ?? name;
  const similar = index.graph.initializers.map((x) => x.name).filter((n) => n.includes(key)).slice(0, 5);
  throw new OnnxFormatError(
    `no initializer named '${name}' in this model (it has ${index.graph.initializers.length})`,
    undefined,
    similar.length ? `did you mean ${similar.map((s) => `'${s}'`).join(', ')}?` : 'check the name against the model you loaded',
  );
}

/** The file holding a tensor's bytes: the model, or its external data file. */
export function holdingFile(t: TensorInfo, sources: ModelSources): BytesLike {
  if (t.data.kind !== 'external') return sources.model;
  const file = sources.externalData?.[t.data.location];
  if (!file) {
    throw new OnnxFormatError(
      `tensor '${t.name}' is stored in external file '${t.data.location}', which was not given`,
      undefined,
      `pass { externalData: { '${t.data.location}': file } } with the model`,
    );
  }
  return file;
}

/** Reads a tensor's stored bytes (in its own dtype/encoding). A view, not a copy, for in-memory files. */
export async function readTensorBytes(t: TensorInfo, sources: ModelSources): Promise<Uint8Array> {
  if (t.data.kind === 'none') throw new OnnxFormatError(`tensor '${t.name}' has no data`, undefined, 'use a tensor that holds numbers');
  const src = toByteSource(holdingFile(t, sources));
  const end = t.data.offset + t.data.length;
  if (end > src.size) {
    const file = t.data.kind === 'external' ? `'${t.data.location}'` : 'the model file';
    throw new OnnxFormatError(`tensor '${t.name}' lies at bytes ${t.data.offset}–${end} of ${file}, which has ${src.size}`, t.data.offset, truncatedHint(src.size, end));
  }
  return src.read(t.data.offset, end);
}

/** Elements of a floating-point tensor (fp32, fp16, bf16 or fp64) as float32, in stored (row-major) order. */
export async function readTensorFloat32(t: TensorInfo, sources: ModelSources): Promise<Float32Array> {
  const count = t.dims.reduce((p, d) => p * d, 1);
  return decodeFloat32(await readTensorBytes(t, sources), t.data.kind, t.dataType, count, `tensor '${t.name}'`);
}

/**
 * Reads initializer `name` as float32 (fp16 converted exactly), row-major over its dims, e.g. a
 * MatMul weight [in, out]. Reads only that tensor's bytes from the model or external data file.
 */
export async function readInitializer(index: ModelIndex, name: string, sources: ModelSources): Promise<Float32Array> {
  return readTensorFloat32(findTensor(index, name), sources);
}
