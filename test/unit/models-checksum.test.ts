import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { isSha256Hex, Sha256, sha256OfBlob } from '../../src/lib/models/checksum.ts';

/** The independent computation: Node's OpenSSL SHA-256. */
const nodeSha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('incremental SHA-256', () => {
  it('matches the FIPS 180-2 examples', () => {
    const enc = new TextEncoder();
    expect(new Sha256().update(enc.encode('abc')).digestHex()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(new Sha256().digestHex()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(new Sha256().update(enc.encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).digestHex()).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('matches Node crypto at every padding boundary and for any split of the input', () => {
    const sizes = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 121, 127, 128, 129, 1000, 4096 + 7, 1 << 20];
    for (const n of sizes) {
      const data = new Uint8Array(randomBytes(n));
      expect(new Sha256().update(data).digestHex(), `size ${n}`).toBe(nodeSha(data));
      // Same bytes in random pieces (1..200 bytes): block-boundary bookkeeping must not matter.
      const h = new Sha256();
      for (let i = 0; i < n; ) {
        const k = Math.min(n - i, 1 + Math.floor(Math.random() * 200));
        h.update(data.subarray(i, i + k));
        i += k;
      }
      expect(h.digestHex(), `size ${n} in pieces`).toBe(nodeSha(data));
    }
  });

  it('continues from a saved state (as after a resumed download) with the same digest', () => {
    const data = new Uint8Array(randomBytes(300_000));
    for (const cut of [0, 1, 63, 64, 65, 123_457, 300_000]) {
      const first = new Sha256().update(data.subarray(0, cut));
      // structuredClone is what IndexedDB does to the state.
      const saved = structuredClone(first.state());
      expect(saved.length).toBe(cut);
      expect(saved.tail.length).toBe(cut % 64);
      const resumed = new Sha256(saved).update(data.subarray(cut));
      expect(resumed.digestHex(), `cut at ${cut}`).toBe(nodeSha(data));
    }
  });

  it('refuses an inconsistent saved state and a second digest, with a message', () => {
    expect(() => new Sha256({ h: [1, 2, 3], tail: new Uint8Array(0), length: 0 })).toThrow(/inconsistent.*hash from the start/);
    expect(() => new Sha256({ h: new Array(8).fill(0), tail: new Uint8Array(3), length: 64 })).toThrow(/inconsistent/);
    const h = new Sha256();
    h.digestHex();
    expect(() => h.digestHex()).toThrow(/twice/);
    expect(() => h.update(new Uint8Array(1))).toThrow(/after digest/);
  });

  it('hashes a Blob in windows', async () => {
    const data = new Uint8Array(randomBytes(100_003));
    expect(await sha256OfBlob(new Blob([data]), 4096)).toBe(nodeSha(data));
    expect(await sha256OfBlob(new Blob([]))).toBe(nodeSha(new Uint8Array(0)));
  });

  it('recognises hex digests', () => {
    expect(isSha256Hex(nodeSha(new Uint8Array(1)))).toBe(true);
    expect(isSha256Hex('abc')).toBe(false);
    expect(isSha256Hex('g'.repeat(64))).toBe(false);
    expect(isSha256Hex(undefined)).toBe(false);
  });
});
