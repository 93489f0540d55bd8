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

  it('invalid credentials on one DC (old password after a rotation): the other DCs are tried, logins go on', async () => {
    const clock = new JumpClock();
    const stale = await dc({ serviceBind: REFUSED });
    const good = await dc();
    const d = await directory([stale, good], clock);
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    expect(stale.seen.serviceBinds).toBe(1);
    for (let i = 0; i < 3; i++) {
      expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
      await d.probe();
    }
    // The refusing DC is left alone for minutes: no bind that could add to a lockout count.
    expect(stale.seen.serviceBinds).toBe(1);
    expect(d.health().state).toBe('degraded');
    // Replication caught up; after the hold the probe binds again and takes the DC back.
    stale.script.serviceBind = OK;
    clock.offset += 5 * MIN;
    await d.probe();
    expect(stale.seen.serviceBinds).toBe(2);
    expect(d.health()).toMatchObject({ state: 'up' });
  });

  it('invalid credentials on every DC: each is asked once, then binds pause for 5 min, doubling', async () => {
    const clock = new JumpClock();
    const dc1 = await dc({ serviceBind: REFUSED });
    const dc2 = await dc({ serviceBind: REFUSED });
    const d = await directory([dc1, dc2], clock);
    const binds = () => dc1.seen.serviceBinds + dc2.seen.serviceBinds;

    const r = await d.verifyPassword('alice', 'pw');
    expect(r).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(binds()).toBe(2);
    expect(d.health()).toMatchObject({ state: 'down' });
    expect(d.health().detail).toMatch(/refused by every domain controller.*paused for 5 min/);
    const err = await d.findUser('alice').catch((e: unknown) => e);
    expect(isMfaError(err) && err.code).toBe(ErrorCode.DirectoryBindFailed);
    for (let i = 0; i < 3; i++) {
      await d.verifyPassword('alice', 'pw');
      await d.probe();
    }
    expect(binds()).toBe(2);

    clock.offset += 5 * MIN;
    await d.verifyPassword('alice', 'pw');
    expect(binds()).toBe(4);
    // Refused again: now 10 min.
    expect(d.health().detail).toMatch(/paused for 10 min/);
    clock.offset += 5 * MIN;
    await d.verifyPassword('alice', 'pw');
    await d.probe();
    expect(binds()).toBe(4);

    // The admin fixed the password and `directory test` passed: retried at once, and it works.
    dc1.script.serviceBind = OK;
    dc2.script.serviceBind = OK;
    d.retryServiceAccount();
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    expect(d.health().state).not.toBe('down');
  });

  it('the hold never grows past 30 min', async () => {
    const clock = new JumpClock();
    const dc1 = await dc({ serviceBind: REFUSED });
    const d = await directory([dc1], clock);
    for (let i = 0; i < 8; i++) {
      await d.verifyPassword('alice', 'pw');
      clock.offset += 30 * MIN;
    }
    expect(dc1.seen.serviceBinds).toBe(8);
    await d.verifyPassword('alice', 'pw');
    expect(d.health().detail).toMatch(/paused for 30 min/);
    clock.offset += 29 * MIN;
    await d.verifyPassword('alice', 'pw');
    expect(dc1.seen.serviceBinds).toBe(9);
    clock.offset += 1 * MIN;
    await d.verifyPassword('alice', 'pw');
    expect(dc1.seen.serviceBinds).toBe(10);
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
