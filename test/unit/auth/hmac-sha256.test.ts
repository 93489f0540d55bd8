import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HmacSha256 } from '../../../firmware/src/auth/hmac-sha256.ts';

const reference = (key: Buffer, msg: Buffer): string => createHmac('sha256', key).update(msg).digest('hex');

describe('HMAC-SHA256 with precomputed key states', () => {
  it('matches node:crypto for keys and messages across the block and padding edges', () => {
    for (const keyLen of [0, 1, 16, 32, 63, 64, 65, 100]) {
      const key = randomBytes(keyLen);
      const h = new HmacSha256(key);
      for (const msgLen of [0, 1, 22, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200]) {
        const msg = randomBytes(msgLen);
        expect(h.mac(msg).toString('hex'), `key ${keyLen}, message ${msgLen}`).toBe(reference(key, msg));
      }
    }
  });

  it('hashes only the first `len` octets, and one key gives the same answer every time', () => {
    const key = randomBytes(32);
    const h = new HmacSha256(key);
    const msg = randomBytes(80);
    const first = h.mac(msg, 22).toString('hex');
    expect(first).toBe(reference(key, msg.subarray(0, 22)));
    h.mac(randomBytes(120));
    expect(h.mac(msg, 22).toString('hex')).toBe(first);
  });

  it('agrees with node:crypto on random keys and messages (property test)', () => {
    for (let i = 0; i < 300; i++) {
      const key = randomBytes(1 + (i % 90));
      const msg = randomBytes((i * 7) % 150);
      expect(new HmacSha256(key).mac(msg).toString('hex')).toBe(reference(key, msg));
    }
  });
});
