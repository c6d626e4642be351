/**
 * Cross-attention probabilities from the attention's own inputs, the TypeScript reference of
 * shaders/attention-probs (and the WASM path's implementation):
 *
 *   K = context · W_k                       [77, inner]   (W_k stored [contextDim, inner])
 *   P_h = softmax(Q_h K_hᵀ / √headSize)     [HW, 77] per head h, over the 77 tokens
 *
 * Q is the to_q output [B, HW, inner] the UNet exposes; head h owns columns
 * [h·headSize, (h+1)·headSize) of Q and K (diffusers' head split). Only one batch entry (the
 * conditional branch) is used.
 */

/** Shape of one cross-attention layer as the probabilities kernel sees it. */
export interface AttentionShape {
  heads: number;
  headSize: number;
  /** Query positions H·W of this layer. */
  pixels: number;
  /** Context tokens (77 for CLIP). */
  tokens: number;
}

/**
 * K = context · W_k for one site.
 * @param context [tokens, contextDim] row-major, the context actually fed to the UNet (edited if an edit is active)
 * @param wk [contextDim, inner] row-major (ONNX MatMul layout, y = x · W)
 * @returns K [tokens, inner] row-major
 */
export function contextKeys(context: Float32Array, tokens: number, wk: Float32Array, contextDim: number, inner: number): Float32Array {
  if (context.length !== tokens * contextDim) throw new Error(`context has ${context.length} values; expected tokens·contextDim = ${tokens}·${contextDim}. Pass one prompt's [${tokens}, ${contextDim}] context.`);
  if (wk.length !== contextDim * inner) throw new Error(`W_k has ${wk.length} values; expected [${contextDim}, ${inner}]. Pass the site's to_k weight as [in, out].`);
  const k = new Float32Array(tokens * inner);
  for (let t = 0; t < tokens; t++) {
    const row = k.subarray(t * inner, (t + 1) * inner);
    for (let c = 0; c < contextDim; c++) {
      const x = context[t * contextDim + c];
      if (x === 0) continue;
      const w = wk.subarray(c * inner, (c + 1) * inner);
      for (let j = 0; j < inner; j++) row[j] += x * w[j];
    }
  }
  return k;
}

/**
 * K rearranged per head as [heads, headSize, tokens] (Kᵀ blocks): the inner loop of
 * {@link accumulateProbabilities} then runs over contiguous tokens.
 */
export function keysPerHeadTransposed(k: Float32Array, shape: Pick<AttentionShape, 'heads' | 'headSize' | 'tokens'>): Float32Array {
  const { heads, headSize, tokens } = shape;
  const inner = heads * headSize;
  if (k.length !== tokens * inner) throw new Error(`K has ${k.length} values; expected [${tokens}, ${inner}]`);
  const out = new Float32Array(k.length);
  for (let h = 0; h < heads; h++) {
    for (let d = 0; d < headSize; d++) {
      const base = (h * headSize + d) * tokens;
      for (let t = 0; t < tokens; t++) out[base + t] = k[t * inner + h * headSize + d];
    }
  }
  return out;
}

/**
 * Adds softmax(Q_h K_hᵀ/√headSize) of every head into `sum` [heads, pixels, tokens].
 * @param q Q [.., pixels, inner]; the rows used start at element `qOffset` (batch b: b·pixels·inner)
 * @param kT per-head transposed K [heads, headSize, tokens] (see {@link keysPerHeadTransposed})
 * @param sum running sum [heads, pixels, tokens], updated in place
 */
export function accumulateProbabilities(sum: Float32Array, q: ArrayLike<number>, qOffset: number, kT: Float32Array, shape: AttentionShape): void {
  const { heads, headSize, pixels, tokens } = shape;
  const inner = heads * headSize;
  if (sum.length !== heads * pixels * tokens) throw new Error(`the running sum has ${sum.length} values; expected [${heads}, ${pixels}, ${tokens}]`);
  if (qOffset < 0 || qOffset + pixels * inner > q.length) throw new Error(`Q has ${q.length} values; rows [${qOffset}, ${qOffset + pixels * inner}) of [pixels ${pixels}, inner ${inner}] do not fit`);
  if (kT.length !== heads * headSize * tokens) throw new Error(`K has ${kT.length} values; expected [${heads}, ${headSize}, ${tokens}]`);
  const scale = 1 / Math.sqrt(headSize);
  // Four pixels at a time share each K load (about 2× faster than one at a time in V8).
  const l0 = new Float32Array(tokens), l1 = new Float32Array(tokens), l2 = new Float32Array(tokens), l3 = new Float32Array(tokens);
  for (let h = 0; h < heads; h++) {
    const kh = kT.subarray(h * headSize * tokens, (h + 1) * headSize * tokens);
    let p = 0;
    for (; p + 4 <= pixels; p += 4) {
      l0.fill(0); l1.fill(0); l2.fill(0); l3.fill(0);
      const r0 = qOffset + p * inner + h * headSize;
      for (let d = 0; d < headSize; d++) {
        const q0 = q[r0 + d] * scale, q1 = q[r0 + inner + d] * scale, q2 = q[r0 + 2 * inner + d] * scale, q3 = q[r0 + 3 * inner + d] * scale;
        const kd = d * tokens;
        for (let t = 0; t < tokens; t++) {
          const k = kh[kd + t];
          l0[t] += q0 * k; l1[t] += q1 * k; l2[t] += q2 * k; l3[t] += q3 * k;
        }
      }
      const out = (h * pixels + p) * tokens;
      addSoftmax(l0, sum, out);
      addSoftmax(l1, sum, out + tokens);
      addSoftmax(l2, sum, out + 2 * tokens);
      addSoftmax(l3, sum, out + 3 * tokens);
    }
    for (; p < pixels; p++) {
      l0.fill(0);
      const r0 = qOffset + p * inner + h * headSize;
      for (let d = 0; d < headSize; d++) {
        const q0 = q[r0 + d] * scale;
        const kd = d * tokens;
        for (let t = 0; t < tokens; t++) l0[t] += q0 * kh[kd + t];
      }
      addSoftmax(l0, sum, (h * pixels + p) * tokens);
    }
  }
}

/** sum[out + t] += softmax(logits)[t] (numerically stable: the max is subtracted). */
function addSoftmax(logits: Float32Array, sum: Float32Array, out: number): void {
  const n = logits.length;
  let max = -Infinity;
  for (let t = 0; t < n; t++) if (logits[t] > max) max = logits[t];
  let total = 0;
  for (let t = 0; t < n; t++) {
    const e = Math.exp(logits[t] - max);
    logits[t] = e;
    total += e;
  }
  const inv = 1 / total;
  for (let t = 0; t < n; t++) sum[out + t] += logits[t] * inv;
}

/** softmax(Q_h K_hᵀ/√headSize) for all heads as a new [heads, pixels, tokens] array. */
export function attentionProbabilities(q: ArrayLike<number>, qOffset: number, k: Float32Array, shape: AttentionShape): Float32Array {
  const sum = new Float32Array(shape.heads * shape.pixels * shape.tokens);
  accumulateProbabilities(sum, q, qOffset, keysPerHeadTransposed(k, shape), shape);
  return sum;
}
