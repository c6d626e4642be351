/**
 * WGSL: cross-attention probabilities added into a running sum, for one layer and one step.
 * TypeScript reference: accumulateProbabilities (src/lib/attention/probabilities.ts).
 *
 *   sums[h, p, t] += softmax_t( Σ_d Q[qOffset + p·inner + h·headSize + d] · Kᵀ[h, d, t] · scale )
 *
 * One invocation per (pixel p = global x, head h = global y); the 77 logits live in registers.
 * Q is the UNet's to_q output as ORT hands it over (float32, or float16 read as packed u32
 * pairs with unpack2x16float, which needs no `shader-f16`); Kᵀ is [heads, headSize, tokens].
 * Each (p, h) owns its 77 sum entries, so the read-modify-write needs no atomics.
 */

/** Element type of the Q buffer. */
export type QFormat = 'f32' | 'f16';

export const PROBS_WORKGROUP = 64;

/** Bytes of the params uniform: pixels, heads, headSize, qOffset (u32), scale (f32), padded to 32. */
export const PROBS_PARAMS_BYTES = 32;

/** The kernel's source for Q in `qFormat` and `tokens` context tokens (77). */
export function attentionProbsWgsl(qFormat: QFormat, tokens = 77): string {
  const qDecl = qFormat === 'f32' ? 'array<f32>' : 'array<u32>';
  const qRead =
    qFormat === 'f32'
      ? 'return q[i];'
      : 'let pair = unpack2x16float(q[i >> 1u]);\n  return select(pair.x, pair.y, (i & 1u) == 1u);';
  return /* wgsl */ `
const TOKENS: u32 = ${tokens}u;

struct Params {
  pixels: u32,
  heads: u32,
  headSize: u32,
  qOffset: u32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> q: ${qDecl};
@group(0) @binding(1) var<storage, read> kT: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn readQ(i: u32) -> f32 {
  ${qRead}
}

@compute @workgroup_size(${PROBS_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = gid.x;
  let h = gid.y;
  if (p >= params.pixels || h >= params.heads) { return; }
  let inner = params.heads * params.headSize;
  let qRow = params.qOffset + p * inner + h * params.headSize;
  let kBase = h * params.headSize * TOKENS;
  var logits: array<f32, TOKENS>;
  for (var d = 0u; d < params.headSize; d++) {
    let qd = readQ(qRow + d) * params.scale;
    let kd = kBase + d * TOKENS;
    for (var t = 0u; t < TOKENS; t++) {
      logits[t] = logits[t] + qd * kT[kd + t];
    }
  }
  var m = logits[0];
  for (var t = 1u; t < TOKENS; t++) { m = max(m, logits[t]); }
  var total = 0.0;
  for (var t = 0u; t < TOKENS; t++) {
    let e = exp(logits[t] - m);
    logits[t] = e;
    total = total + e;
  }
  let inv = 1.0 / total;
  let out = (h * params.pixels + p) * TOKENS;
  for (var t = 0u; t < TOKENS; t++) {
    sums[out + t] = sums[out + t] + logits[t] * inv;
  }
}
`;
}
