/**
 * A login running out of its own deadline says nothing about the DC: against scripted DCs on
 * loopback (fake-dc.ts), a slow answer fails the login (or moves it to another DC) without
 * destroying the shared service connection or marking the DC down; only a DC silent past the
 * per-request limit is marked down.
 */
import { describe, expect, it } from 'vitest';
import type { LdapDirectory } from '../../../firmware/src/directory/ldap.ts';
import { LdapConnection } from '../../../firmware/src/directory/connection.ts';
import { OK, fakeDcFixture, type FakeDc } from './fake-dc.ts';

const fixture = fakeDcFixture();
const dc = fixture.dc;

const directory = (servers: FakeDc[], timeoutMs: number, silenceMs?: number): Promise<LdapDirectory> =>
  fixture.directory(servers, timeoutMs, silenceMs === undefined ? {} : { silenceMs });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the login deadline is not the DC’s', () => {
  it('a search slower than the login fails that login, but keeps the service connection and the DC up', async () => {
    const dc1 = await dc({ search: { code: 0, delayMs: 900 } });
    const d = await directory([dc1], 600);
    const t0 = performance.now();
    const r = await d.verifyPassword('alice', 'pw');
    expect(r).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(performance.now() - t0).toBeLessThan(800);
    expect(d.health()).toEqual({ state: 'up', server: dc1.url });
    // Load passes: the next login uses the same connection, no reconnect, no second service bind.
    dc1.script.search = OK;
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    expect(dc1.seen.serviceBinds).toBe(1);
    expect(dc1.seen.connections).toBe(2); // the service connection + the user bind's own
    expect(d.health()).toEqual({ state: 'up', server: dc1.url });
  });

  it('a slow first DC moves the login to the next DC inside the deadline, without marking the first down', async () => {
    const dc1 = await dc({ search: { code: 0, delayMs: 1500 } });
    const dc2 = await dc();
    const d = await directory([dc1, dc2], 2500);
    const t0 = performance.now();
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    expect(performance.now() - t0).toBeLessThan(2500);
    expect(dc2.seen.userBinds).toBe(1);
    // Nothing is down: the directory just uses dc2 now.
    expect(d.health()).toEqual({ state: 'up', server: dc2.url });
    // dc1's late answer is still read, and then its connection is closed, not left open.
    expect(dc1.open).toBe(1);
    for (let i = 0; i < 20 && dc1.open > 0; i++) await sleep(50);
    expect(dc1.open).toBe(0);
    expect(dc1.seen.searches).toBe(1);
  });

  it('a burst of logins giving up on a slow DC at once moves the service connection once', async () => {
    const dc1 = await dc({ search: { code: 0, delayMs: 1500 } });
    const dc2 = await dc();
    const d = await directory([dc1, dc2], 2500);
    await d.probe(); // warm, on dc1
    const results = await Promise.all(Array.from({ length: 6 }, () => d.verifyPassword('alice', 'pw')));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(dc1.seen.serviceBinds).toBe(1);
    expect(dc2.seen.serviceBinds).toBe(1);
    expect(dc2.seen.userBinds).toBe(6);
    expect(d.health()).toEqual({ state: 'up', server: dc2.url });
  });

  it('a user bind slower than the login: "unavailable", and the DC stays up', async () => {
    const dc1 = await dc({ userBind: { code: 0, delayMs: 900 } });
    const d = await directory([dc1], 600);
    const r = await d.verifyPassword('alice', 'pw');
    expect(r).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(!r.ok && r.detail).toMatch(/deadline/);
    expect(d.health()).toEqual({ state: 'up', server: dc1.url });
  });

  it('a DC silent past the per-request limit is marked down, even after the login gave up on it', async () => {
    const dc1 = await dc({ search: 'hang' });
    const dc2 = await dc();
    const d = await directory([dc1, dc2], 1000, 1200);
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    expect(d.health().state).toBe('up');
    await sleep(1200);
    expect(d.health()).toMatchObject({ state: 'degraded', server: dc2.url });
    expect(d.health().detail).toMatch(new RegExp(`${dc1.url}: .*no answer within 1200 ms`));
  });

  it('a silent user bind marks its DC down once the per-request limit has passed', async () => {
    const dc1 = await dc({ userBind: 'hang' });
    const d = await directory([dc1], 600, 900);
    expect(await d.verifyPassword('alice', 'pw')).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(d.health().state).toBe('up');
    await sleep(700);
    expect(d.health().state).not.toBe('up');
  });

  it('an operation is off the connection (not busy) by the time its caller resumes, so the pool can hand it on', async () => {
    const dc1 = await dc({ userBind: { code: 0, delayMs: 50 } });
    const conn = await LdapConnection.open({
      url: dc1.url,
      startTls: false,
      allowInsecure: true,
      tls: {},
      budgetMs: 2000,
    });
    try {
      const bind = conn.within('bind (user)', 1000, (c) => c.bind('uid=alice,dc=example,dc=com', 'pw'), 5000);
      expect(conn.busy).toBe(true);
      await bind;
      expect(conn.busy).toBe(false);
      expect(conn.alive).toBe(true);
      // A caller that gave up leaves the operation running (busy) until the DC answers.
      dc1.script.userBind = { code: 0, delayMs: 300 };
      await expect(
        conn.within('bind (user)', 100, (c) => c.bind('uid=alice,dc=example,dc=com', 'pw'), 5000),
      ).rejects.toThrow(/no answer within the 100 ms left/);
      expect(conn.busy).toBe(true);
      await sleep(400);
      expect(conn.busy).toBe(false);
      expect(conn.alive).toBe(true);
    } finally {
      conn.destroy();
    }
  });
});
