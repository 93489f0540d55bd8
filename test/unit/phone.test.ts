import { describe, expect, it } from 'vitest';
import { maskNumber, normaliseNumber } from '../../firmware/src/phone.ts';

describe('normaliseNumber', () => {
  it.each([
    ['(201) 555-0123', 'US', '+12015550123'],
    ['+1 202 555 0123', 'DE', '+12025550123'],
    ['0151 12345678', 'DE', '+4915112345678'],
    ['0049 151 12345678', 'US', '+4915112345678'],
    ['+44 7911 123456', 'US', '+447911123456'],
  ])('%s in %s → %s', (raw, country, e164) => {
    expect(normaliseNumber(raw, country)).toEqual({ ok: true, e164 });
  });

  it.each(['', '   ', 'call me', '12', '+1'])('refuses %j with a reason', (raw) => {
    const r = normaliseNumber(raw, 'US');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
  });

  // Right length, but not assigned in the numbering plan: fictional 555 numbers, Ofcom's drama
  // range, a German mobile prefix with a digit missing.
  it.each([
    ['(555) 010-0001', 'US', '+15550100001'],
    ['+1 555 000 0001', 'DE', '+15550000001'],
    ['0151 1234567', 'DE', '+491511234567'],
    ['0049 151 1234567', 'US', '+491511234567'],
    ['+44 7700 900123', 'US', '+447700900123'],
  ])(
    'refuses the possible but invalid %s in %s, unless possible numbers are accepted',
    (raw, country, e164) => {
      expect(normaliseNumber(raw, country)).toEqual({ ok: false, reason: 'not a valid number' });
      expect(normaliseNumber(raw, country, { acceptPossible: false })).toEqual({
        ok: false,
        reason: 'not a valid number',
      });
      expect(normaliseNumber(raw, country, { acceptPossible: true })).toEqual({ ok: true, e164 });
    },
  );

  it('refuses an impossible number even when possible numbers are accepted', () => {
    expect(normaliseNumber('12', 'US', { acceptPossible: true })).toEqual({
      ok: false,
      reason: 'not a possible number',
    });
  });
});

describe('maskNumber', () => {
  it('shows only the last four digits', () => {
    expect(maskNumber('+15550000001')).toBe('******0001');
    expect(maskNumber('+491511234567')).toBe('******4567');
  });
});
