import { afterEach, describe, expect, it } from 'vitest';
import { withModelLock } from '../../src/lib/models/locks.ts';

const g = globalThis as { navigator?: unknown };
const original = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
afterEach(() => {
  if (original) Object.defineProperty(globalThis, 'navigator', original);
  else delete g.navigator;
});
/** A navigator whose Web Locks behave like `request`. */
const withLocks = (request: (name: string, options: object, fn: () => Promise<unknown>) => Promise<unknown>) =>
  Object.defineProperty(globalThis, 'navigator', { value: { locks: { request } }, configurable: true });
const denied = () => new DOMException('The request was denied.', 'SecurityError');

describe('withModelLock', () => {
  it('runs under the model\'s lock, in the asked mode', async () => {
    const seen: unknown[] = [];
    withLocks(async (name, options, fn) => {
      seen.push(name, options);
      return fn();
    });
    expect(await withModelLock('tiny', 'shared', async () => 42)).toBe(42);
    expect(seen).toEqual(['erasure-lab:model:tiny', { mode: 'shared' }]);
  });

  it('runs unlocked, once, where the browser denies locks (a cross-site embed)', async () => {
    withLocks(() => Promise.reject(denied()));
    let runs = 0;
    expect(await withModelLock('tiny', 'exclusive', async () => ++runs)).toBe(1);
    expect(runs).toBe(1);
  });

  it('does not run the work again when the work itself is refused', async () => {
    withLocks(async (_n, _o, fn) => fn());
    let runs = 0;
    await expect(withModelLock('tiny', 'exclusive', async () => {
      runs++;
      throw denied();
    })).rejects.toThrow(/denied/);
    expect(runs).toBe(1);
  });

  it('passes other failures of the lock on', async () => {
    withLocks(() => Promise.reject(new DOMException('aborted', 'AbortError')));
    await expect(withModelLock('tiny', 'exclusive', async () => 1)).rejects.toThrow(/aborted/);
  });
});
