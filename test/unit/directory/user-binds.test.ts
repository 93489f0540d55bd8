/**
 * The user-bind pool against scripted DCs on loopback (fake-dc.ts): a login is exactly two LDAP
 * operations (one search on the service connection, one bind on a pooled connection), pooled
 * connections carry nothing but user binds, a bind that times out drops its connection, and AD's
 * fast concurrent bind is switched on only where the DC advertises it.
 */
import { describe, expect, it } from 'vitest';
import { FAST_BIND_OID } from '../../../firmware/src/directory/user-binds.ts';
import { BASE, OK, fakeDcFixture, type FakeDc } from './fake-dc.ts';

const fixture = fakeDcFixture();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GROUP_DN = `cn=MFA Users,ou=groups,${BASE}`;

/** The requests each connection carried, in order (the connect's root DSE read left out). */
function byConnection(dc: FakeDc): Map<number, string[]> {
  const m = new Map<number, string[]>();
  for (const { conn, op } of dc.log) {
    if (op === 'root-dse') continue;
    m.set(conn, [...(m.get(conn) ?? []), op]);
  }
  return m;
}

describe('user binds on pooled connections', () => {
  it('a warm login is one search and one bind; ten logins reuse one bind connection', async () => {
    const dc = await fixture.dc();
    const d = await fixture.directory([dc], 2500);
    await d.probe(); // warms the service connection and the pool
    const before = dc.log.filter((l) => l.op !== 'root-dse').length;
    const connsBefore = dc.seen.connections;
    for (let i = 0; i < 10; i++) expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    const ops = dc.log.filter((l) => l.op !== 'root-dse').length - before;
    expect(ops).toBe(20);
    expect(dc.seen.connections).toBe(connsBefore); // no connect, no TLS handshake per login
    expect(dc.seen.searches).toBe(10);
    expect(dc.seen.userBinds).toBe(10);
  });

  it('after a user bind, only user binds run on that connection; searches stay on the service connection', async () => {
    const dc = await fixture.dc();
    const d = await fixture.directory([dc], 2500);
    await Promise.all(Array.from({ length: 12 }, () => d.verifyPassword('alice', 'pw')));
    await d.verifyPassword('nobody-search-still-answers-alice', 'pw');
    await d.verifyPassword('alice', 'wrong-but-accepted-by-the-script');
    const conns = [...byConnection(dc).values()];
    const userConns = conns.filter((ops) => ops.includes('user-bind'));
    expect(userConns.length).toBeGreaterThan(0);
    for (const ops of userConns) expect(new Set(ops)).toEqual(new Set(['user-bind']));
    const service = conns.filter((ops) => ops.includes('service-bind'));
    expect(service).toHaveLength(1);
    expect(service[0]?.filter((o) => o === 'search')).toHaveLength(14);
  });

  it('never opens more than bindConnections per DC; the others wait their turn', async () => {
    const dc = await fixture.dc({ userBind: { code: 0, delayMs: 30 } });
    const d = await fixture.directory([dc], 2500, {}, { bindConnections: 2 });
    const results = await Promise.all(Array.from({ length: 10 }, () => d.verifyPassword('alice', 'pw')));
    expect(results.every((r) => r.ok)).toBe(true);
    const bindConns = [...byConnection(dc).values()].filter((ops) => ops.includes('user-bind'));
    expect(bindConns).toHaveLength(2);
    expect(d.bindStats().pools).toEqual([{ url: dc.url, idle: 2, open: 2, fastBind: undefined }]);
  });

  it('a wrong password leaves the connection reusable; a bind that timed out drops it', async () => {
    const dc = await fixture.dc({ userBind: { code: 49, message: 'invalid credentials' } });
    const d = await fixture.directory([dc], 600);
    expect(await d.verifyPassword('alice', 'wrong')).toEqual({ ok: false, reason: 'bad-password' });
    expect(await d.verifyPassword('alice', 'wrong')).toEqual({ ok: false, reason: 'bad-password' });
    const bindConns = () => [...byConnection(dc).entries()].filter(([, ops]) => ops.includes('user-bind'));
    expect(bindConns()).toHaveLength(1);
    // The DC answers the next bind only after the login gave up: that connection is never reused.
    dc.script.userBind = { code: 0, delayMs: 900 };
    expect(await d.verifyPassword('alice', 'pw')).toMatchObject({ ok: false, reason: 'unavailable' });
    dc.script.userBind = OK;
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    const after = bindConns();
    expect(after).toHaveLength(2);
    expect(after[1]?.[1]).toEqual(['user-bind']);
    // The timed-out connection is closed once its late answer came.
    await sleep(600);
    expect(dc.open).toBe(2); // the service connection and the live bind connection
    expect(d.health()).toEqual({ state: 'up', server: dc.url });
  });

  it('closes idle bind connections past their age and keeps two warm on the DC in use', async () => {
    let now = 0;
    const clock = {
      monotonic: () => now,
      now: () => 1_700_000_000_000 + now,
    };
    const dc = await fixture.dc();
    const d = await fixture.directory([dc], 2500, { clock });
    await d.probe();
    expect(d.bindStats().pools).toEqual([{ url: dc.url, idle: 2, open: 2, fastBind: undefined }]);
    const opened = d.bindStats().opened;
    now += 5 * 60_000; // past the 4-minute idle limit
    await d.probe();
    expect(d.bindStats().pools[0]).toMatchObject({ idle: 2, open: 2 });
    expect(d.bindStats().opened).toBe(opened + 2);
    await sleep(300);
    expect(dc.open).toBe(3); // the old pair closed: the service connection + the new pair
  });
});

describe('AD fast concurrent bind', () => {
  const ad = { dialect: 'ad', group: GROUP_DN };

  it('switches each pooled connection to fast bind before its first bind where the DC lists the OID', async () => {
    const dc = await fixture.dc({ extensions: [FAST_BIND_OID] });
    const d = await fixture.directory([dc], 2500, {}, ad);
    const r = await Promise.all(Array.from({ length: 3 }, () => d.verifyPassword('alice', 'pw')));
    expect(r.every((x) => x.ok)).toBe(true);
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    const bindConns = [...byConnection(dc).values()].filter((ops) => ops.includes('user-bind'));
    expect(bindConns.length).toBeGreaterThan(0);
    for (const ops of bindConns) {
      expect(ops[0]).toBe(`exop ${FAST_BIND_OID}`);
      expect(ops.slice(1).every((o) => o === 'user-bind')).toBe(true);
    }
    expect(d.bindStats().pools[0]?.fastBind).toBe(true);
    // The login itself: still one search and one bind (group given as a DN alice is a direct member of).
    expect(dc.seen.searches).toBe(4);
    expect(dc.seen.userBinds).toBe(4);
  });

  it('uses plain rebinds where the DC does not list it (Samba AD), and never for OpenLDAP', async () => {
    const samba = await fixture.dc();
    const d = await fixture.directory([samba], 2500, {}, ad);
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    expect((await d.verifyPassword('alice', 'pw')).ok).toBe(true);
    expect(samba.seen.exops).toBe(0);
    expect(d.bindStats().pools[0]?.fastBind).toBe(false);

    const slapd = await fixture.dc({ extensions: [FAST_BIND_OID] });
    const o = await fixture.directory([slapd], 2500);
    expect((await o.verifyPassword('alice', 'pw')).ok).toBe(true);
    expect(slapd.seen.exops).toBe(0);
    expect(o.bindStats().pools[0]?.fastBind).toBeUndefined();
  });
});
