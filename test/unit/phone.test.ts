import { describe, expect, it } from 'vitest';
import { maskNumber, normaliseNumber } from '../../firmware/src/phone.ts';

describe('normaliseNumber', () => {
  it.each([
    ['(555) 010-0001', 'US', '+15550100001'],
    ['+1 555 000 0001', 'DE', '+15550000001'],
    ['0151 1234567', 'DE', '+491511234567'],
    ['0049 151 1234567', 'US', '+491511234567'],
    ['+44 7700 900123', 'US', '+447700900123'],
  ])('%s in %s → %s', (raw, country, e164) => {
    expect(normaliseNumber(raw, country)).toEqual({ ok: true, e164 });
  });

  it.each(['', '   ', 'call me', '12', '+1'])('refuses %j with a reason', (raw) => {
    const r = normaliseNumber(raw, 'US');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
  });
});

describe('maskNumber', () => {
  it('shows only the last four digits', () => {
    expect(maskNumber('+15550000001')).toBe('******0001');
    expect(maskNumber('+491511234567')).toBe('******4567');
  });
});
