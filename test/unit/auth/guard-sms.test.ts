import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cryptoRandom } from '../../../firmware/src/clock.ts';
import { limitsSchema } from '../../../firmware/src/config/auth-schema.ts';
import { parseCallingStationId, type ClientIp } from '../../../firmware/src/auth/calling-station.ts';
import { AuthGuard, DEFAULT_GUARD_SETTINGS, type GuardSettings } from '../../../firmware/src/auth/guard.ts';
import { FakeClock } from './doubles.ts';
import { TempStore } from './policy-store.ts';

function ip(text: string): ClientIp {
  const a = parseCallingStationId(text);
  if (!a) throw new Error(text);
  return a;
}

describe('the SMS limits of the guard (per user, per IP, global)', () => {
  const tmp = new TempStore();
  let clock: FakeClock;
  let settings: GuardSettings;
  let guard: AuthGuard;
  beforeEach(async () => {
    clock = new FakeClock();
    await tmp.open();
    settings = {
      ...DEFAULT_GUARD_SETTINGS,
      limits: limitsSchema.parse({ smsPerIp: { max: 3, windowMinutes: 15 }, smsPerMinute: 2 }),
      smsPerUser: { max: 2, windowMs: 15 * 60_000 },
      modemsPerMinute: 10,
    };
    guard = new AuthGuard(tmp.store, clock, cryptoRandom, Buffer.alloc(32, 7), () => settings);
  });
  afterEach(() => tmp.dispose());

  it('the global cap refuses without spending the user’s or the IP’s budget', async () => {
    expect(await guard.takeSms('u1', ip('192.0.2.1'))).toEqual({ ok: true });
    expect(await guard.takeSms('u2', ip('192.0.2.2'))).toEqual({ ok: true });
    const refused = await guard.takeSms('alice', ip('192.0.2.9'));
    expect(refused).toMatchObject({ ok: false, limit: 'global', detail: 'global cap 2 SMS/min' });
    expect(await guard.takeSms('alice', ip('192.0.2.9'))).toMatchObject({ ok: false, limit: 'global' });
    clock.advance(61_000);
    // Two refusals spent nothing: alice still has her 2 of 2, and the IP its 3.
    expect(await guard.takeSms('alice', ip('192.0.2.9'))).toEqual({ ok: true });
    expect(await guard.takeSms('alice', ip('192.0.2.9'))).toEqual({ ok: true });
    clock.advance(61_000);
    expect(await guard.takeSms('alice', ip('192.0.2.9'))).toMatchObject({ ok: false, limit: 'user' });
  });

  it('tells once when the global cap trips, not once per refused login, and again on a later trip', async () => {
    const trips: { cap: number; retryInMs: number }[] = [];
    guard.onGlobalCap = (e) => trips.push(e);
    await guard.takeSms('u1', undefined);
    await guard.takeSms('u2', undefined);
    for (const u of ['a', 'b', 'c'])
      expect(await guard.takeSms(u, undefined)).toMatchObject({ limit: 'global' });
    expect(trips).toHaveLength(1);
    expect(trips[0]).toMatchObject({ cap: 2 });
    expect(trips[0]!.retryInMs).toBeGreaterThan(0);
    clock.advance(61_000);
    await guard.takeSms('d', undefined);
    await guard.takeSms('e', undefined);
    expect(await guard.takeSms('f', undefined)).toMatchObject({ limit: 'global' });
    expect(trips).toHaveLength(2);
  });

  it('the per-IP limit refuses without spending the user’s budget; it survives a restart', async () => {
    settings = {
      ...settings,
      limits: limitsSchema.parse({ smsPerIp: { max: 2, windowMinutes: 15 }, smsPerMinute: 0 }),
    };
    expect((await guard.takeSms('a', ip('203.0.113.5'))).ok).toBe(true);
    expect((await guard.takeSms('b', ip('203.0.113.5'))).ok).toBe(true);
    await tmp.reopen();
    guard = new AuthGuard(tmp.store, clock, cryptoRandom, Buffer.alloc(32, 7), () => settings);
    expect(await guard.takeSms('c', ip('203.0.113.5'))).toMatchObject({ ok: false, limit: 'ip' });
    expect(await guard.takeSms('c', ip('203.0.113.5'))).toMatchObject({ ok: false, limit: 'ip' });
    expect((await guard.takeSms('c', ip('203.0.113.6'))).ok).toBe(true);
    expect((await guard.takeSms('c', undefined)).ok).toBe(true);
    expect(await guard.takeSms('c', undefined)).toMatchObject({ ok: false, limit: 'user' });
  });
});
