import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacMd5Into, md5, md5Into } from '../../../firmware/src/radius/md5.ts';

const hmac = (key: Buffer, ...pieces: (Buffer | number)[]): Buffer => {
  const out = Buffer.alloc(16);
  hmacMd5Into(out, 0, key, ...pieces);
  return out;
};

describe('md5 (RFC 1321)', () => {
  it('matches the RFC 1321 test suite', () => {
    const suite: [string, string][] = [
      ['', 'd41d8cd98f00b204e9800998ecf8427e'],
      ['a', '0cc175b9c0f1b6a831c399e269772661'],
      ['abc', '900150983cd24fb0d6963f7d28e17f72'],
      ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
      ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
      [
        '12345678901234567890123456789012345678901234567890123456789012345678901234567890',
        '57edf4a22be3c955ac49da2e2107b67a',
      ],
    ];
    for (const [text, digest] of suite) expect(md5(Buffer.from(text)).toString('hex')).toBe(digest);
  });

  it('agrees with node:crypto on random inputs split into random pieces', () => {
    for (let n = 0; n < 2000; n++) {
      const a = randomBytes(n % 257);
      const b = randomBytes((n * 7) % 131);
      expect(md5(a, b).equals(createHash('md5').update(a).update(b).digest())).toBe(true);
    }
  });

  it('md5Into writes in place, even over its own input', () => {
    const buf = randomBytes(80);
    const expected = createHash('md5').update(buf).digest();
    md5Into(buf, 4, buf);
    expect(buf.subarray(4, 20).equals(expected)).toBe(true);
  });
});

describe('hmacMd5Into (RFC 2104)', () => {
  it('matches RFC 2202 test cases 1, 2, 3 and 6 (a key longer than the block)', () => {
    expect(hmac(Buffer.alloc(16, 0x0b), Buffer.from('Hi There')).toString('hex')).toBe(
      '9294727a3638bb1c13f48ef8158bfc9d',
    );
    expect(hmac(Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?')).toString('hex')).toBe(
      '750c783e6ab0b503eaa86e310a5db738',
    );
    expect(hmac(Buffer.alloc(16, 0xaa), Buffer.alloc(50, 0xdd)).toString('hex')).toBe(
      '56be34521d144c88dbb8c733f0e8b3f6',
    );
    expect(
      hmac(
        Buffer.alloc(80, 0xaa),
        Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'),
      ).toString('hex'),
    ).toBe('6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd');
  });

  it('agrees with node:crypto for random keys, messages and zero runs', () => {
    for (let n = 0; n < 2000; n++) {
      const key = randomBytes(1 + (n % 100));
      const a = randomBytes(n % 300);
      const b = randomBytes((n * 13) % 97);
      const zeros = n % 20;
      const expected = createHmac('md5', key).update(a).update(Buffer.alloc(zeros)).update(b).digest();
      expect(hmac(key, a, zeros, b).equals(expected)).toBe(true);
    }
  });

  it('a key is made ready per secret Buffer: a changed secret is a new key', () => {
    const key = Buffer.from('first-secret-0123');
    const msg = Buffer.from('packet');
    expect(hmac(key, msg).equals(createHmac('md5', key).update(msg).digest())).toBe(true);
    const other = Buffer.from('other-secret-0123');
    expect(hmac(other, msg).equals(createHmac('md5', other).update(msg).digest())).toBe(true);
  });
});
