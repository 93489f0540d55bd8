/**
 * A group configured by DN, end to end against a real slapd: config → LDAP directory → login
 * policy → RADIUS answer. A CN is not unique (here a second "MFA Users" lives in another OU), so
 * the admin gives the DN, as `mfabox directory test` tells them to; its members must get their
 * passcode and the members of the same-named group must not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthEngine, type AuthDecision } from '../../firmware/src/auth/engine.ts';
import { cryptoRandom, systemClock } from '../../firmware/src/clock.ts';
import { parseConfig } from '../../firmware/src/config/load.ts';
import { ErrorCode, isMfaError } from '../../firmware/src/errors.ts';
import type { NasClient } from '../../firmware/src/auth/types.ts';
import { openStore, type Store } from '../../firmware/src/store/store.ts';
import { FakeOutbox } from '../unit/auth/doubles.ts';
import { LdapFixtures, ldapConfig, slapdDirectory } from './ldap-fixtures.ts';
import { startPeer, type Facts, type Peer } from './peers.ts';

let peer: Peer;
let f: Facts;
let data: string;
let store: Store;
const fx = new LdapFixtures();

const nas: NasClient = {
  name: 'netscaler',
  match: '127.0.0.1',
  requireMessageAuthenticator: 'yes',
  passwordCheck: 'directory',
  acceptAttributes: [],
};

beforeAll(async () => {
  peer = await startPeer('scripts/start-slapd.sh', {});
  f = peer.facts;
  // A second group named "MFA Users", in another OU, with frank in it (online, so the memberof
  // overlay gives frank the memberOf value a real directory would).
  const admin = new Client({ url: f.LDAP_URL, tlsOptions: undefined });
  try {
    await admin.bind(f.ADMIN_DN, f.ADMIN_PW);
    await admin.add(`ou=contractors,${f.BASE}`, { objectClass: 'organizationalUnit', ou: 'contractors' });
    await admin.add(`cn=MFA Users,ou=contractors,${f.BASE}`, {
      objectClass: 'groupOfNames',
      cn: 'MFA Users',
      member: `uid=frank,ou=people,${f.BASE}`,
    });
  } finally {
    await admin.unbind();
  }
  data = mkdtempSync(join(tmpdir(), 'mfabox-slapd-groupdn-'));
  store = await openStore(data);
});

afterAll(async () => {
  await fx.closeAll();
  await store?.close();
  if (data) rmSync(data, { recursive: true, force: true });
  await peer?.stop();
});

/** The engine as `mfabox start` builds it, on a config file's directory and policy sections. */
async function engineFor(directory: Record<string, unknown>, policy: Record<string, unknown> = {}) {
  const config = parseConfig({
    defaultCountry: 'DE',
    directory: { kind: 'ldap', ...slapdDirectory(f), ...directory },
    policy,
  });
  const outbox = new FakeOutbox(store);
  const decisions: AuthDecision[] = [];
  const engine = createAuthEngine({
    directory: await fx.dir(ldapConfig({ ...slapdDirectory(f), ...directory })),
    outbox,
    store,
    clock: systemClock,
    random: cryptoRandom,
    config: {
      passcode: config.passcode,
      policy: config.policy,
      defaultCountry: 'DE',
      deviceSecret: Buffer.alloc(32, 7),
    },
    onDecision: (d) => decisions.push(d),
  });
  let id = 0;
  const login = async (user: string) => {
    const r = await engine.handle(
      {
        source: { address: '127.0.0.1', port: 40000 },
        identifier: ++id % 256,
        userName: user,
        password: f.USER_PW,
      },
      nas,
    );
    return { code: r.code, decision: decisions.at(-1) };
  };
  return { config, login, outbox, engine };
}

describe('a group given as a DN (slapd)', () => {
  it('the name alone is now ambiguous, and the directory says to give the DN', async () => {
    const d = await fx.dir(ldapConfig(slapdDirectory(f)));
    const err = await (async () => {
      for await (const _ of d.listGroupMembers('MFA Users')) break;
    })().catch((e: unknown) => e);
    expect(isMfaError(err) && err.code).toBe(ErrorCode.DirectoryGroupNotFound);
    expect(String(err)).toMatch(/ambiguous.*give its DN/);
  });

  it('members of the configured DN are challenged; members of the same-named group and outsiders are rejected', async () => {
    // Spelled as an admin types it: other case, spaces after the commas.
    const dn = `CN=MFA Users, OU=Groups, ${f.BASE.toUpperCase().replace(/,/g, ', ')}`;
    const { config, login, outbox, engine } = await engineFor({ group: dn });
    try {
      expect(config.policy.mfaGroup).toBe(dn);
      const alice = await login('alice');
      expect(alice.code).toBe('Access-Challenge');
      expect(alice.decision).toMatchObject({ outcome: 'challenge', reason: 'challenge-sent' });
      expect((await outbox.entries()).map((e) => e.username)).toContain('alice');
      const frank = await login('frank');
      expect(frank.code).toBe('Access-Reject');
      expect(frank.decision).toMatchObject({ outcome: 'reject', reason: 'not-in-mfa-group' });
    } finally {
      await engine.stop();
    }
  });

  it('an exempt group given as a DN lets its members in without a passcode, not the same-named group', async () => {
    const { login, engine } = await engineFor(
      { group: `cn=MFA Users,ou=groups,${f.BASE}` },
      { exemptGroups: [`cn=staff,ou=groups,${f.BASE}`] },
    );
    try {
      // alice: MFA Users + Staff → exempt, no SMS.
      expect(await login('alice')).toMatchObject({
        code: 'Access-Accept',
        decision: { outcome: 'accept', rule: 'exempt-group' },
      });
      // bob: MFA Users only → still a passcode.
      expect((await login('bob')).code).toBe('Access-Challenge');
    } finally {
      await engine.stop();
    }
  });
});
