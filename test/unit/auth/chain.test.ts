import { describe, expect, it } from 'vitest';
import { DEFAULT_CHAIN } from '../../../firmware/src/config/auth-schema.ts';
import { asksForNext, plan, type MethodFacts } from '../../../firmware/src/auth/chain.ts';

const facts = (over: Partial<MethodFacts> = {}): MethodFacts => ({
  hasToken: false,
  primary: '+15550000001',
  secondary: '+15550000002',
  hasOverride: false,
  smsReady: true,
  emailReady: false,
  ...over,
});

describe('method chains', () => {
  it('default: token if enrolled, else SMS to the primary number', () => {
    expect(plan(DEFAULT_CHAIN, 0, facts({ hasToken: true }))).toMatchObject({
      ok: true,
      index: 0,
      method: 'token',
      skipped: [],
    });
    expect(plan(DEFAULT_CHAIN, 0, facts())).toMatchObject({
      ok: true,
      index: 1,
      method: 'sms',
      to: '+15550000001',
      skipped: [{ method: 'token', why: 'no token enrolled' }],
    });
  });

  it('no primary number: the secondary', () => {
    expect(plan(DEFAULT_CHAIN, 0, facts({ primary: undefined }))).toMatchObject({
      method: 'sms-secondary',
      to: '+15550000002',
    });
  });

  it('modem pool down: the token if there is one, else nothing', () => {
    expect(plan(DEFAULT_CHAIN, 0, facts({ smsReady: false, hasToken: true }))).toMatchObject({
      method: 'token',
    });
    const none = plan(DEFAULT_CHAIN, 0, facts({ smsReady: false }));
    expect(none.ok).toBe(false);
    expect(none.skipped.map((s) => s.method)).toEqual(['token', 'sms', 'sms-secondary']);
    expect(none.skipped[1]!.why).toMatch(/SMS unavailable/);
  });

  it('moving on from a step (sms2, a failed SMS) starts after it', () => {
    expect(plan(DEFAULT_CHAIN, 2, facts())).toMatchObject({ index: 2, method: 'sms-secondary' });
    expect(plan(DEFAULT_CHAIN, 3, facts()).ok).toBe(false);
  });

  it('a secondary number equal to the primary is not a second way', () => {
    expect(plan(['sms-secondary'], 0, facts({ secondary: '+15550000001' })).ok).toBe(false);
  });

  it('the caller can add reasons (an SMS limit), and override and email need their facts', () => {
    const p = plan(
      ['sms', 'override', 'email'],
      0,
      facts({ hasOverride: true }),
      new Map([[0, 'SMS limit']]),
    );
    expect(p).toMatchObject({ method: 'override', skipped: [{ method: 'sms', why: 'SMS limit' }] });
    expect(plan(['override', 'email'], 0, facts()).ok).toBe(false);
    expect(plan(['email'], 0, facts({ emailReady: true }))).toMatchObject({ method: 'email' });
  });

  it('the next word, in any case', () => {
    expect(asksForNext(' SMS2 ', 'sms2')).toBe(true);
    expect(asksForNext('123456', 'sms2')).toBe(false);
  });
});
