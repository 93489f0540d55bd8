import { describe, expect, it } from 'vitest';
import { SmsBudget } from '../../../firmware/src/auth/sms-budget.ts';
import { FakeClock } from './doubles.ts';

describe('SmsBudget', () => {
  it('allows max per window per user, then says when to retry', () => {
    const clock = new FakeClock();
    const b = new SmsBudget(clock, () => ({ max: 3, windowMs: 60_000 }));
    expect([b.take('a'), b.take('a'), b.take('a')].every((d) => d.ok)).toBe(true);
    clock.advance(10_000);
    expect(b.take('a')).toEqual({ ok: false, retryInMs: 50_000 });
    expect(b.take('b').ok).toBe(true);
    clock.advance(50_000);
    expect(b.take('a').ok).toBe(true);
  });

  it('remembers a bounded number of users', () => {
    const b = new SmsBudget(new FakeClock(), () => ({ max: 1, windowMs: 60_000, capUsers: 100 }));
    for (let i = 0; i < 1000; i++) b.take(`u${i}`);
    expect(b.size).toBe(100);
  });
});
