import { describe, it, expect } from 'vitest';
import {
  createScheduler,
  EulerDiscrete,
  DDIM,
  DPMSolverMultistep,
  SD_TURBO_SCHEDULER_CONFIG,
  SD1_SCHEDULER_CONFIG,
  initialLatents,
  type Scheduler,
} from '../../src/lib/diffusion/index.ts';

// Synthetic tensors from a tiny LCG (independent of the library's generator).
function synthetic(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}
const SIZE = 64;
const x0 = synthetic(SIZE, 1);
const eps = synthetic(SIZE, 2, 1.7);

function expectArrayClose(actual: Float32Array, expected: ArrayLike<number>, tol: number) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) throw new Error(`index ${i}: got ${actual[i]}, expected ${expected[i]} (tol ${tol})`);
  }
}
const map = (f: (i: number) => number) => Array.from({ length: SIZE }, (_, i) => f(i));
/** Independent ᾱ_t in float64 from the closed form. */
const alphaBar = (() => {
  const a = Math.sqrt(0.00085), b = Math.sqrt(0.012);
  const out: number[] = [];
  for (let t = 0, p = 1; t < 1000; t++) { p *= 1 - (a + ((b - a) * t) / 999) ** 2; out.push(p); }
  return out;
})();

describe('EulerDiscrete', () => {
  it('recovers x0 in one step when the model predicts the exact noise (SD-Turbo)', () => {
    const s = createScheduler('EulerDiscrete', 1, SD_TURBO_SCHEDULER_CONFIG);
    const sigma = s.sigmas[0];
    const xT = Float32Array.from(map((i) => x0[i] + sigma * eps[i]));
    expectArrayClose(s.step(eps, 0, xT), x0, 1e-5 * sigma);
  });
  it('follows x0 + σ_{i+1}·ε step by step on the exact-noise trajectory', () => {
    const s = createScheduler('EulerDiscrete', 20);
    let x: Float32Array = Float32Array.from(map((i) => x0[i] + s.sigmas[0] * eps[i]));
    for (let k = 0; k < 20; k++) {
      x = s.step(eps, k, x);
      expectArrayClose(x, map((i) => x0[i] + s.sigmas[k + 1] * eps[i]), 1e-5 * (1 + s.sigmas[k]));
    }
  });
  it('scales the UNet input by 1/√(σ²+1) without touching its argument', () => {
    const s = createScheduler('EulerDiscrete', 4);
    const before = Float32Array.from(x0);
    const scaled = s.scaleModelInput(x0, 1);
    expectArrayClose(scaled, map((i) => x0[i] / Math.sqrt(s.sigmas[1] ** 2 + 1)), 1e-7);
    expect(x0).toEqual(before);
  });
  it('rejects a wrong step index or tensor size with a clear message', () => {
    const s = new EulerDiscrete(4);
    expect(() => s.step(eps, 4, x0)).toThrow(/step index 4 is outside 0..3/);
    expect(() => s.step(eps.subarray(1), 0, x0)).toThrow(/modelOutput has 63 values but the sample has 64/);
  });
});

describe('EulerAncestralDiscrete', () => {
  it('takes a deterministic step to σ_down = σ_to²/σ_from and adds noise of std σ_up = σ_to·√(1 − σ_to²/σ_from²)', () => {
    const s = createScheduler('EulerAncestralDiscrete', 10);
    const z = synthetic(SIZE, 3);
    const k = 3;
    const [from, to] = [s.sigmas[k], s.sigmas[k + 1]];
    const down = (to * to) / from;
    const up = to * Math.sqrt(1 - (to * to) / (from * from));
    const x = Float32Array.from(map((i) => x0[i] + from * eps[i]));
    expectArrayClose(s.step(eps, k, x, z), map((i) => x0[i] + down * eps[i] + up * z[i]), 1e-5 * (1 + from));
    expect(s.needsNoise).toBe(true);
    expect(() => s.step(eps, k, x)).toThrow(/needs unit Gaussian noise/);
  });
  it('lands exactly on x0 at the last step, whatever the noise', () => {
    const s = createScheduler('EulerAncestralDiscrete', 5);
    const last = s.sigmas[4];
    const x = Float32Array.from(map((i) => x0[i] + last * eps[i]));
    expectArrayClose(s.step(eps, 4, x, synthetic(SIZE, 9, 100)), x0, 1e-5);
  });
});

describe('DDIM', () => {
  it('is eta 0, leading + steps_offset 1 by default and maps the exact-noise trajectory onto itself', () => {
    const s = createScheduler('DDIM', 50) as DDIM;
    expect(s.eta).toBe(0);
    expect(s.needsNoise).toBe(false);
    expect(s.timesteps.slice(0, 2)).toEqual([981, 961]);
    for (const k of [0, 10, 49]) {
      const t = s.timesteps[k];
      const prev = t - 20 >= 0 ? alphaBar[t - 20] : alphaBar[0]; // set_alpha_to_one = false
      const xt = Float32Array.from(map((i) => Math.sqrt(alphaBar[t]) * x0[i] + Math.sqrt(1 - alphaBar[t]) * eps[i]));
      const expected = map((i) => Math.sqrt(prev) * x0[i] + Math.sqrt(1 - prev) * eps[i]);
      expectArrayClose(s.step(eps, k, xt), expected, 2e-5);
    }
    expectArrayClose(s.scaleModelInput(x0, 0), x0, 0);
  });
  it('with eta 1 adds σ_t·noise and shrinks the ε direction accordingly', () => {
    const s = new DDIM(10, { ...SD1_SCHEDULER_CONFIG, timestepSpacing: 'leading' }, { eta: 1 });
    const z = synthetic(SIZE, 4);
    const k = 2;
    const t = s.timesteps[k];
    const ap = alphaBar[t - 100];
    const at = alphaBar[t];
    const variance = ((1 - ap) / (1 - at)) * (1 - at / ap);
    const xt = Float32Array.from(map((i) => Math.sqrt(at) * x0[i] + Math.sqrt(1 - at) * eps[i]));
    const expected = map((i) => Math.sqrt(ap) * x0[i] + Math.sqrt(1 - ap - variance) * eps[i] + Math.sqrt(variance) * z[i]);
    expectArrayClose(s.step(eps, k, xt, z), expected, 2e-5);
    expect(() => s.step(eps, k, xt)).toThrow(/eta 1 needs unit Gaussian noise/);
    expect(() => new DDIM(10, SD1_SCHEDULER_CONFIG, { eta: 2 })).toThrow(/eta must be in \[0, 1\]/);
  });
});

describe('DPMSolverMultistep (DPM-Solver++ 2M)', () => {
  // Hand computation in the paper's notation with λ = −ln σ and α = 1/√(1+σ²).
  const alphaOf = (sigma: number) => 1 / Math.sqrt(1 + sigma * sigma);
  const vp = (sigma: number, i: number, e: ArrayLike<number>, x: ArrayLike<number>) => alphaOf(sigma) * x[i] + sigma * alphaOf(sigma) * e[i];

  it('first step is first order: x_t = (σ_t/σ_s)·x − α_t(e^{−h} − 1)·x0_pred', () => {
    const s = createScheduler('DPMSolverMultistep', 10) as DPMSolverMultistep;
    const [ss, st] = [s.sigmas[0], s.sigmas[1]];
    const x = Float32Array.from(map((i) => vp(ss, i, eps, x0)));
    const e2 = synthetic(SIZE, 5); // a model output that is NOT the true noise
    const h = Math.log(ss / st);
    const vpSs = ss * alphaOf(ss), vpSt = st * alphaOf(st);
    const expected = map((i) => {
      const pred = (x[i] - vpSs * e2[i]) / alphaOf(ss);
      return (vpSt / vpSs) * x[i] - alphaOf(st) * (Math.exp(-h) - 1) * pred;
    });
    expectArrayClose(s.step(e2, 0, x), expected, 1e-5);
  });

  it('later steps use the 2M midpoint formula with D1 = (D0 − D_prev)/r0', () => {
    const s = createScheduler('DPMSolverMultistep', 10) as DPMSolverMultistep;
    const a = (sg: number) => alphaOf(sg);
    let x: Float32Array = Float32Array.from(map((i) => vp(s.sigmas[0], i, eps, x0)));
    const k = 5; // mid-schedule, σ ≈ 1–2, where the correction term is large
    let prevOut: Float32Array = new Float32Array(SIZE);
    for (let j = 0; j < k; j++) {
      prevOut = synthetic(SIZE, 20 + j, 2);
      x = s.step(prevOut, j, x);
    }
    const [s0, s1, s2] = [s.sigmas[k - 1], s.sigmas[k], s.sigmas[k + 1]]; // σ_{k−1}, σ_k, σ_{k+1}
    // x0 prediction of step k−1 needs the sample of step k−1: recompute it by replaying.
    const replay = createScheduler('DPMSolverMultistep', 10);
    let y: Float32Array = Float32Array.from(map((i) => vp(s.sigmas[0], i, eps, x0)));
    for (let j = 0; j < k - 1; j++) y = replay.step(synthetic(SIZE, 20 + j, 2), j, y);
    const predPrev = map((i) => (y[i] - s0 * a(s0) * prevOut[i]) / a(s0));
    const out = synthetic(SIZE, 99, 2);
    const pred = map((i) => (x[i] - s1 * a(s1) * out[i]) / a(s1));
    const h = Math.log(s1 / s2);
    const r0 = Math.log(s0 / s1) / h;
    const c = a(s2) * (Math.exp(-h) - 1);
    const expected = map((i) => ((s2 * a(s2)) / (s1 * a(s1))) * x[i] - c * pred[i] - 0.5 * c * ((pred[i] - predPrev[i]) / r0));
    const firstOrder = map((i) => ((s2 * a(s2)) / (s1 * a(s1))) * x[i] - c * pred[i]);
    const got = s.step(out, k, x);
    expectArrayClose(got, expected, 1e-5);
    // the correction is far above the tolerance, so a wrong second-order term cannot pass
    expect(Math.max(...map((i) => Math.abs(expected[i] - firstOrder[i])))).toBeGreaterThan(0.05);
    expect(s.usesSecondOrder(k)).toBe(true);
  });

  it('keeps the exact-noise trajectory exact and ends first order on x0 (final σ = 0)', () => {
    for (const n of [4, 20]) {
      const s = createScheduler('DPMSolverMultistep', n) as DPMSolverMultistep;
      let x: Float32Array = Float32Array.from(map((i) => vp(s.sigmas[0], i, eps, x0)));
      for (let k = 0; k < n; k++) x = s.step(eps, k, x);
      expectArrayClose(x, x0, 2e-5);
      expect(s.usesSecondOrder(n - 1)).toBe(false);
    }
    // The last step returns the current x0 prediction exactly, even with a changing prediction.
    const s = createScheduler('DPMSolverMultistep', 3) as DPMSolverMultistep;
    let x: Float32Array = Float32Array.from(map((i) => vp(s.sigmas[0], i, eps, x0)));
    x = s.step(synthetic(SIZE, 11), 0, x);
    x = s.step(synthetic(SIZE, 12), 1, x);
    const lastOut = synthetic(SIZE, 13);
    const sl = s.sigmas[2];
    const expected = map((i) => (x[i] - sl * alphaOf(sl) * lastOut[i]) / alphaOf(sl));
    expectArrayClose(s.step(lastOut, 2, x), expected, 1e-5);
  });

  it('requires steps in order and restarts at step 0', () => {
    const s = new DPMSolverMultistep(5);
    const x = Float32Array.from(x0);
    s.step(eps, 0, x);
    expect(() => s.step(eps, 2, x)).toThrow(/in order .* got 2 after 0/);
    const a = new DPMSolverMultistep(5);
    const first = a.step(eps, 0, x);
    expect(s.step(eps, 0, x)).toEqual(first);
  });
});

describe('createScheduler', () => {
  it('builds each sampler with the diffusers defaults and scales initial noise', () => {
    const names = ['EulerDiscrete', 'EulerAncestralDiscrete', 'DDIM', 'DPMSolverMultistep'] as const;
    const built: Scheduler[] = names.map((n) => createScheduler(n, 20));
    expect(built.map((s) => s.name)).toEqual(names);
    expect(built.map((s) => s.timesteps[0])).toEqual([999, 999, 951, 999]);
    const noise = synthetic(16, 8);
    expectArrayClose(initialLatents(noise, built[0]), Array.from(noise, (v) => v * built[0].initNoiseSigma), 1e-6);
    expect(() => createScheduler('PNDM' as never, 20)).toThrow(/unknown scheduler "PNDM"/);
  });
});
