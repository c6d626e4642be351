import { describe, it, expect } from 'vitest';
import { Mt19937, TorchCpuGenerator, randn, portableLog, portableSinCos } from '../../src/lib/diffusion/index.ts';

describe('MT19937', () => {
  it('gives the value the C++ standard requires: the 10000th output of seed 5489 is 4123659995', () => {
    const mt = new Mt19937(5489);
    let v = 0;
    for (let i = 0; i < 10000; i++) v = mt.nextUint32();
    expect(v).toBe(4123659995);
  });
});

describe('TorchCpuGenerator', () => {
  it('matches torch on CPU: manual_seed(0) then rand(3) and randn(4, 4) (values printed by PyTorch)', () => {
    const g = new TorchCpuGenerator(0);
    expect([g.nextUniform(), g.nextUniform(), g.nextUniform()].map((u) => +u.toFixed(4))).toEqual([0.4963, 0.7682, 0.0885]);
    const torchRandn4x4 = [
      -1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.692, -0.316, -2.1152,
      0.3223, -1.2633, 0.35, 0.3081, 0.1198, 1.2377, 1.1168, -0.2473,
    ];
    expect(Array.from(randn(0, [4, 4])).map((x) => +x.toFixed(4))).toEqual(torchRandn4x4);
  });

  it('is deterministic, differs across seeds, and continues its stream across calls', () => {
    const shape = [1, 4, 8, 8];
    const a = randn(42, shape);
    expect(randn(42, shape)).toEqual(a);
    const b = randn(43, shape);
    let same = 0;
    for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
    expect(same).toBe(0);
    const g = new TorchCpuGenerator(42);
    expect(g.randn(shape)).toEqual(a);
    const next = g.randn(shape);
    expect(next).not.toEqual(a);
    // the second call starts after the 256 uniforms of the first
    const h = new TorchCpuGenerator(42);
    for (let i = 0; i < 256; i++) h.nextUniform();
    expect(h.randn(shape)).toEqual(next);
  });

  it('redraws the last 16 values when the size is not a multiple of 16 (torch normal_fill)', () => {
    const out = randn(7, [20]);
    expect(out.subarray(0, 4)).toEqual(randn(7, [16]).subarray(0, 4));
    const g = new TorchCpuGenerator(7);
    for (let i = 0; i < 20; i++) g.nextUniform();
    expect(out.subarray(4)).toEqual(g.randn([16]));
  });

  it('has mean ≈ 0, variance ≈ 1 and the normal 68% within one σ over 1e5 samples', () => {
    const x = randn(1234, [100000]);
    let sum = 0;
    let sumSq = 0;
    let within = 0;
    for (const v of x) { sum += v; sumSq += v * v; if (Math.abs(v) < 1) within++; }
    const mean = sum / x.length;
    const variance = sumSq / x.length - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(0.015); // 4.7 standard errors
    expect(Math.abs(variance - 1)).toBeLessThan(0.02); // 4.5 standard errors
    expect(Math.abs(within / x.length - 0.6827)).toBeLessThan(0.006);
    expect(x.every(Number.isFinite)).toBe(true);
  });

  it('rejects seeds and shapes it cannot honour', () => {
    expect(() => randn(-1, [16])).toThrow(/seed must be a whole number from 0 to 4294967295, got -1/);
    expect(() => randn(1.5, [16])).toThrow(/got 1.5/);
    expect(() => randn(2 ** 32, [16])).toThrow(/seed must be/);
    expect(() => randn(1, [3, 4])).toThrow(/at least 16 values .* has 12/);
    expect(() => randn(1, [4, 0])).toThrow(/invalid dimension 0/);
  });
});

describe('portable transcendental functions', () => {
  it('ln matches Math.log to ~1e-15 relative over (0, 1] and beyond', () => {
    for (let i = 1; i <= 2000; i++) {
      const x = i === 2000 ? 1 : (i / 2000) ** 3 * 5;
      const ref = Math.log(x);
      expect(Math.abs(portableLog(x) - ref)).toBeLessThanOrEqual(1e-15 * Math.max(1, Math.abs(ref)));
    }
    expect(portableLog(1)).toBe(0);
    expect(portableLog(2 ** -24)).toBeCloseTo(-24 * Math.LN2, 14);
  });
  it('sin and cos match Math.sin/cos to 1e-15 on [0, 2π]', () => {
    for (let i = 0; i <= 4000; i++) {
      const t = (i / 4000) * 2 * Math.PI;
      const [s, c] = portableSinCos(t);
      expect(Math.abs(s - Math.sin(t))).toBeLessThan(1e-15);
      expect(Math.abs(c - Math.cos(t))).toBeLessThan(1e-15);
    }
  });
});
