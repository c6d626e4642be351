/**
 * What AttentionView shows, as plain functions of its props: the overlay of a chosen word's map
 * on each image (per-panel min-max, or one absolute scale shared by before and after) and the
 * "where did the mass go" rows.
 */
import { colorLut, massShift, minMaxScale, overlayHeatmap, sharedScale, wordMaps, type ColorMapName, type DisplayScale, type MassShift, type TokenMaps, type WordTokens } from '../lib/attention/index.ts';

/** A generated image, RGBA. */
export interface ViewImage {
  width: number;
  height: number;
  rgba: Uint8ClampedArray | Uint8Array;
}

/** One side (original model, or erased) of the view. */
export interface AttentionPanel {
  label: string;
  image: ViewImage;
  /** Aggregated maps; must include every word token position. */
  maps: TokenMaps;
}

export interface OverlayChoice {
  word: number;
  opacity: number;
  absolute: boolean;
  colorMap: ColorMapName;
}

/** The blended RGBA of each panel for the chosen word, and the scale each used. */
export function panelOverlays(panels: readonly AttentionPanel[], words: readonly WordTokens[], choice: OverlayChoice): { rgba: Uint8ClampedArray; scale: DisplayScale }[] {
  const word = words[choice.word];
  if (!word) throw new Error(`no word ${choice.word} (the prompt has ${words.length})`);
  const maps = panels.map((p) => wordMaps(p.maps, [word])[0].map);
  const shared = choice.absolute ? sharedScale(maps) : null;
  const lut = colorLut(choice.colorMap);
  return panels.map((p, i) => {
    const scale = shared ?? minMaxScale(maps[i]);
    const rgba = overlayHeatmap(p.image.rgba, p.image.width, p.image.height, maps[i], p.maps.height, p.maps.width, { scale, opacity: choice.opacity, lut });
    return { rgba, scale };
  });
}

/** Mass rows: before → after per word when there are two panels, else shares of the one panel. */
export function massRows(panels: readonly AttentionPanel[], words: readonly WordTokens[]): MassShift[] {
  if (panels.length === 0) return [];
  return massShift(panels[0].maps, panels[panels.length - 1].maps, words);
}

/** "12.3%" */
export const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
