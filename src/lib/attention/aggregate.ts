/**
 * DAAM's global heat map (castorini/daam `compute_global_heat_map`), for running sums captured
 * by {@link AttentionAccumulator}:
 *
 *   for every kept (layer, head): upsample its [h, w] map of token t bicubically to
 *   [size, size] (PyTorch semantics) and clamp at 0; then take the equal-weight mean over all
 *   kept (layer, head) pairs.
 *
 * Levels are relative to the latent: level 0 is the full latent grid (64² for SD 1.x at
 * 512 px, 32² for a 32×32 latent), level 3 is latent/8 (SD's mid block), which DAAM always
 * drops. The output defaults to the latent size (DAAM's 64×64 for SD 1.x at 512 px).
 */
import type { AttentionMaps } from './accumulator.ts';
import { cubicTaps, resizeBicubic } from './bicubic.ts';

/** Levels DAAM keeps: 64², 32², 16² at SD 1.x (full, /2, /4 of the latent); /8 is dropped. */
export const DAAM_LEVELS: readonly number[] = [0, 1, 2];

export interface AggregateOptions {
  /** Resolution levels to keep (default {@link DAAM_LEVELS}). */
  levels?: readonly number[];
  /** Layer (transformer block) names to keep (default: all at the kept levels). */
  layers?: readonly string[];
  /** Head indices to keep (default: all). */
  heads?: readonly number[];
  /** Token positions to compute (default: all; pass BOS … last real token to save time). */
  tokens?: readonly number[];
  /** Output height and width (default: the latent's). */
  height?: number;
  width?: number;
}

/** One heat map per requested token, [tokens.length, height, width]. */
export interface TokenMaps {
  height: number;
  width: number;
  /** Token positions, in the order of `maps`. */
  tokens: number[];
  maps: Float32Array;
  /** Number of (layer, head) maps averaged. */
  averaged: number;
  /** Steps summed in the capture. */
  steps: number;
}

/** Aggregates captured sums into per-token maps the way DAAM does. */
export function aggregateTokenMaps(captured: AttentionMaps, options: AggregateOptions = {}): TokenMaps {
  const levels = options.levels ?? DAAM_LEVELS;
  const height = options.height ?? captured.latentHeight;
  const width = options.width ?? captured.latentWidth;
  const tokens = options.tokens ? [...options.tokens] : Array.from({ length: captured.tokens }, (_, t) => t);
  for (const t of tokens) if (!(Number.isInteger(t) && t >= 0 && t < captured.tokens)) throw new Error(`token position ${t} is outside 0…${captured.tokens - 1}`);
  const layers = captured.layers.filter((l) => levels.includes(l.level) && (!options.layers || options.layers.includes(l.name)));
  if (layers.length === 0) {
    const have = captured.layers.map((l) => `${l.name} (level ${l.level})`).join(', ') || 'none';
    throw new Error(`no captured layer matches levels [${levels.join(', ')}]${options.layers ? ` and layers [${options.layers.join(', ')}]` : ''}; captured: ${have}`);
  }
  const plane = height * width;
  const maps = new Float32Array(tokens.length * plane);
  let averaged = 0;
  const tapCache = new Map<string, { rows: ReturnType<typeof cubicTaps>; cols: ReturnType<typeof cubicTaps> }>();
  for (const layer of layers) {
    const key = `${layer.height}x${layer.width}`;
    if (!tapCache.has(key)) tapCache.set(key, { rows: cubicTaps(layer.height, height), cols: cubicTaps(layer.width, width) });
    const taps = tapCache.get(key)!;
    const pixels = layer.height * layer.width;
    const T = captured.tokens;
    const heads = options.heads ? options.heads.filter((h) => h < layer.heads) : Array.from({ length: layer.heads }, (_, h) => h);
    const small = new Float32Array(pixels);
    for (const h of heads) {
      averaged++;
      const base = h * pixels * T;
      tokens.forEach((t, i) => {
        for (let p = 0; p < pixels; p++) small[p] = layer.sums[base + p * T + t];
        const up = resizeBicubic(small, layer.height, layer.width, height, width, taps);
        const out = maps.subarray(i * plane, (i + 1) * plane);
        for (let p = 0; p < plane; p++) if (up[p] > 0) out[p] += up[p]; // clamp at 0, then sum
      });
    }
  }
  if (averaged === 0) throw new Error(`no head left after selecting heads [${options.heads?.join(', ')}]`);
  for (let i = 0; i < maps.length; i++) maps[i] /= averaged;
  return { height, width, tokens, maps, averaged, steps: captured.steps.length };
}

/** The map of token position `t` (a view into `m.maps`). */
export function tokenMap(m: TokenMaps, t: number): Float32Array {
  const i = m.tokens.indexOf(t);
  if (i < 0) throw new Error(`token position ${t} was not aggregated (have ${m.tokens.join(', ')})`);
  return m.maps.subarray(i * m.height * m.width, (i + 1) * m.height * m.width);
}
