/**
 * The two ways to switch between the original and the erased model:
 *   - the app's: apply the context map to the text context (applyContextMap, x → x·Mᵀ, as
 *     workers/unet-context.ts does on the WASM path), once per image;
 *   - weight editing: write W·M into all 32 attn2 to_k/to_v projections and create the UNet
 *     session again from the patched bytes.
 */
import { applyContextMap, closedFormContextMap, materializeWeight, serializeContextMap, type ContextMap } from '../../src/lib/erasure/index.ts';
import { findCrossAttentionSites, indexModel, patchSiteProjection, readSiteProjection, type ModelSources } from '../../src/lib/onnx/index.ts';
import { EditState } from '../../workers/edit-state.ts';
import { randn } from '../../src/lib/diffusion/index.ts';
import { timeRuns, type Timing } from './stats.ts';

/** A UCE-style closed-form map erasing `rank` random token vectors (norm ≈ 28, like CLIP-L's) with 2·rank preserved ones. */
export function randomEdit(rank: number, d = 768, seed = 7): ContextMap {
  const vectors = (n: number, s: number) => Array.from({ length: n }, (_, i) => {
    const v = Float64Array.from(randn(s * 1000 + i, [d]));
    const norm = Math.hypot(...v);
    return v.map((x) => (x / norm) * 28);
  });
  const edit = { d, lambda: 0.5, eraseScale: 1, preserveScale: 1, sources: vectors(rank, seed), targets: vectors(rank, seed + 1), preserve: vectors(2 * rank, seed + 2) };
  return closedFormContextMap(edit, { method: 'uce' }, false).map;
}

/** What switching costs in the app (ms): loading a saved map, and applying it to both guidance branches. */
export interface ApplyCost {
  rank: number;
  /** EditState.set(json): parse and validate a saved map (switching between two edits). */
  set: Timing;
  /** applyContextMap on cond and uncond [1,77,d] separately, as the pipeline calls it. */
  applyBothBranches: Timing;
}

/** Time the app's switch: EditState.set + applyContextMap ×2 ([1,77,768] each). */
export async function applyCost(map: ContextMap, rank: number, d = 768): Promise<ApplyCost> {
  const state = new EditState({
    contextWidth: d,
    encodePrompt: () => Promise.reject(new Error('the switch benchmark encodes no prompts')),
    unetSources: { model: new Uint8Array(0) },
  });
  const json = serializeContextMap(map, 'float32');
  const cond = randn(3, [1, 77, d]);
  const uncond = randn(4, [1, 77, d]);
  const set = await timeRuns(() => state.set(json), 50, 3);
  const applyBothBranches = await timeRuns(() => {
    applyContextMap(state.map!, cond, [1, 77, d]);
    applyContextMap(state.map!, uncond, [1, 77, d]);
  }, 100, 5);
  return { rank, set, applyBothBranches };
}

/**
 * Weight editing: read each of the 32 projections, compute W·M (materializeWeight) and patch it
 * into the in-memory bytes in place. Returns the patch time (ms) and, as a check, the largest
 * |read-back − W·M| over the first patched projection (fp16 rounding, ~1e-3).
 */
export async function patchAllProjections(sources: ModelSources, map: ContextMap): Promise<{ ms: number; checkMaxAbs: number; count: number }> {
  const t = performance.now();
  const index = await indexModel(sources.model, sources.externalData ? { externalData: sources.externalData } : {});
  const sites = findCrossAttentionSites(index);
  let first: Float32Array | null = null;
  let count = 0;
  for (const site of sites) {
    for (const which of ['k', 'v'] as const) {
      const w = await readSiteProjection(site, which, sources);
      const edited = materializeWeight({ name: `${site.name}.${which}`, layout: 'onnx', rows: w.rows, cols: w.cols, data: w.data }, map);
      sources = await patchSiteProjection(site, which, edited, sources);
      first ??= edited;
      count++;
    }
  }
  const ms = performance.now() - t;
  const back = (await readSiteProjection(sites[0]!, 'k', sources)).data;
  let checkMaxAbs = 0;
  for (let i = 0; i < back.length; i++) checkMaxAbs = Math.max(checkMaxAbs, Math.abs(back[i]! - first![i]!));
  return { ms, checkMaxAbs, count };
}
