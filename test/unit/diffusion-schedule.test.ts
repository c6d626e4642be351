import { describe, it, expect } from 'vitest';
import {
  trainingSchedule,
  eulerTimesteps,
  ddimTimesteps,
  dpmSolverTimesteps,
  createScheduler,
  SD_TURBO_SCHEDULER_CONFIG,
  roundHalfEven,
  type TimestepSpacing,
} from '../../src/lib/diffusion/index.ts';

// ---- independent float64 reference of the SD training schedule (closed form) ----
const N = 1000;
const refBeta = (t: number) => {
  const a = Math.sqrt(0.00085);
  const b = Math.sqrt(0.012);
  return (a + ((b - a) * t) / (N - 1)) ** 2;
};
const refAlphaBar: number[] = [];
for (let t = 0, p = 1; t < N; t++) { p *= 1 - refBeta(t); refAlphaBar.push(p); }
const refSigmaAt = (t: number) => Math.sqrt((1 - refAlphaBar[t]) / refAlphaBar[t]);
/** σ at a fractional timestep: linear interpolation between integer timesteps. */
const refSigma = (t: number) => {
  const lo = Math.floor(t);
  if (lo >= N - 1) return refSigmaAt(N - 1);
  return refSigmaAt(lo) + (refSigmaAt(lo + 1) - refSigmaAt(lo)) * (t - lo);
};
/** round(p/q) half to even, on exact integers (no floating point). */
const roundRationalHalfEven = (p: number, q: number) => {
  const fl = Math.floor(p / q);
  const twiceRem = 2 * (p - fl * q);
  if (twiceRem > q) return fl + 1;
  if (twiceRem < q) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
};

/**
 * Tolerance for a float32 σ at timestep t: float32 rounding (≈1e-6 relative over the chain) plus
 * the cancellation in 1 − ᾱ_t, whose absolute error is about one float32 ulp of ᾱ (6e-8).
 */
const sigmaTol = (t: number) => 2e-6 + 6e-8 / (1 - refAlphaBar[Math.floor(t)]);

function expectSigmasClose(actual: readonly number[], timesteps: readonly number[]) {
  expect(actual.length).toBe(timesteps.length);
  actual.forEach((a, i) => {
    const expected = refSigma(timesteps[i]);
    if (Math.abs(a - expected) > sigmaTol(timesteps[i]) * expected) throw new Error(`σ at t=${timesteps[i]}: got ${a}, expected ${expected}`);
  });
}

function expectClose(actual: readonly number[], expected: readonly number[], relTol: number, absTol = 0) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const err = Math.abs(a - expected[i]);
    if (err > relTol * Math.abs(expected[i]) + absTol) throw new Error(`index ${i}: got ${a}, expected ${expected[i]}`);
  });
}

describe('training schedule', () => {
  const s = trainingSchedule();
  it('matches the float64 closed form to float32 accuracy', () => {
    expectClose(Array.from(s.betas), Array.from({ length: N }, (_, t) => refBeta(t)), 1e-6);
    expectClose(Array.from(s.alphasCumprod), refAlphaBar, 2e-6);
    expectSigmasClose(Array.from(s.sigmas), Array.from({ length: N }, (_, t) => t));
  });
  it('has the known Stable Diffusion constants', () => {
    expect(s.betas[0]).toBeCloseTo(0.00085, 9);
    expect(s.betas[999]).toBeCloseTo(0.012, 8);
    expect(s.sigmas[999]).toBeCloseTo(14.6146, 4);
    expect(s.sigmas[0]).toBeCloseTo(0.0292, 4);
    expect(s.alphasCumprod[999]).toBeCloseTo(0.00466, 5);
  });
});

describe('timestep spacings', () => {
  const stepCounts = [1, 4, 20, 50];
  it('Euler linspace: 999·(n−1−i)/(n−1), a single step giving timestep 0 like numpy.linspace', () => {
    for (const n of stepCounts) {
      const expected = n === 1 ? [0] : Array.from({ length: n }, (_, i) => (999 * (n - 1 - i)) / (n - 1));
      expectClose(eulerTimesteps(n, 'linspace', N, 1), expected, 1e-7);
    }
    expect(eulerTimesteps(20, 'linspace', N, 1).slice(0, 3).map((t) => +t.toFixed(4))).toEqual([999, 946.4211, 893.8421]);
  });
  it('leading (+ steps_offset) and trailing, for every sampler family', () => {
    for (const n of stepCounts) {
      const leading = Array.from({ length: n }, (_, i) => (n - 1 - i) * Math.floor(N / n) + 1);
      const trailing = Array.from({ length: n }, (_, i) => roundRationalHalfEven(N * (n - i), n) - 1);
      expect(eulerTimesteps(n, 'leading', N, 1)).toEqual(leading);
      expect(ddimTimesteps(n, 'leading', N, 1)).toEqual(leading);
      expect(eulerTimesteps(n, 'trailing', N, 1)).toEqual(trailing);
      expect(ddimTimesteps(n, 'trailing', N, 1)).toEqual(trailing);
      expect(dpmSolverTimesteps(n, 'trailing', N, 1)).toEqual(trailing);
      const dpmLeading = Array.from({ length: n }, (_, i) => (n - i) * Math.floor(N / (n + 1)) + 1);
      expect(dpmSolverTimesteps(n, 'leading', N, 1)).toEqual(dpmLeading);
    }
    const ddim50 = ddimTimesteps(50, 'leading', N, 1);
    expect(ddim50.slice(0, 3)).toEqual([981, 961, 941]);
    expect(ddim50[49]).toBe(1);
    expect(eulerTimesteps(3, 'trailing', N, 0)).toEqual([999, 666, 332]);
    expect(eulerTimesteps(1, 'trailing', N, 0)).toEqual([999]);
  });
  it('DPM-Solver linspace takes n+1 rounded points (half to even) and drops the last', () => {
    for (const n of [...stepCounts, 7]) {
      const expected = Array.from({ length: n }, (_, i) => roundRationalHalfEven(999 * (n - i), n));
      expect(dpmSolverTimesteps(n, 'linspace', N, 0)).toEqual(expected);
      expect(ddimTimesteps(n, 'linspace', N, 0)).toEqual(
        n === 1 ? [0] : Array.from({ length: n }, (_, i) => roundRationalHalfEven(999 * (n - 1 - i), n - 1)),
      );
    }
    expect(dpmSolverTimesteps(4, 'linspace', N, 0)).toEqual([999, 749, 500, 250]); // 499.5 → 500
  });
  it('numpy rounding is half to even', () => {
    expect([0.5, 1.5, 2.5, -0.5, 499.5, 2.4999].map(roundHalfEven)).toEqual([0, 2, 2, -0, 500, 2]);
  });
  it('rejects an impossible step count', () => {
    expect(() => eulerTimesteps(0, 'linspace', N, 1)).toThrow(/integer in \[1, 1000\], got 0/);
    expect(() => ddimTimesteps(2.5, 'leading', N, 1)).toThrow(/got 2.5/);
    expect(() => eulerTimesteps(4, 'uniform' as TimestepSpacing, N, 1)).toThrow(/"uniform" is not one of linspace, leading, trailing/);
  });
});

describe('scheduler sigma tables', () => {
  it('Euler / Euler ancestral / DPM sigmas are σ at each timestep, then 0', () => {
    for (const name of ['EulerDiscrete', 'EulerAncestralDiscrete', 'DPMSolverMultistep'] as const) {
      for (const spacing of ['linspace', 'leading', 'trailing'] as const) {
        for (const n of [1, 4, 20, 50]) {
          const s = createScheduler(name, n, { timestepSpacing: spacing });
          expect(s.sigmas.length).toBe(n + 1);
          expect(s.sigmas[n]).toBe(0);
          expectSigmasClose(s.sigmas.slice(0, n), s.timesteps);
        }
      }
    }
  });
  it('SD 1.x Euler: σ_max 14.6146 and init sigma σ_max (linspace) or √(σ_max²+1) (leading)', () => {
    const e = createScheduler('EulerDiscrete', 20);
    expect(e.timesteps[0]).toBe(999);
    expect(e.sigmas[0]).toBeCloseTo(14.6146, 4);
    expect(e.sigmas.slice(1, 3).map((x) => +x.toFixed(3))).toEqual([10.747, 8.082]);
    expect(e.initNoiseSigma).toBe(e.sigmas[0]);
    expect(e.initNoiseSigma).toBeCloseTo(refSigmaAt(999), 4);
    const lead = createScheduler('EulerDiscrete', 20, { timestepSpacing: 'leading' });
    expect(lead.initNoiseSigma).toBeCloseTo(Math.sqrt(refSigma(lead.timesteps[0]) ** 2 + 1), 4);
    expect(createScheduler('DDIM', 20).initNoiseSigma).toBe(1);
    expect(createScheduler('DPMSolverMultistep', 20).initNoiseSigma).toBe(1);
  });
  it('SD-Turbo: 1 trailing step at timestep 999, σ = 14.6146', () => {
    const t = createScheduler('EulerDiscrete', 1, SD_TURBO_SCHEDULER_CONFIG);
    expect(t.timesteps).toEqual([999]);
    expect(t.sigmas[0]).toBeCloseTo(14.6146, 4);
    expect(t.sigmas[1]).toBe(0);
    expect(t.initNoiseSigma).toBe(t.sigmas[0]);
    expect(createScheduler('EulerDiscrete', 4, SD_TURBO_SCHEDULER_CONFIG).timesteps).toEqual([999, 749, 499, 249]);
  });
  it('DDIM sigmas are the equivalent σ of each timestep and of ᾱ_0 at the end', () => {
    const d = createScheduler('DDIM', 50);
    expect(d.timesteps.slice(0, 2)).toEqual([981, 961]);
    expectSigmasClose(d.sigmas, [...d.timesteps, 0]);
  });
});
