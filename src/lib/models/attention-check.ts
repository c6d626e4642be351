/**
 * Whether an engine computes com.microsoft MultiHeadAttention correctly, judged against float64:
 * deterministic probe inputs, the reference softmax(Q_h K_hᵀ/√d)·V_h, and a verdict. The worker
 * runs the probe model (src/lib/onnx/mha-model.ts) on the chosen engine before it trusts a fused
 * UNet to it: onnxruntime-web 1.30's WebGPU kernel gives wrong results on some adapters
 * (SwiftShader, subgroup size 4: head sizes divisible by 4, N ≥ 32).
 */
import type { AttentionProbeShape } from '../onnx/mha-model.ts';

/** Largest |engine − reference| accepted (outputs are averages of values in [−1, 1]). */
export const ATTENTION_TOLERANCE = 1e-3;

/** Query length of the probe: ≥ 32, where the affected kernel is chosen; SD's levels are ≥ 64. */
export const PROBE_QUERIES = 64;

/** The probe's inputs: Q and K in [−2, 2] (peaked softmax, as trained SD), V in [−1, 1]. */
export function attentionProbeInputs(shape: AttentionProbeShape): { q: Float32Array; k: Float32Array; v: Float32Array } {
  const c = shape.heads * shape.headSize;
  let state = 0x9e3779b9;
  const uniform = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => {
      // xorshift32: deterministic, identical in every browser.
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return ((state >>> 0) / 2 ** 32 * 2 - 1) * scale;
    });
  return { q: uniform(shape.queries * c, 2), k: uniform(shape.keys * c, 2), v: uniform(shape.keys * c, 1) };
}

/**
 * softmax(Q_h K_hᵀ/√d)·V_h per head in float64, heads merged back: [N, h·d] row-major.
 * @param q [N, h·d]; k, v [M, h·d] (head h owns columns h·d … h·d + d − 1)
 */
export function multiHeadAttentionReference(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, shape: AttentionProbeShape): Float64Array {
  const { heads, headSize: d, queries: n, keys: m } = shape;
  const c = heads * d;
  const out = new Float64Array(n * c);
  const weights = new Float64Array(m);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let f = 0; f < d; f++) s += q[i * c + h * d + f]! * k[j * c + h * d + f]!;
        weights[j] = s / Math.sqrt(d);
        if (weights[j]! > max) max = weights[j]!;
      }
      let total = 0;
      for (let j = 0; j < m; j++) total += weights[j] = Math.exp(weights[j]! - max);
      for (let e = 0; e < d; e++) {
        let s = 0;
        for (let j = 0; j < m; j++) s += weights[j]! * v[j * c + h * d + e]!;
        out[i * c + h * d + e] = s / total;
      }
    }
  }
  return out;
}

/** One probe's verdict. */
export interface AttentionCheck {
  shape: AttentionProbeShape;
  /** Largest |engine − float64| over the output. */
  maxError: number;
  ok: boolean;
}

/** Compares an engine's output with the reference. */
export function judgeAttention(shape: AttentionProbeShape, output: ArrayLike<number>, reference: Float64Array): AttentionCheck {
  if (output.length !== reference.length) throw new Error(`the engine returned ${output.length} values; the probe expects ${reference.length}`);
  let maxError = 0;
  for (let i = 0; i < reference.length; i++) {
    const e = Math.abs(output[i]! - reference[i]!);
    if (!(e <= maxError)) maxError = Number.isNaN(e) ? Infinity : e;
  }
  return { shape, maxError, ok: maxError <= ATTENTION_TOLERANCE };
}

/**
 * The probes a UNet needs: one per distinct (heads, head size) of its fused attention sites,
 * with N = {@link PROBE_QUERIES} and M = 77 context tokens. Plain exports need none.
 */
export function attentionProbesFor(sites: readonly { heads: number; headSize: number; style: string }[]): AttentionProbeShape[] {
  const seen = new Map<string, AttentionProbeShape>();
  for (const s of sites) {
    if (s.style === 'plain') continue;
    seen.set(`${s.heads}×${s.headSize}`, { heads: s.heads, headSize: s.headSize, queries: PROBE_QUERIES, keys: 77 });
  }
  return [...seen.values()];
}
