/**
 * Erasure engine: UCE / TIME / RECE / progressive erasure as one context map M (d×d) applied to
 * the text context (x → x·Mᵀ), plus weight materialisation and safetensors import/export.
 * See each module's header for the math and shapes.
 */
export * from './linalg.ts';
export * from './spectrum.ts';
export * from './context-map.ts';
export * from './context-map-json.ts';
export * from './closed-form.ts';
export * from './tokens.ts';
export * from './inputs.ts';
export * from './uce.ts';
export * from './time.ts';
export * from './rece.ts';
export * from './progressive.ts';
export * from './safetensors.ts';
export * from './weights.ts';
export * from './request.ts';
