import { describe, expect, it } from 'vitest';
import { eraseUce } from '../../src/lib/erasure/uce.ts';
import { editTime } from '../../src/lib/erasure/time.ts';
import { adversarialEmbeddings, eraseRece, RECE_PRESETS } from '../../src/lib/erasure/rece.ts';
import { eraseAllAtOnce, eraseProgressive } from '../../src/lib/erasure/progressive.ts';
import { composeContextMaps, denseMatrix, identityMap, mapVector } from '../../src/lib/erasure/context-map.ts';
import {
  add, eye, fakeEncoder, fromFlat, gaussJordanInverse, mul, randMat, relErr, rng, textbookM, toFlat, tr,
} from './erasure-helpers.ts';

const d = 16;
const wordCount = (t: string) => t.trim().split(/\s+/).filter((w) => w).length;
async function hiddenOf(text: string): Promise<Float32Array> {
  return (await fakeEncoder(d).encode([text]))[0].hidden;
}
const row = (h: Float32Array, t: number) => Float64Array.from(h.subarray(t * d, (t + 1) * d));

describe('UCE', () => {
  it('2025 tokens: M equals the textbook formula on last-word vectors (target "" → BOS)', async () => {
    const { encode, calls } = fakeEncoder(d);
    const erase = ['red car', 'truck'], preserve = ['bicycle', 'green bus'];
    const { map, diagnostics } = await eraseUce({ erase, preserve }, encode);
    expect(calls.length).toBe(1); // all prompts in one encoder call
    const src = await Promise.all(erase.map(async (t) => row(await hiddenOf(t), wordCount(t))));
    const tgt = row(await hiddenOf(''), 0);
    const pres = await Promise.all(preserve.map(async (t) => row(await hiddenOf(t), wordCount(t))));
    const ref = textbookM(d, 0.5, src, src.map(() => tgt), 1, pres, 1);
    expect(relErr(denseMatrix(map), toFlat(ref))).toBeLessThan(1e-9);
    expect(diagnostics.rank).toBe(2);
    expect(diagnostics.erased.map((e) => [e.prompt, e.token])).toEqual([['red car', 2], ['truck', 1]]);
    expect(map.provenance.method).toBe('uce');
  });

  it('2023 tokens: aligned last-word+EOS+padding slices, "" preserved with 77 tokens, scale max(0.1, 1/|retain|)', async () => {
    const { encode } = fakeEncoder(d);
    const { map } = await eraseUce({ erase: ['van gogh'], target: 'art', preserve: ['monet'], tokens: '2023' }, encode);
    const hs = await hiddenOf('van gogh'), ht = await hiddenOf('art');
    const fs = 2, ft = 1, far = 2;
    const src: Float64Array[] = [], tgt: Float64Array[] = [];
    for (let i = 0; i < 77 - far; i++) { src.push(row(hs, fs + i)); tgt.push(row(ht, ft + i)); }
    const pres: Float64Array[] = [];
    for (const p of ['', 'monet']) { const h = await hiddenOf(p); for (let t = 0; t < 77; t++) pres.push(row(h, t)); }
    const ref = textbookM(d, 0.5, src, tgt, 1, pres, 0.5);
    expect(relErr(denseMatrix(map), toFlat(ref))).toBeLessThan(1e-8);
  });

  it('expandPrompts adds the five templates per concept, all guided to the target', async () => {
    const { encode, calls } = fakeEncoder(d);
    const { diagnostics } = await eraseUce({ erase: ['Van Gogh'], conceptType: 'art', expandPrompts: true }, encode);
    expect(diagnostics.erased.map((e) => e.prompt)).toEqual(['Van Gogh', 'painting by Van Gogh', 'art by Van Gogh', 'artwork by Van Gogh', 'picture by Van Gogh', 'style of Van Gogh']);
    expect(calls[0]).toContain('art'); // artists default to the 'art' target
  });

  it('small λ sends erased vectors to the target and keeps preserved ones', async () => {
    const { encode } = fakeEncoder(d);
    const { diagnostics } = await eraseUce({ erase: ['cat'], preserve: ['dog'], lambda: 1e-7 }, encode);
    expect(diagnostics.erased[0].remainingDistance).toBeLessThan(1e-4);
    expect(diagnostics.preserved[0].relativeChange).toBeLessThan(1e-4);
  });

  it('bad inputs give clear errors', async () => {
    const { encode } = fakeEncoder(d);
    await expect(eraseUce({ erase: [] }, encode)).rejects.toThrow(/erase list is empty/);
    await expect(eraseUce({ erase: ['cat', ' Cat'] }, encode)).rejects.toThrow(/duplicate concept: "cat" and " Cat"/);
    await expect(eraseUce({ erase: ['  '] }, encode)).rejects.toThrow(/erase list contains an empty concept/);
    await expect(eraseUce({ erase: ['art'], target: 'art' }, encode)).rejects.toThrow(/"art" is the same as its target "art"/);
    await expect(eraseUce({ erase: ['cat'], preserve: ['CAT'] }, encode)).rejects.toThrow(/preserve set contains the erased concept "CAT"/);
    await expect(eraseUce({ erase: ['cat'], lambda: 0 }, encode)).rejects.toThrow(/lambda must be a finite number > 0, got 0/);
    await expect(eraseUce({ erase: ['cat'], lambda: -0.5 }, encode)).rejects.toThrow(/lambda must be a finite number > 0/);
    const mixed = async (texts: string[]) => { const r = await encode(texts); r[1] = (await fakeEncoder(8).encode([texts[1]]))[0]; return r; };
    await expect(eraseUce({ erase: ['cat'] }, mixed)).rejects.toThrow(/embedding width 8 does not match 16/);
    const nan = async (texts: string[]) => { const r = await encode(texts); r[0].hidden[3] = NaN; return r; };
    await expect(eraseUce({ erase: ['cat'] }, nan)).rejects.toThrow(/non-finite value \(NaN\) at token 0/);
    const noEos = async (texts: string[]) => { const r = await encode(texts); r[0].ids.fill(5, 1); return r; };
    await expect(eraseUce({ erase: ['cat'] }, noEos)).rejects.toThrow(/no EOS 49407/);
    const noBos = async (texts: string[]) => { const r = await encode(texts); r[0].ids[0] = 1; return r; };
    await expect(eraseUce({ erase: ['cat'] }, noBos)).rejects.toThrow(/must start with BOS 49406/);
  });
});

describe('TIME', () => {
  it('all 77 source tokens mapped to aligned destination tokens, λ = 0.1', async () => {
    const { encode } = fakeEncoder(d);
    const { map } = await editTime({ source: 'a pack of roses', destination: 'a pack of blue roses' }, encode);
    const hs = await hiddenOf('a pack of roses'), hd = await hiddenOf('a pack of blue roses');
    const idx = [0, 1, 2, 3, 5, 6, ...Array.from({ length: 70 }, (_, i) => 7 + i), 76];
    const ref = textbookM(d, 0.1, idx.map((_, t) => row(hs, t)), idx.map((j) => row(hd, j)), 1, [], 0);
    expect(relErr(denseMatrix(map), toFlat(ref))).toBeLessThan(1e-8);
  });
  it('augment edits the three prefixed prompts too; errors are clear', async () => {
    const { encode, calls } = fakeEncoder(d);
    const { diagnostics } = await editTime({ source: 'A pack of roses', destination: 'A pack of blue roses', augment: true }, encode);
    expect(new Set(diagnostics.erased.map((e) => e.prompt))).toEqual(new Set(['A pack of roses', 'A photo of a pack of roses', 'An image of a pack of roses', 'A picture of a pack of roses']));
    expect(calls[0]).toContain('An image of a pack of blue roses');
    await expect(editTime({ source: 'roses', destination: 'roses' }, encode)).rejects.toThrow(/same prompt/);
    await expect(editTime({ source: '', destination: 'x' }, encode)).rejects.toThrow(/source prompt is empty/);
    await expect(editTime({ source: 'red roses', destination: 'blue tulips' }, encode)).rejects.toThrow(/has no match in the destination/);
    await expect(editTime({ source: 'a', destination: 'a b', lambda: 0 }, encode)).rejects.toThrow(/lambda must be a finite number > 0/);
  });
});

describe('RECE', () => {
  const r = rng(3);
  const Ws = [randMat(12, d, r), randMat(20, d, r)];
  const G = Ws.reduce((acc, W) => add(acc, mul(tr(W), W)), eye(d, 0));
  it('adversarial embedding = (AᵀGA + λI)⁻¹AᵀG c (naive per-layer sums with W′ = W·A)', async () => {
    const { encode } = fakeEncoder(d);
    const base = (await eraseUce({ erase: ['nudity'] }, encode)).map;
    const A = fromFlat(denseMatrix(base), d, d);
    const c = Float64Array.from({ length: d }, (_, i) => Math.sin(i + 1));
    // Σ W′ᵀW′ + λI and Σ W′ᵀW with W′ = W·A, summed layer by layer.
    let lhs = eye(d, 0.1), rhsM = eye(d, 0);
    for (const W of Ws) { const Wp = mul(W, A); lhs = add(lhs, mul(tr(Wp), Wp)); rhsM = add(rhsM, mul(tr(Wp), W)); }
    const ref = mul(gaussJordanInverse(lhs), tr([Array.from(c)])).map((x) => x[0]);
    const [got] = adversarialEmbeddings(base, toFlat(G), 0.1, [c]);
    const refFull = mul(mul(gaussJordanInverse(lhs), rhsM), tr([Array.from(c)])).map((x) => x[0]);
    expect(relErr(got, refFull)).toBeLessThan(1e-8);
    expect(relErr(got, ref)).toBeGreaterThan(1e-3); // the AᵀG factor matters
  });
  it('each round is a UCE edit of c_adv → target tokens composed on the base map', async () => {
    const { encode } = fakeEncoder(d);
    const base = (await eraseUce({ erase: ['nudity'] }, encode)).map;
    const res = await eraseRece({ ...RECE_PRESETS.nudity, base, gram: toFlat(G), concepts: ['nudity'], rounds: 2, lambda: 0.1 }, encode);
    expect(res.rounds.length).toBe(2);
    const ht = await hiddenOf(' '), hp = await hiddenOf('');
    const targets = Array.from({ length: 77 }, (_, t) => row(ht, t));
    const pres = Array.from({ length: 77 }, (_, t) => row(hp, t));
    let acc = base;
    for (const round of res.rounds) {
      const ref = textbookM(d, 0.1, round.adversarial, targets, 1, pres, 0.1);
      expect(relErr(denseMatrix(round.map), toFlat(ref))).toBeLessThan(1e-7);
      acc = composeContextMaps(acc, round.map);
    }
    expect(relErr(denseMatrix(res.map), denseMatrix(acc))).toBeLessThan(1e-12);
    expect(res.map.provenance.method).toBe('rece');
    await expect(eraseRece({ base, gram: new Float64Array(3), concepts: ['nudity'], regularization: 0.1 }, encode)).rejects.toThrow(/gram has 3 values, expected d×d = 256/);
    await expect(eraseRece({ base, gram: toFlat(G), concepts: ['nudity'], regularization: 0 }, encode)).rejects.toThrow(/RECE regularization must be a finite number > 0/);
    await expect(eraseRece({ base, gram: toFlat(G), concepts: ['nudity'], regularization: 0.1, rounds: 0 }, encode)).rejects.toThrow(/rounds must be an integer 1–10/);
  });
});

describe('progressive erasure', () => {
  it('composes one UCE per group in order and differs from all-at-once', async () => {
    const { encode } = fakeEncoder(d);
    const steps = [['car'], ['red car', 'blue car']];
    const prog = await eraseProgressive({ steps, preserve: ['bus'] }, encode);
    const a = await eraseUce({ erase: ['car'], preserve: ['bus'] }, encode);
    const b = await eraseUce({ erase: ['red car', 'blue car'], preserve: ['bus'] }, encode);
    expect(relErr(denseMatrix(prog.map), denseMatrix(composeContextMaps(a.map, b.map)))).toBeLessThan(1e-12);
    expect(prog.diagnostics.erased.length).toBe(3);
    const once = await eraseAllAtOnce({ steps, preserve: ['bus'] }, encode);
    expect(relErr(denseMatrix(once.map), denseMatrix(prog.map))).toBeGreaterThan(1e-4);
    // Diagnostics of the composed map are its real action on the vectors.
    const car = prog.edit.sources[0];
    const moved = mapVector(prog.map, car);
    const dist = Math.hypot(...moved.map((v, j) => v - prog.edit.targets[0][j])) / Math.hypot(...car.map((v, j) => v - prog.edit.targets[0][j]));
    expect(prog.diagnostics.erased[0].remainingDistance).toBeCloseTo(dist, 12);
    await expect(eraseProgressive({ steps: [] }, encode)).rejects.toThrow(/steps is empty/);
    await expect(eraseProgressive({ steps: [['car'], ['Car']] }, encode)).rejects.toThrow(/all groups together\) contains a duplicate/);
    expect(identityMap(d).kind).toBe('identity');
  });
});
