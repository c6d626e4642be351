/**
 * Bicubic resizing exactly as PyTorch's `F.interpolate(x, size, mode='bicubic',
 * align_corners=False)` computes it (DAAM upsamples every map this way):
 *
 *   source coordinate  s = (dst + 0.5) · in/out − 0.5      (not clamped at 0 for cubic)
 *   taps               floor(s) − 1 … floor(s) + 2, indices clamped to [0, in − 1]
 *   weights            Keys' cubic convolution with A = −0.75
 *
 * It is separable (rows, then columns), which gives the same result as PyTorch's 4×4 sum up to
 * float rounding. Values overshoot (undershoot below 0) near edges; DAAM clamps afterwards.
 */

/** Keys' cubic convolution coefficient A used by PyTorch (and OpenCV). */
export const CUBIC_A = -0.75;

/** Weight for |x| ≤ 1. */
function cubicNear(x: number): number {
  return ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1;
}

/** Weight for 1 < |x| < 2. */
function cubicFar(x: number): number {
  return ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A;
}

/** For each output index: 4 clamped source indices and their 4 weights (flat, 4 per output). */
export interface CubicTaps {
  index: Int32Array;
  weight: Float32Array;
}

/** The taps of a 1-D resize from `inSize` to `outSize` samples (PyTorch, align_corners=False). */
export function cubicTaps(inSize: number, outSize: number): CubicTaps {
  if (!(Number.isInteger(inSize) && inSize > 0 && Number.isInteger(outSize) && outSize > 0)) {
    throw new Error(`bicubic resize needs positive integer sizes; got ${inSize} → ${outSize}`);
  }
  const scale = inSize / outSize;
  const index = new Int32Array(outSize * 4);
  const weight = new Float32Array(outSize * 4);
  for (let o = 0; o < outSize; o++) {
    const s = (o + 0.5) * scale - 0.5;
    const i0 = Math.floor(s);
    const t = s - i0;
    const w = [cubicFar(t + 1), cubicNear(t), cubicNear(1 - t), cubicFar(2 - t)];
    for (let k = 0; k < 4; k++) {
      index[o * 4 + k] = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
      weight[o * 4 + k] = w[k];
    }
  }
  return { index, weight };
}

/**
 * Resizes one map [inH, inW] (row-major) to [outH, outW] bicubically, PyTorch semantics.
 * @param taps precomputed {@link cubicTaps} for (rows, cols), to reuse across many maps
 */
export function resizeBicubic(
  src: ArrayLike<number>,
  inH: number,
  inW: number,
  outH: number,
  outW: number,
  taps: { rows: CubicTaps; cols: CubicTaps } = { rows: cubicTaps(inH, outH), cols: cubicTaps(inW, outW) },
): Float32Array {
  if (src.length !== inH * inW) throw new Error(`bicubic resize: the map has ${src.length} values, not ${inH}×${inW}`);
  // Pass 1: resize every row horizontally → [inH, outW].
  const tmp = new Float32Array(inH * outW);
  const { index: ci, weight: cw } = taps.cols;
  for (let y = 0; y < inH; y++) {
    const row = y * inW;
    for (let x = 0; x < outW; x++) {
      const k = x * 4;
      tmp[y * outW + x] = cw[k] * src[row + ci[k]] + cw[k + 1] * src[row + ci[k + 1]] + cw[k + 2] * src[row + ci[k + 2]] + cw[k + 3] * src[row + ci[k + 3]];
    }
  }
  // Pass 2: resize columns vertically → [outH, outW].
  const out = new Float32Array(outH * outW);
  const { index: ri, weight: rw } = taps.rows;
  for (let y = 0; y < outH; y++) {
    const k = y * 4;
    const r0 = ri[k] * outW, r1 = ri[k + 1] * outW, r2 = ri[k + 2] * outW, r3 = ri[k + 3] * outW;
    const w0 = rw[k], w1 = rw[k + 1], w2 = rw[k + 2], w3 = rw[k + 3];
    const o = y * outW;
    for (let x = 0; x < outW; x++) out[o + x] = w0 * tmp[r0 + x] + w1 * tmp[r1 + x] + w2 * tmp[r2 + x] + w3 * tmp[r3 + x];
  }
  return out;
}
