/**
 * Turning a heat map into pixels: a display scale (per-map min-max as DAAM shows maps, or one
 * shared absolute scale so before/after are comparable), a perceptual colour map from
 * d3-scale-chromatic as a 256-entry lookup table, and an RGBA overlay on the generated image.
 */
import { interpolateInferno, interpolateMagma, interpolateTurbo, interpolateViridis } from 'd3-scale-chromatic';
import { resizeBicubic } from './bicubic.ts';

/** Values mapped to 0 and 1 of the colour map. */
export interface DisplayScale {
  min: number;
  max: number;
}

/** DAAM's default display: this map's own min and max. */
export function minMaxScale(map: ArrayLike<number>): DisplayScale {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < map.length; i++) {
    if (map[i] < min) min = map[i];
    if (map[i] > max) max = map[i];
  }
  return { min, max };
}

/**
 * One absolute scale for several maps (e.g. a word before and after an edit): 0 … the largest
 * value of any of them, so equal attention gets equal colour in every panel.
 */
export function sharedScale(maps: readonly ArrayLike<number>[]): DisplayScale {
  let max = 0;
  for (const m of maps) max = Math.max(max, minMaxScale(m).max);
  return { min: 0, max };
}

/** (v − min) / (max − min) clamped to [0, 1]; a flat map (max = min) gives 0s. */
export function normalize(map: ArrayLike<number>, scale: DisplayScale): Float32Array {
  const range = scale.max - scale.min;
  const out = new Float32Array(map.length);
  if (!(range > 0)) return out;
  for (let i = 0; i < map.length; i++) out[i] = Math.min(1, Math.max(0, (map[i] - scale.min) / range));
  return out;
}

export type ColorMapName = 'inferno' | 'viridis' | 'magma' | 'turbo';
const interpolators: Record<ColorMapName, (t: number) => string> = { inferno: interpolateInferno, viridis: interpolateViridis, magma: interpolateMagma, turbo: interpolateTurbo };

/** Parses d3's '#rrggbb' or 'rgb(r, g, b)' colour strings. */
function parseColor(c: string): [number, number, number] {
  if (c.startsWith('#') && c.length === 7) return [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as [number, number, number];
  const m = c.match(/^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/);
  if (!m) throw new Error(`unexpected colour string from d3-scale-chromatic: ${c}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** A colour map as 256 RGB triples (Uint8Array [256·3]): entry i is the colour of i/255. */
export function colorLut(name: ColorMapName = 'inferno'): Uint8Array {
  const f = interpolators[name];
  if (!f) throw new Error(`unknown colour map "${name}"; use ${Object.keys(interpolators).join(', ')}`);
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) lut.set(parseColor(f(i / 255)), i * 3);
  return lut;
}

/** Colours values in [0, 1] as opaque RGBA [n·4]. */
export function colorize(values: ArrayLike<number>, lut: Uint8Array): Uint8ClampedArray {
  const out = new Uint8ClampedArray(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const k = Math.round(Math.min(1, Math.max(0, values[i])) * 255) * 3;
    out[i * 4] = lut[k];
    out[i * 4 + 1] = lut[k + 1];
    out[i * 4 + 2] = lut[k + 2];
    out[i * 4 + 3] = 255;
  }
  return out;
}

export interface OverlayOptions {
  /** Display scale of the map (default: its min-max). */
  scale?: DisplayScale;
  /** Heat map weight in the blend, 0 … 1 (default 0.6). */
  opacity?: number;
  lut?: Uint8Array;
}

/**
 * The image with a heat map blended over it: map [mapH, mapW] is upsampled bicubically to the
 * image size (DAAM `expand_as`), clamped at 0, scaled, coloured, and mixed
 * out = (1 − opacity)·image + opacity·colour.
 * @param image RGBA [height·width·4]
 * @returns a new RGBA array of the image's size
 */
export function overlayHeatmap(image: Uint8ClampedArray | Uint8Array, width: number, height: number, map: ArrayLike<number>, mapH: number, mapW: number, options: OverlayOptions = {}): Uint8ClampedArray {
  if (image.length !== width * height * 4) throw new Error(`the image has ${image.length} bytes; expected RGBA ${width}×${height}`);
  const opacity = options.opacity ?? 0.6;
  if (!(opacity >= 0 && opacity <= 1)) throw new Error(`opacity ${opacity} must be within 0 … 1`);
  const up = mapH === height && mapW === width ? Float32Array.from(map) : resizeBicubic(map, mapH, mapW, height, width);
  for (let i = 0; i < up.length; i++) if (up[i] < 0) up[i] = 0;
  const colors = colorize(normalize(up, options.scale ?? minMaxScale(up)), options.lut ?? colorLut());
  const out = new Uint8ClampedArray(image.length);
  for (let i = 0; i < out.length; i += 4) {
    for (let c = 0; c < 3; c++) out[i + c] = (1 - opacity) * image[i + c] + opacity * colors[i + c];
    out[i + 3] = 255;
  }
  return out;
}
