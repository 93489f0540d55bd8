import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cryptoRandom } from '../../../firmware/src/clock.ts';
import { openText, sealText } from '../../../firmware/src/dispatch/sealed-text.ts';
import { ErrorCode } from '../../../firmware/src/errors.ts';

describe('sealed text (AES-256-GCM, challengeId as AAD)', () => {
  const key = randomBytes(32);
  const text = 'Your passcode is 482913 — gültig 5 min 🙂';

  it('round-trips, with a fresh nonce each time', () => {
    const a = sealText(key, 'ch-1', text, cryptoRandom);
    const b = sealText(key, 'ch-1', text, cryptoRandom);
    expect(openText(key, 'ch-1', a)).toBe(text);
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.ct).not.toBe(b.ct);
    expect(Buffer.from(a.nonce, 'base64')).toHaveLength(12);
    expect(JSON.stringify(a)).not.toContain('482913');
  });

  it('refuses another challenge id, another key, and a tampered ciphertext', () => {
    const s = sealText(key, 'ch-1', text, cryptoRandom);
    const code = { code: ErrorCode.OutboxDecryptFailed };
    expect(() => openText(key, 'ch-2', s)).toThrow(expect.objectContaining(code));
    expect(() => openText(randomBytes(32), 'ch-1', s)).toThrow(expect.objectContaining(code));
    const ct = Buffer.from(s.ct, 'base64');
    ct[0] = (ct[0] ?? 0) ^ 1;
    expect(() => openText(key, 'ch-1', { ...s, ct: ct.toString('base64') })).toThrow(
      expect.objectContaining(code),
    );
  });
});
