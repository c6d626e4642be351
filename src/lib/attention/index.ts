/**
 * Per-token cross-attention maps (DAAM): probabilities from captured Q and K = context·W_k,
 * running sums over steps, aggregation to per-token and per-word maps, mass shares, colour
 * overlays. Plain TypeScript for Node, pages and workers; the WGSL kernels in shaders/ compute
 * the same as probabilities.ts and aggregate.ts.
 */
export { contextKeys, keysPerHeadTransposed, accumulateProbabilities, attentionProbabilities, type AttentionShape } from './probabilities.ts';
export { AttentionAccumulator, levelSize, type AttentionSiteInfo, type AttentionLayerSums, type AttentionMaps, type AccumulatorOptions } from './accumulator.ts';
export { CUBIC_A, cubicTaps, resizeBicubic, type CubicTaps } from './bicubic.ts';
export { DAAM_LEVELS, aggregateTokenMaps, tokenMap, type AggregateOptions, type TokenMaps } from './aggregate.ts';
export { wordMaps, wordTokenPositions, wordMassShares, massShift, type WordTokens, type WordMap, type MassShift } from './words.ts';
export { minMaxScale, sharedScale, normalize, colorLut, colorize, overlayHeatmap, type DisplayScale, type ColorMapName, type OverlayOptions } from './display.ts';
