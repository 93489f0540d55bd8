/**
 * What the LDAP directory does with each kind of LDAP answer, against scripted DCs on loopback
 * (test/unit/directory/fake-dc.ts): only invalidCredentials is a verdict on the service account;
 * busy, unavailable and unwilling are one DC's trouble and cost that DC its turn, nothing more.
 */
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../firmware/src/clock.ts';
import { ErrorCode, isMfaError } from '../../../firmware/src/errors.ts';
import type { LdapDirectory } from '../../../firmware/src/directory/ldap.ts';
import { OK, fakeDcFixture, type Behaviour, type FakeDc } from './fake-dc.ts';

const BUSY: Behaviour = { code: 51, message: 'busy' };
const UNAVAILABLE: Behaviour = { code: 52, message: 'shutting down' };
const UNWILLING: Behaviour = { code: 53, message: 'unwilling' };
const REFUSED: Behaviour = { code: 49, message: '80090308: LdapErr: DSID-0C09041C, data 52e, v4563' };
const MIN = 60_000;

/** Real time plus a jump the test controls, so a hold of minutes passes at once. */
class JumpClock implements Clock {
  offset = 0;
  now = (): number => Date.now() + this.offset;
  monotonic = (): number => performance.now() + this.offset;
}

const fixture = fakeDcFixture();
const dc = fixture.dc;

const directory = (servers: FakeDc[], clock?: Clock, timeoutMs = 2500): Promise<LdapDirectory> =>
  fixture.directory(servers, timeoutMs, clock ? { clock } : {});

describe('service bind answers', () => {
  it.each([
    ['busy (51)', BUSY],
    ['unavailable (52)', UNAVAILABLE],
    ['unwilling to perform (53)', UNWILLING],
  ])('%s on the first DC fails over to the next, without pausing anything', async (_, answer) => {
    const dc1 = await dc({ serviceBind: answer });
    const dc2 = await dc();
    const d = await directory([dc1, dc2]);
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    expect(d.health()).toMatchObject({ state: 'degraded', server: dc2.url });
    expect(d.health().detail).toContain(dc1.url);
    // dc1 recovers: the probe takes it back at once, no hold.
    dc1.script.serviceBind = OK;
    await d.probe();
    expect(d.health()).toEqual({ state: 'up', server: dc2.url });
  });

  it('a DC that is only busy is retried by the very next login, not paused', async () => {
    const dc1 = await dc({ serviceBind: BUSY });
    const d = await directory([dc1]);
    const r = await d.verifyPassword('alice', 'pw');
    expect(r).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(!r.ok && r.detail).toMatch(/busy/);
    dc1.script.serviceBind = OK;
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    expect(dc1.seen.serviceBinds).toBe(2);
  });

  it('invalid credentials on the first DC: no other DC is asked (each would count towards AD lockout); binds pause for 15 min', async () => {
    const clock = new JumpClock();
    const first = await dc({ serviceBind: REFUSED });
    const second = await dc();
    const d = await directory([first, second], clock);
    const r = await d.verifyPassword('alice', 'pw');
    expect(r).toMatchObject({ ok: false, reason: 'unavailable' });
    expect([first.seen.serviceBinds, second.seen.serviceBinds]).toEqual([1, 0]);
    expect(d.health()).toMatchObject({ state: 'down' });
    expect(d.health().detail).toMatch(/service account was refused.*paused for 15 min/);
    const err = await d.findUser('alice').catch((e: unknown) => e);
    expect(isMfaError(err) && err.code).toBe(ErrorCode.DirectoryBindFailed);
    for (let i = 0; i < 3; i++) {
      await d.verifyPassword('alice', 'pw');
      await d.probe();
    }
    expect(first.seen.serviceBinds + second.seen.serviceBinds).toBe(1);
    // After the pause the next login binds again; the password was fixed on the DCs meanwhile.
    first.script.serviceBind = OK;
    clock.offset += 15 * MIN;
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    expect(d.health().state).not.toBe('down');
  });

  it('refused again and again: the pause doubles to an hour, so AD sees at most two bad binds per 30 min', async () => {
    const clock = new JumpClock();
    const dc1 = await dc({ serviceBind: REFUSED });
    const dc2 = await dc({ serviceBind: REFUSED });
    const d = await directory([dc1, dc2], clock);
    const binds = () => dc1.seen.serviceBinds + dc2.seen.serviceBinds;
    const at: number[] = [];
    for (let minute = 0; minute < 240; minute += 5) {
      const before = binds();
      await d.verifyPassword('alice', 'pw');
      await d.probe();
      if (binds() > before) at.push(minute);
      clock.offset += 5 * MIN;
    }
    expect(at).toEqual([0, 15, 45, 105, 165, 225]);
    expect(d.health().detail).toMatch(/paused for \d+ min/);

    // The admin fixed the password and a directory test passed in the service: retried at once.
    dc1.script.serviceBind = OK;
    dc2.script.serviceBind = OK;
    d.retryServiceAccount();
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
  });
});

describe('user search answers', () => {
  it.each([
    ['busy (51)', BUSY],
    ['unavailable (52)', UNAVAILABLE],
  ])('%s fails over to the next DC', async (_, answer) => {
    const dc1 = await dc({ search: answer });
    const dc2 = await dc();
    const d = await directory([dc1, dc2]);
    const r = await d.verifyPassword('alice', 'pw');
    expect(r.ok).toBe(true);
    expect(dc1.seen.searches).toBe(1);
    expect(dc2.seen.userBinds).toBe(1);
    expect(d.health()).toMatchObject({ state: 'degraded', server: dc2.url });
  });

  it('an answer about the search itself (no such object: a wrong base DN) is not a DC failure', async () => {
    const dc1 = await dc({ search: { code: 32, message: 'no such object' } });
    const dc2 = await dc();
    const d = await directory([dc1, dc2]);
    const r = await d.verifyPassword('alice', 'pw');
    expect(r).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(dc2.seen.searches).toBe(0);
    expect(d.health()).toEqual({ state: 'up', server: dc1.url });
  });
});

describe('user bind answers', () => {
  it.each([
    ['busy (51)', BUSY],
    ['unavailable (52)', UNAVAILABLE],
  ])('%s is not a bad password: the bind goes to the next DC', async (_, answer) => {
    const dc1 = await dc({ userBind: answer });
    const dc2 = await dc();
    const d = await directory([dc1, dc2]);
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    expect(dc1.seen.userBinds).toBe(1);
    expect(dc2.seen.userBinds).toBe(1);
  });

  it('busy on the only DC: "unavailable", never "bad-password"', async () => {
    const d = await directory([await dc({ userBind: BUSY })]);
    expect(await d.verifyPassword('alice', 'pw')).toMatchObject({ ok: false, reason: 'unavailable' });
  });

  it('unwilling to perform: "unavailable", and the password is not tried on a second DC', async () => {
    const dc1 = await dc({ userBind: UNWILLING });
    const dc2 = await dc();
    const d = await directory([dc1, dc2]);
    const r = await d.verifyPassword('alice', 'pw');
    expect(r).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(!r.ok && r.detail).toMatch(/unwilling/);
    expect(dc2.seen.userBinds).toBe(0);
  });

  it('invalid credentials stays a bad password, judged by one DC only', async () => {
    const dc1 = await dc({ userBind: REFUSED });
    const dc2 = await dc();
    const d = await directory([dc1, dc2]);
    expect(await d.verifyPassword('alice', 'pw')).toEqual({ ok: false, reason: 'bad-password' });
    expect(dc2.seen.userBinds).toBe(0);
  });
});
