/**
 * Independent, deliberately naive float64 references for the erasure tests (written
 * differently from src/lib/erasure: arrays of arrays, textbook loops, Gauss–Jordan).
 */

/** Seeded PRNG (mulberry32) → uniform [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller). */
export function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export type Mat = number[][];

export function randMat(rows: number, cols: number, rand: () => number): Mat {
  const g = gaussian(rand);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => g()));
}

export function randVec(n: number, rand: () => number, scale = 1): Float64Array {
  const g = gaussian(rand);
  return Float64Array.from({ length: n }, () => scale * g());
}

export function eye(n: number, s = 1): Mat {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? s : 0)));
}

export function mul(a: Mat, b: Mat): Mat {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

export function tr(a: Mat): Mat {
  return a[0].map((_, j) => a.map((row) => row[j]));
}

export function add(a: Mat, b: Mat, sb = 1): Mat {
  return a.map((row, i) => row.map((v, j) => v + sb * b[i][j]));
}

export function outer(u: ArrayLike<number>, v: ArrayLike<number>, s = 1): Mat {
  return Array.from({ length: u.length }, (_, i) => Array.from({ length: v.length }, (_, j) => s * u[i] * v[j]));
}

/** Inverse by Gauss–Jordan elimination with full-row pivot search. */
export function gaussJordanInverse(a: Mat): Mat {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...eye(n)[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    const piv = m[c][c];
    for (let j = 0; j < 2 * n; j++) m[c][j] /= piv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c];
      for (let j = 0; j < 2 * n; j++) m[r][j] -= f * m[c][j];
    }
  }
  return m.map((row) => row.slice(n));
}

export function toFlat(a: Mat): Float64Array {
  return Float64Array.from(a.flat());
}

export function fromFlat(data: ArrayLike<number>, rows: number, cols: number): Mat {
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => data[i * cols + j]));
}

/** max |a − b| / max(1, max |b|). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let e = 0, s = 1;
  for (let i = 0; i < a.length; i++) { e = Math.max(e, Math.abs(a[i] - b[i])); s = Math.max(s, Math.abs(b[i])); }
  return e / s;
}

/** Random orthogonal matrix as a product of Householder reflections. */
export function randomOrthogonal(n: number, rand: () => number): Mat {
  let q = eye(n);
  for (let r = 0; r < n; r++) {
    const v = Array.from(randVec(n, rand));
    const vv = v.reduce((s, x) => s + x * x, 0);
    q = add(q, mul(q, outer(v, v, 2 / vv)), -1);
  }
  return q;
}

/** Textbook UCE M = A·B⁻¹ with A, B built from explicit outer-product sums (Gauss–Jordan inverse). */
export function textbookM(d: number, lambda: number, src: Float64Array[], tgt: Float64Array[], se: number, pres: Float64Array[], sp: number): Mat {
  let A = eye(d, lambda), B = eye(d, lambda);
  src.forEach((c, i) => { A = add(A, outer(tgt[i], c, se)); B = add(B, outer(c, c, se)); });
  pres.forEach((c) => { A = add(A, outer(c, c, sp)); B = add(B, outer(c, c, sp)); });
  return mul(A, gaussJordanInverse(B));
}

/** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations (independent of power iteration). */
export function jacobiEigenvalues(sym: Mat): number[] {
  const n = sym.length;
  const a = sym.map((r) => [...r]);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq; a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk; a[q][k] = s * apk + c * aqk;
        }
      }
    }
  }
  return a.map((r, i) => r[i]).sort((x, y) => x - y);
}

/** FNV-1a hash of a string → 32-bit seed. */
export function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}

export const TEST_WORD_IDS: Record<string, number> = { a: 320, an: 550 };

/** Ids like the CLIP tokenizer's (one token per word, lower-cased; BOS … EOS, then padding). */
export function fakeIds(text: string, padId = 49407): Int32Array {
  const words = text.trim().toLowerCase().split(/\s+/).filter((w) => w !== '');
  const ids = new Int32Array(77).fill(padId);
  ids[0] = 49406;
  const n = Math.min(words.length, 75);
  for (let i = 0; i < n; i++) ids[i + 1] = TEST_WORD_IDS[words[i]] ?? 1000 + (hash(words[i]) % 40000);
  ids[n + 1] = 49407;
  return ids;
}

/**
 * A deterministic stand-in text encoder: token t's hidden state depends only on ids[0..t]
 * (causal, like CLIP), so '' and ' ' encode identically and BOS is the same for every prompt.
 */
export function fakeEncoder(d: number, padId = 49407) {
  const calls: string[][] = [];
  const encode = async (texts: string[]) => {
    calls.push(texts);
    return texts.map((text) => {
      const ids = fakeIds(text, padId);
      const hidden = new Float32Array(77 * d);
      let h = 0x12345;
      for (let t = 0; t < 77; t++) {
        h = Math.imul(h ^ ids[t], 0x01000193) >>> 0;
        const r = rng(h ^ (t * 7919));
        const g = gaussian(r);
        for (let j = 0; j < d; j++) hidden[t * d + j] = g() / Math.sqrt(d) * 4;
      }
      return { text, ids, hidden, d };
    });
  };
  return { encode, calls };
}
