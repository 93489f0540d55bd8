/**
 * A rotated service-account password must not end in a locked AD account: against a real slapd,
 * behind a counting TCP relay, a refused service bind is not repeated by logins or probes for
 * minutes (5, then 10…), and is tried again once that pause has passed.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ldapConfig } from './ldap-fixtures.ts';
import { createLdapDirectory, type LdapDirectory } from '../../firmware/src/directory/ldap.ts';
import { startPeer, type Peer } from './peers.ts';

let peer: Peer;
let relay: net.Server;
let relayPort = 0;
let connections = 0;
const sockets: net.Socket[] = [];

beforeAll(async () => {
  peer = await startPeer('scripts/start-slapd.sh', {});
  const target = new URL(peer.facts.LDAP_URL);
  relay = net.createServer((down) => {
    connections++;
    const up = net.connect(Number(target.port), target.hostname);
    sockets.push(down, up);
    down.pipe(up).pipe(down);
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  relayPort = (relay.address() as net.AddressInfo).port;
});

afterAll(async () => {
  sockets.forEach((s) => s.destroy());
  relay?.close();
  await peer?.stop();
});

describe('service account refused (slapd)', () => {
  let d: LdapDirectory;
  afterAll(() => d?.close());

  it('binds with the wrong service password once, then pauses: logins and probes add no binds', async () => {
    let offset = 0;
    const clock = { now: () => Date.now() + offset, monotonic: () => performance.now() + offset };
    d = await createLdapDirectory(
      ldapConfig({
        dialect: 'openldap',
        urls: [`ldap://127.0.0.1:${relayPort}`],
        caFile: peer.facts.CA_FILE,
        baseDn: peer.facts.BASE,
        bindDn: peer.facts.SERVICE_DN,
        bindPassword: 'rotated-in-ad-but-not-here',
      }),
      { clock },
    );

    const first = await d.verifyPassword('alice', 'secret1');
    expect(first).toMatchObject({ ok: false, reason: 'unavailable' });
    const afterFirst = connections;
    expect(afterFirst).toBe(1);

    for (let i = 0; i < 5; i++) {
      expect(await d.verifyPassword('alice', 'secret1')).toMatchObject({ ok: false, reason: 'unavailable' });
      await d.probe();
    }
    expect(connections).toBe(afterFirst);
    expect(d.health()).toMatchObject({ state: 'down' });
    expect(d.health().detail).toMatch(/service account was refused.*paused for 15 min/);

    // A quarter of an hour later: one more bind, refused again, and the pause doubles.
    offset += 14 * 60_000;
    await d.verifyPassword('alice', 'secret1');
    expect(connections).toBe(afterFirst);
    offset += 60_000;
    expect(await d.verifyPassword('alice', 'secret1')).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(connections).toBe(afterFirst + 1);
    expect(d.health().detail).toMatch(/paused for 30 min/);
  });
});
