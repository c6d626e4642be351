/**
 * Reading and patching one cross-attention projection (to_q, to_k, to_v) as a logical
 * [in, out] matrix, whatever the export stored: a plain [in, out] weight, or the K or V half of
 * a packed KV weight (interleaved per head).
 */
import { OnnxFormatError } from './errors.ts';
import { patchTensor } from './patch.ts';
import type { CrossAttentionSite, ProjectionRef } from './sites.ts';
import type { ModelSources } from './types.ts';
import { readTensorFloat32 } from './weights.ts';

/** A dense row-major matrix: element (r, c) is data[r · cols + c]. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/**
 * Projection `which` of `site` as float32 [rows = in, cols = out] (y = x · W, x the hidden state
 * or the text context). For packed KV, the K or V columns are gathered from the interleaved weight.
 */
export async function readSiteProjection(site: CrossAttentionSite, which: 'q' | 'k' | 'v', sources: ModelSources): Promise<Matrix> {
  const p = site[which];
  const stored = await readTensorFloat32(p.tensor, sources);
  if (!p.packed) return { data: stored, rows: p.rows, cols: p.cols };
  return { data: unpackKv(stored, p), rows: p.rows, cols: p.cols };
}

/** Column offset of head h's part inside a packed KV row: [K_h | V_h] blocks of 2·headSize. */
function partOffset(p: ProjectionRef, h: number): number {
  const { headSize, part } = p.packed!;
  return h * 2 * headSize + (part === 'v' ? headSize : 0);
}

/** Gathers the K or V columns [rows, heads·headSize] out of a packed [rows, heads·2·headSize] weight. */
export function unpackKv(packed: Float32Array, p: ProjectionRef): Float32Array {
  const { heads, headSize } = p.packed!;
  const out = new Float32Array(p.rows * p.cols);
  for (let r = 0; r < p.rows; r++) {
    for (let h = 0; h < heads; h++) {
      const src = r * 2 * p.cols + partOffset(p, h);
      out.set(packed.subarray(src, src + headSize), r * p.cols + h * headSize);
    }
  }
  return out;
}

/**
 * Writes a new [in, out] matrix (float32, row-major, rows·cols values) into projection `which`
 * of `site`, converting to the stored dtype; for packed KV only that half's columns change.
 * Returns the sources to use from now on (see patchTensor).
 */
export async function patchSiteProjection(site: CrossAttentionSite, which: 'q' | 'k' | 'v', data: Float32Array, sources: ModelSources): Promise<ModelSources> {
  const p = site[which];
  if (data.length !== p.rows * p.cols) {
    throw new OnnxFormatError(`${which} of ${site.name} is [${p.rows}, ${p.cols}]; got ${data.length} values`, undefined, 'pass rows·cols values in [in, out] order');
  }
  if (!p.packed) return patchTensor(p.tensor, data, sources);
  const packed = await readTensorFloat32(p.tensor, sources);
  const { heads, headSize } = p.packed;
  for (let r = 0; r < p.rows; r++) {
    for (let h = 0; h < heads; h++) {
      const src = r * p.cols + h * headSize;
      packed.set(data.subarray(src, src + headSize), r * 2 * p.cols + partOffset(p, h));
    }
  }
  return patchTensor(p.tensor, packed, sources);
}
