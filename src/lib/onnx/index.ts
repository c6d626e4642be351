/**
 * The ONNX layer: index a model file without copying its weights, find the UNet's
 * cross-attention sites, read and patch weights, expose intermediate tensors as outputs.
 * Imports nothing else of the app; runs in Node, pages and workers.
 */
export { OnnxFormatError } from './errors.ts';
export { indexModel, allTensors, type IndexOptions } from './model.ts';
export type * from './types.ts';
export { toByteSource, type BytesLike, type ByteSource } from './wire.ts';
export { findTensor, readInitializer, readTensorBytes, readTensorFloat32 } from './weights.ts';
export { findCrossAttentionSites, blockName, type CrossAttentionSite, type ProjectionRef } from './sites.ts';
export { readSiteProjection, patchSiteProjection, unpackKv, type Matrix } from './projections.ts';
export { encodeTensorValues, patchTensor, patchTensorBytes } from './patch.ts';
export { appendGraphOutputs, inferElemType, type NewOutput } from './append.ts';
export { describeExecutionRequirements, type ExecutionRequirements } from './requirements.ts';
export { halfToFloat, floatToHalf, halfBytesToFloat32, float32ToHalfBytes } from './fp16.ts';
export { lookup, type GraphLookup } from './graph.ts';
export { unpackPackedKv, type UnpackedModel, type UnpackedSite, type UnpackedProjection } from './unpack.ts';
export { findPackedKvAttention, splitPackedKvBytes, type PackedKvAttention } from './packed-kv.ts';
