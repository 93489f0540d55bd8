import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MAX_LENGTH,
  MIN_LENGTH,
  SALT_BYTES,
  derivePasscodeKey,
  generatePasscode,
  hashPasscode,
  newSalt,
  normaliseInput,
  verifyPasscode,
} from '../../../firmware/src/auth/passcode.ts';
import { cryptoRandom } from '../../../firmware/src/clock.ts';
import { SeededRandom, codeBytes } from './doubles.ts';

const key = Buffer.alloc(32, 9);

describe('generatePasscode', () => {
  it('gives N digits, leading zeros kept, for every allowed length', () => {
    for (let n = MIN_LENGTH; n <= MAX_LENGTH; n++) {
      const code = generatePasscode(cryptoRandom, n);
      expect(code).toMatch(new RegExp(`^\\d{${n}}$`));
    }
    const r = new SeededRandom();
    r.scripted.push(codeBytes(42));
    expect(generatePasscode(r, 6)).toBe('000042');
  });

  it('rejects draws in the biased tail instead of folding them (no modulo bias)', () => {
    const r = new SeededRandom();
    // 2^48 − 1 is above the largest multiple of 10^6 below 2^48: it must be thrown away.
    r.scripted.push(Buffer.alloc(6, 0xff), codeBytes(123456));
    expect(generatePasscode(r, 6)).toBe('123456');
    expect(r.scripted).toHaveLength(0);
    // The largest accepted draw maps to 999999.
    const limit = 2 ** 48 - (2 ** 48 % 10 ** 6);
    r.scripted.push(codeBytes(limit - 1));
    expect(generatePasscode(r, 6)).toBe('999999');
    r.scripted.push(codeBytes(limit), codeBytes(7));
    expect(generatePasscode(r, 6)).toBe('000007');
  });

  it('refuses lengths outside 4–10', () => {
    for (const n of [3, 11, 5.5, Number.NaN])
      expect(() => generatePasscode(cryptoRandom, n)).toThrow(RangeError);
  });

  it('spreads digits evenly in every position (chi-square, 60 000 codes)', () => {
    const r = new SeededRandom('distribution');
    const counts = Array.from({ length: 6 }, () => new Array<number>(10).fill(0));
    const N = 60_000;
    for (let i = 0; i < N; i++) {
      const code = generatePasscode(r, 6);
      for (let p = 0; p < 6; p++) counts[p]![Number(code[p])]!++;
    }
    const expected = N / 10;
    for (const pos of counts) {
      const chi = pos.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
      // df = 9: 27.9 is the 0.1 % critical value.
      expect(chi).toBeLessThan(27.9);
    }
  });
});

describe('hash and verify', () => {
  const salt = newSalt(new SeededRandom('salt'));
  const stored = { hash: hashPasscode('012345', salt, key), salt: salt.toString('hex') };

  it('salts are 16 random bytes and the hash is HMAC-SHA256 sized', () => {
    expect(salt).toHaveLength(SALT_BYTES);
    expect(stored.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.hash).not.toContain('012345');
  });

  it('stores plain HMAC-SHA256(key, salt || code), so hashes an older release wrote still verify', () => {
    const standard = createHmac('sha256', key).update(salt).update('012345', 'utf8').digest('hex');
    expect(stored.hash).toBe(standard);
    for (const code of ['0000', '9876543210']) {
      const s = newSalt(new SeededRandom(code));
      const h = createHmac('sha256', key).update(s).update(code, 'utf8').digest('hex');
      expect(hashPasscode(code, s, key)).toBe(h);
      expect(verifyPasscode(code, { hash: h, salt: s.toString('hex') }, key)).toBe(true);
    }
  });

  it('accepts the right code, also with spaces around or inside', () => {
    expect(verifyPasscode('012345', stored, key)).toBe(true);
    expect(verifyPasscode(' 012 345\t', stored, key)).toBe(true);
  });

  it('refuses wrong, partial, longer, empty and non-digit input', () => {
    for (const bad of [
      '012346',
      '12345',
      '0123456',
      '',
      '   ',
      '01234a',
      '０１２３４５',
      '012345\u0000',
      '-12345',
    ]) {
      expect(verifyPasscode(bad, stored, key)).toBe(false);
    }
  });

  it('is bound to the salt and the device key', () => {
    const otherSalt = newSalt(new SeededRandom('other'));
    expect(verifyPasscode('012345', { ...stored, salt: otherSalt.toString('hex') }, key)).toBe(false);
    expect(verifyPasscode('012345', stored, Buffer.alloc(32, 1))).toBe(false);
    // Same code, different salts: different hashes, so equal codes do not show in a dump.
    expect(hashPasscode('012345', otherSalt, key)).not.toBe(stored.hash);
  });

  it('fails closed on a corrupt stored hash instead of throwing', () => {
    expect(verifyPasscode('012345', { ...stored, hash: stored.hash.slice(0, 10) }, key)).toBe(false);
    expect(verifyPasscode('012345', { ...stored, hash: '' }, key)).toBe(false);
  });

  it('normalises input: digits only after dropping whitespace', () => {
    expect(normaliseInput(' 12 34 ')).toBe('1234');
    expect(normaliseInput('12-34')).toBeUndefined();
    expect(normaliseInput('')).toBeUndefined();
    expect(normaliseInput('1'.repeat(65))).toBeUndefined();
  });
});

describe('derivePasscodeKey', () => {
  it('derives a 32-byte key that differs from the secret and per secret', () => {
    const a = derivePasscodeKey(Buffer.alloc(32, 1));
    expect(a).toHaveLength(32);
    expect(a.equals(Buffer.alloc(32, 1))).toBe(false);
    expect(derivePasscodeKey(Buffer.alloc(32, 1)).equals(a)).toBe(true);
    expect(derivePasscodeKey(Buffer.alloc(32, 2)).equals(a)).toBe(false);
  });

  it('refuses a secret shorter than 16 bytes', () => {
    expect(() => derivePasscodeKey(Buffer.alloc(15))).toThrow(RangeError);
  });
});
