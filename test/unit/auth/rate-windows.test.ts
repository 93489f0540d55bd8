import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RateWindows } from '../../../firmware/src/auth/rate-windows.ts';
import { FakeClock } from './doubles.ts';
import { TempStore } from './policy-store.ts';

describe('durable sliding windows', () => {
  const tmp = new TempStore();
  let clock: FakeClock;
  beforeEach(async () => {
    clock = new FakeClock();
    await tmp.open();
  });
  afterEach(() => tmp.dispose());
  const limit = { max: 3, windowMs: 60_000 };

  it('takes up to max per window, says when to retry, and the budget survives a restart', async () => {
    let w = new RateWindows(tmp.store, clock, 'sms-user');
    for (let i = 0; i < 3; i++) {
      expect((await w.take('alice', limit)).ok).toBe(true);
      clock.advance(10_000);
    }
    expect(await w.take('alice', limit)).toEqual({ ok: false, count: 3, retryInMs: 30_000 });
    await tmp.reopen();
    w = new RateWindows(tmp.store, clock, 'sms-user');
    expect((await w.take('alice', limit)).ok).toBe(false);
    expect((await w.take('bob', limit)).ok).toBe(true);
    clock.advance(30_000);
    expect((await w.take('alice', limit)).ok).toBe(true);
  });

  it('concurrent takes never exceed the limit', async () => {
    const w = new RateWindows(tmp.store, clock, 'global');
    const r = await Promise.all(Array.from({ length: 10 }, () => w.take('all', limit)));
    expect(r.filter((x) => x.ok)).toHaveLength(3);
  });

  it('max 0 is no limit; add counts regardless; prefixes keep keys apart; sweep drops idle rows', async () => {
    const a = new RateWindows(tmp.store, clock, 'a');
    const b = new RateWindows(tmp.store, clock, 'b');
    for (let i = 0; i < 10; i++) expect((await a.take('k', { max: 0, windowMs: 1000 })).ok).toBe(true);
    expect(await b.add('k', 1000)).toBe(1);
    expect(await b.add('k', 1000)).toBe(2);
    expect(await b.count('k', 1000)).toBe(2);
    clock.advance(2000);
    expect(await b.count('k', 1000)).toBe(0);
    expect(await a.sweep(1000)).toBe(1);
    expect(await b.sweep(1000)).toBe(1);
    await b.clear('k');
  });
});
