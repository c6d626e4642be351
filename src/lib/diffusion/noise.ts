/**
 * Seeded Gaussian noise, reproducing PyTorch's CPU generator so that a seed typed here gives the
 * starting latents diffusers gets from `torch.Generator("cpu").manual_seed(seed)` (to float32
 * rounding; torch's own AVX2 and scalar paths differ by an ulp).
 *
 * Algorithm (torch's `normal_fill` for float32 tensors of ≥ 16 values):
 *  1. MT19937 seeded with the 32-bit seed (Matsumoto & Nishimura's init_genrand).
 *  2. Fill every value with a uniform u = (next32() & 0xFFFFFF) / 2^24 ∈ [0, 1).
 *  3. For each block of 16: for j < 8, u1 = 1 − u[j], u2 = u[j+8]  (Box–Muller, float32)
 *       r = √(−2·ln u1), θ = 2π·u2, out[j] = r·cos θ, out[j+8] = r·sin θ.
 *  4. If the count is not a multiple of 16, the last 16 values are redrawn (16 new uniforms)
 *     and transformed again, overlapping the previous block.
 * Successive `randn` calls on one generator continue the stream, as a torch generator does.
 *
 * Same seed → same numbers on every platform: MT19937 is integer arithmetic, and ln, cos and sin
 * are computed here from +, −, ×, ÷ only (series below, ~1e-16 relative error) instead of the
 * engine's Math.log/cos/sin, whose last bits the JavaScript standard leaves to each engine.
 */

const TWO_POW_24 = 16777216;
const LN2 = 0.6931471805599453;
const PI_OVER_2_HI = 1.5707963267341256; // π/2 to 33 bits: k·PI_OVER_2_HI is exact for small k
const PI_OVER_2_LO = 6.077100506506192e-11; // π/2 − PI_OVER_2_HI
const TWO_PI = 6.283185307179586;

/** The 32-bit Mersenne Twister (MT19937), as std::mt19937 and torch's CPU generator. */
export class Mt19937 {
  private readonly state = new Uint32Array(624);
  private index = 624;

  /** @param seed integer in [0, 2^32) */
  constructor(seed: number) {
    this.state[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = this.state[i - 1] ^ (this.state[i - 1] >>> 30);
      this.state[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  /** Next 32-bit output, as an unsigned integer. */
  nextUint32(): number {
    if (this.index >= 624) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const mt = this.state;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
      mt[i] = mt[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }
}

/** ln x for x > 0 (finite), from the atanh series of the mantissa; ~1e-16 relative error. */
export function portableLog(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) throw new Error(`portableLog needs a finite x > 0, got ${x}`);
  let e = 0;
  let m = x;
  while (m >= 2) { m /= 2; e++; } // exact: powers of two
  while (m < 1) { m *= 2; e--; }
  if (m > Math.SQRT2) { m /= 2; e++; }
  // ln m = 2·atanh(s), s = (m−1)/(m+1), |s| ≤ 0.1716: Σ s^(2k+1)/(2k+1), 12 terms.
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let series = 0;
  for (let k = 12; k >= 0; k--) series = 1 / (2 * k + 1) + s2 * series;
  return e * LN2 + 2 * s * series;
}

const FACTORIALS = (() => {
  const f = [1];
  for (let i = 1; i <= 20; i++) f.push(f[i - 1] * i);
  return f;
})();

function factorial(n: number): number {
  return FACTORIALS[n];
}

/**
 * [sin θ, cos θ] for 0 ≤ θ < 8 using only +, −, ×, ÷ (quadrant reduction with a two-part π/2).
 * @returns [sin θ, cos θ], ~1e-16 absolute error
 */
export function portableSinCos(theta: number): [number, number] {
  if (!(theta >= 0 && theta < 8)) throw new Error(`portableSinCos needs 0 ≤ θ < 8, got ${theta}`);
  const k = Math.round(theta / (PI_OVER_2_HI + PI_OVER_2_LO));
  const r = theta - k * PI_OVER_2_HI - k * PI_OVER_2_LO;
  const [s, c] = taylorSinCos(r);
  switch (k % 4) {
    case 0: return [s, c];
    case 1: return [c, -s];
    case 2: return [-s, -c];
    default: return [-c, s];
  }
}

/** Taylor series of sin and cos for |r| ≤ π/4 (Horner form, 9 terms each). */
function taylorSinCos(r: number): [number, number] {
  const r2 = r * r;
  let sin = 0;
  let cos = 0;
  for (let k = 8; k >= 0; k--) {
    const sign = k % 2 === 0 ? 1 : -1;
    sin = sin * r2 + sign / factorial(2 * k + 1);
    cos = cos * r2 + sign / factorial(2 * k);
  }
  return [sin * r, cos];
}


/** Throws unless `seed` is an integer a torch generator would take unchanged: 0 ≤ seed < 2^32. */
export function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new Error(`seed must be a whole number from 0 to 4294967295, got ${seed}`);
  }
}

/** Number of values of a tensor shape; throws on a non-positive or fractional dimension. */
export function shapeSize(shape: readonly number[]): number {
  if (!Array.isArray(shape) || shape.length === 0) throw new Error('shape must be a non-empty array of dimensions, e.g. [1, 4, 64, 64]');
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1) throw new Error(`shape [${shape.join(', ')}] has an invalid dimension ${d}; every dimension must be a positive integer`);
    n *= d;
  }
  return n;
}

/**
 * A seeded source of float32 Gaussian noise equal to torch's CPU generator (see file comment).
 * Keep one per image: the pipeline draws the initial latents, then (ancestral samplers) one
 * tensor per step, all from the same stream, as diffusers does with `generator=`.
 */
export class TorchCpuGenerator {
  /** The seed this generator started from. */
  readonly seed: number;
  private readonly engine: Mt19937;

  /** @param seed integer in [0, 2^32) */
  constructor(seed: number) {
    checkSeed(seed);
    this.seed = seed;
    this.engine = new Mt19937(seed);
  }

  /** One float32 uniform in [0, 1): 24 random bits / 2^24 (torch's uniform_real_distribution<float>). */
  nextUniform(): number {
    return (this.engine.nextUint32() & 0xffffff) / TWO_POW_24;
  }

  /**
   * Standard normal samples, torch.randn(shape, generator) on CPU in float32.
   * @param shape tensor shape with at least 16 values in total (torch uses another algorithm below 16)
   * @returns Float32Array [prod(shape)], row-major
   */
  randn(shape: readonly number[]): Float32Array {
    const n = shapeSize(shape);
    if (n < 16) throw new Error(`randn needs at least 16 values (torch's float32 fill works in blocks of 16); shape [${shape.join(', ')}] has ${n}`);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.nextUniform();
    for (let i = 0; i + 16 <= n; i += 16) boxMuller16(out, i);
    if (n % 16 !== 0) {
      const start = n - 16;
      for (let i = start; i < n; i++) out[i] = this.nextUniform();
      boxMuller16(out, start);
    }
    return out;
  }
}

/** Box–Muller over one block of 16 uniforms in place (float32 steps as torch's normal_fill_16). */
function boxMuller16(data: Float32Array, offset: number): void {
  const f32 = Math.fround;
  for (let j = 0; j < 8; j++) {
    const u1 = 1 - data[offset + j]; // [0, 1) → (0, 1] for the log; exact in float32
    const u2 = data[offset + j + 8];
    const radius = f32(Math.sqrt(f32(-2 * f32(portableLog(u1)))));
    const theta = f32(TWO_PI * u2);
    const [sin, cos] = portableSinCos(theta);
    data[offset + j] = radius * f32(cos);
    data[offset + j + 8] = radius * f32(sin);
  }
}

/**
 * Standard normal noise from a fresh generator: same as `new TorchCpuGenerator(seed).randn(shape)`.
 * @param seed integer in [0, 2^32)
 * @param shape e.g. [1, 4, 64, 64]
 * @returns Float32Array [prod(shape)]
 */
export function randn(seed: number, shape: readonly number[]): Float32Array {
  return new TorchCpuGenerator(seed).randn(shape);
}
