/** Input checks shared by the erasure methods: every bad input is a clear Error naming it. */
import { encodeChecked, type EncodedPrompt, type EncodePrompts } from './tokens.ts';

const key = (s: string) => s.trim().toLowerCase();

/**
 * Check a concept list: non-empty (unless allowEmpty), every entry a string, non-blank (unless
 * allowBlank, for retain lists holding the empty prompt), no duplicates (case-insensitive).
 */
export function checkConceptList(list: unknown, what: string, allowEmpty = false, allowBlank = false): string[] {
  if (!Array.isArray(list)) throw new Error(`${what} must be an array of strings`);
  if (list.length === 0 && !allowEmpty) throw new Error(`${what} is empty: give at least one concept`);
  const seen = new Map<string, string>();
  for (const c of list) {
    if (typeof c !== 'string') throw new Error(`${what} contains a non-string entry (${JSON.stringify(c)})`);
    if (c.trim() === '' && !allowBlank) throw new Error(`${what} contains an empty concept; remove it`);
    const prev = seen.get(key(c));
    if (prev !== undefined) throw new Error(`${what} contains a duplicate concept: ${JSON.stringify(prev)} and ${JSON.stringify(c)}`);
    seen.set(key(c), c);
  }
  return list as string[];
}

/** Throw if an erased concept equals its target (the edit would be a no-op). */
export function checkNotTarget(erase: string[], target: string): void {
  for (const c of erase) {
    if (key(c) === key(target)) throw new Error(`concept ${JSON.stringify(c)} is the same as its target ${JSON.stringify(target)}; choose a different target`);
  }
}

/** Throw if the preserve set contains an erased concept (the two terms would fight). */
export function checkPreserveDisjoint(erase: string[], preserve: string[]): void {
  const erased = new Set(erase.map(key));
  for (const p of preserve) {
    if (erased.has(key(p))) throw new Error(`preserve set contains the erased concept ${JSON.stringify(p)}; remove it from one of the lists`);
  }
}

/** λ must be a finite positive number. */
export function checkLambda(lambda: number, name = 'lambda'): void {
  if (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda <= 0) {
    throw new Error(`${name} must be a finite number > 0, got ${lambda}`);
  }
}

/** Encode the unique texts once (one callback call) and return them keyed by text. */
export async function encodeUnique(encode: EncodePrompts, texts: string[], d?: number): Promise<Map<string, EncodedPrompt>> {
  const unique = [...new Set(texts)];
  const encoded = await encodeChecked(encode, unique, d);
  return new Map(unique.map((t, i) => [t, encoded[i]]));
}
