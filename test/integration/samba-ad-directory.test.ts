/**
 * The LDAP directory against a real Samba AD DC (scripts/start-samba-ad.sh). Samba's ports are
 * fixed (389/636), so every Samba test lives in this one file.
 */
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePolicy } from '../../firmware/src/auth/policy.ts';
import { parseConfig } from '../../firmware/src/config/load.ts';
import type { LdapDirectoryConfig } from '../../firmware/src/config/schema.ts';
import type { LdapDirectory } from '../../firmware/src/directory/ldap.ts';
import { DirectorySync } from '../../firmware/src/directory/sync.ts';
import { openStore } from '../../firmware/src/store/store.ts';
import { startPeer, type Facts, type Peer } from './peers.ts';
import { LdapFixtures, ldapConfig } from './ldap-fixtures.ts';

const BULK = 1100;
const root = process.getuid?.() === 0;
let peer: Peer | undefined;
let f: Facts;
const fx = new LdapFixtures();
const blackHole = (): Promise<number> => fx.blackHole();

function config(over: Record<string, unknown> = {}): LdapDirectoryConfig {
  return ldapConfig({
    dialect: 'ad',
    urls: [f.LDAPS_URL],
    caFile: f.CA_FILE,
    baseDn: f.BASE,
    bindDn: f.SERVICE_UPN,
    bindPassword: f.SERVICE_PW,
    pageSize: 500,
    ...over,
  });
}

function dir(over: Record<string, unknown> = {}): Promise<LdapDirectory> {
  return fx.dir(config(over));
}

beforeAll(async () => {
  if (!root) return;
  peer = await startPeer('scripts/start-samba-ad.sh', { BULK_USERS: String(BULK) }, 120_000);
  f = peer.facts;
});

afterAll(async () => {
  await fx.closeAll();
  await peer?.stop();
});

describe.skipIf(!root)('Samba AD password check', () => {
  it('accepts sAMAccountName, UPN and DOMAIN\\user with live numbers and groups', async () => {
    const d = await dir();
    const r = await d.verifyPassword('alice', f.USER_PW);
    expect(r).toMatchObject({
      ok: true,
      user: {
        username: 'alice',
        dn: `CN=alice,CN=Users,${f.BASE}`,
        mobiles: ['+49 151 12345678', '+49 160 5550001'],
        secondaryMobiles: ['+49 160 5550001'],
        groups: ['MFA Users'],
        disabled: false,
      },
    });
    expect((await d.verifyPassword(`alice@${f.REALM.toLowerCase()}`, f.USER_PW)).ok).toBe(true);
    expect((await d.verifyPassword(`${f.DOMAIN}\\alice`, f.USER_PW)).ok).toBe(true);
  });

  it('a UPN that differs from sAMAccountName@realm logs in as a whole; DOMAIN\\user stays on sAMAccountName', async () => {
    const d = await dir();
    const realm = f.REALM.toLowerCase();
    const r = await d.verifyPassword(`john.doe@${realm}`, f.USER_PW);
    expect(r).toMatchObject({ ok: true, user: { username: 'jdoe', dn: `CN=John Doe,CN=Users,${f.BASE}` } });
    expect(await d.verifyPassword(`JOHN.DOE@${f.REALM}`, f.USER_PW)).toMatchObject({ ok: true });
    expect(await d.verifyPassword(`${f.DOMAIN}\\jdoe`, f.USER_PW)).toMatchObject({ ok: true });
    expect(await d.verifyPassword('jdoe', f.USER_PW)).toMatchObject({ ok: true });
    // sAMAccountName@realm is no UPN here, but the realm is the directory's: it still finds jdoe.
    expect(await d.verifyPassword(`jdoe@${realm}`, f.USER_PW)).toMatchObject({ ok: true });
    // Another domain never falls back to the user part: not alice, not jdoe.
    for (const name of ['alice@partner.example', 'jdoe@partner.example', 'PARTNER\\alice']) {
      expect(await d.verifyPassword(name, f.USER_PW), name).toMatchObject({
        ok: false,
        reason: 'unknown-user',
      });
    }
    // john.doe is not a sAMAccountName.
    expect(await d.verifyPassword('john.doe', f.USER_PW)).toMatchObject({
      ok: false,
      reason: 'unknown-user',
    });
  });

  it('checks passwords on pooled connections with plain rebinds (Samba does not offer fast bind)', async () => {
    const d = await dir();
    for (let i = 0; i < 5; i++) expect((await d.verifyPassword('alice', f.USER_PW)).ok).toBe(true);
    expect(await d.verifyPassword('alice', 'Wrong-Passw0rd!')).toEqual({ ok: false, reason: 'bad-password' });
    expect((await d.verifyPassword('alice', f.USER_PW)).ok).toBe(true);
    expect(d.bindStats().pools).toEqual([{ url: f.LDAPS_URL, idle: 1, open: 1, fastBind: false }]);
    expect(d.bindStats().opened).toBe(1);
  });

  it('counts nested membership of the MFA group at login (bob is in VPN Team ⊂ MFA Users)', async () => {
    const d = await dir();
    const r = await d.verifyPassword('bob', f.USER_PW);
    expect(r.ok && [...r.user.groups].sort()).toEqual(['MFA Users', 'VPN Team']);
  });

  it('a group given as a DN: nested members pass the policy, outsiders do not', async () => {
    // Spelled as an admin types it, not as AD returns it.
    const group = f.GROUP_DN.toLowerCase().replace(/,/g, ', ');
    const cfg = parseConfig({ directory: { ...config(), group } });
    const d = await dir({ group });
    const policy = compilePolicy(cfg.policy);
    const decide = async (name: string) => {
      const r = await d.verifyPassword(name, f.USER_PW);
      if (!r.ok) throw new Error(`${name}: ${r.reason}`);
      return policy.decide({
        user: r.user,
        clientIp: undefined,
        client: 'ns',
        now: 0,
        country: { known: false, why: 'no GeoIP database' },
        ipHistory: { known: false, why: 'not asked' },
      });
    };
    expect(await decide('alice')).toMatchObject({ action: 'challenge', rule: 'default' });
    expect(await decide('bob')).toMatchObject({ action: 'challenge', rule: 'default' });
    expect(await decide('frank')).toMatchObject({ action: 'reject', reason: 'not-in-mfa-group' });
  });

  it('maps the AD sub-codes Samba sends: 52e, 533, 773, 701, 775', async () => {
    const d = await dir();
    expect(await d.verifyPassword('alice', 'Wrong-Passw0rd!')).toEqual({ ok: false, reason: 'bad-password' });
    expect(await d.verifyPassword('carol', f.USER_PW)).toEqual({ ok: false, reason: 'disabled' });
    expect(await d.verifyPassword('dave', f.USER_PW)).toEqual({ ok: false, reason: 'must-change' });
    expect(await d.verifyPassword('erin', f.USER_PW)).toEqual({ ok: false, reason: 'account-expired' });
    expect(await d.verifyPassword('henry', f.USER_PW)).toEqual({ ok: false, reason: 'locked' });
    expect(await d.verifyPassword('nobody', f.USER_PW)).toEqual({ ok: false, reason: 'unknown-user' });
    expect(await d.verifyPassword('alice', '')).toMatchObject({ ok: false, reason: 'bad-password' });
  });

  it('injection attempts never find or log in anyone', async () => {
    const d = await dir();
    for (const name of [
      '*',
      '*)(sAMAccountName=*',
      'al*',
      'alice)(|(sAMAccountName=*',
      'alice\u0000',
      `*@${f.REALM}`,
    ]) {
      expect(await d.verifyPassword(name, f.USER_PW), JSON.stringify(name)).toMatchObject({
        ok: false,
        reason: 'unknown-user',
      });
    }
  });
});

describe.skipIf(!root)('Samba AD TLS', () => {
  it('StartTLS with the CA pinned', async () => {
    const d = await dir({ urls: [f.LDAP_URL] });
    expect((await d.verifyPassword('alice', f.USER_PW)).ok).toBe(true);
  });

  it('a wrong CA is refused', async () => {
    for (const url of [f.LDAPS_URL, f.LDAP_URL]) {
      const d = await dir({ urls: [url], caFile: f.WRONG_CA_FILE });
      const r = await d.verifyPassword('alice', f.USER_PW);
      expect(!r.ok && r.reason).toBe('unavailable');
      expect(!r.ok && r.detail).toMatch(/TLS/);
    }
  });

  it('AD itself refuses a plain bind even when the box allows it', async () => {
    const d = await dir({ urls: [f.LDAP_URL], startTls: false, allowInsecure: true });
    const r = await d.verifyPassword('alice', f.USER_PW);
    expect(r).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(!r.ok && r.detail).toMatch(/bind/i);
  });
});

describe.skipIf(!root)('Samba AD failover', () => {
  it('skips a dead first DC (closed port) and stays with the one that answered', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    const d = await dir({ urls: [`ldaps://127.0.0.1:${port}`, f.LDAPS_URL] });
    expect((await d.verifyPassword('alice', f.USER_PW)).ok).toBe(true);
    expect(d.health()).toMatchObject({ state: 'degraded', server: f.LDAPS_URL });
  });

  it('a black-holed first DC still answers the login inside the deadline', async () => {
    const d = await dir({ urls: [`ldaps://127.0.0.1:${await blackHole()}`, f.LDAPS_URL], timeoutMs: 2500 });
    const t0 = performance.now();
    const r = await d.verifyPassword('bob', f.USER_PW);
    const ms = performance.now() - t0;
    console.log(`Samba: black hole first, login answered in ${ms.toFixed(0)} ms of 2500 ms`);
    expect(r.ok).toBe(true);
    expect(ms).toBeLessThan(2500);
  });
});

describe.skipIf(!root)('Samba AD group sync', () => {
  it(`syncs nested members (${BULK} through VPN Team) in pages, skipping disabled and number-less users`, async () => {
    const data = mkdtempSync(join(tmpdir(), 'mfabox-ad-sync-'));
    const store = await openStore(data);
    try {
      const d = await dir();
      const sync = new DirectorySync({
        directory: d,
        store,
        group: 'MFA Users',
        defaultCountry: 'DE',
        maxRemovalPercent: 10,
      });
      const s = await sync.run();
      console.log(`Samba sync of ${s.seen} members took ${s.durationMs} ms`);
      expect(s).toMatchObject({ state: 'ok', seen: BULK + 8, added: BULK + 6, removed: 0 });
      expect(s.skipped.map((k) => `${k.username}:${k.reason}`).sort()).toEqual([
        'carol:disabled',
        'gina:no-number',
      ]);
      const users = store.table<{ mobile: string; secondaryMobile?: string; groups: string[] }>('users');
      expect(await users.get('bob')).toMatchObject({ mobile: '+4915187654321', groups: ['VPN Team'] });
      expect(await users.get('alice')).toMatchObject({
        mobile: '+4915112345678',
        secondaryMobile: '+491605550001',
      });
      expect(await users.get('bulk00777')).toMatchObject({ mobile: '+4915199000777' });
      expect(await users.get('frank')).toBeUndefined();
    } finally {
      await store.close();
      rmSync(data, { recursive: true, force: true });
    }
  });
});
