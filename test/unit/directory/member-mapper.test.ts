import { describe, expect, it } from 'vitest';
import {
  dialectSettings,
  entryToUser,
  memberMapper,
  type DialectSettings,
  type RawEntry,
} from '../../../firmware/src/directory/dialects.ts';

/** A small deterministic PRNG, so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

/** Values in every shape ldapts returns: absent, one string, several, Buffers, empty strings. */
function value(r: () => number, pool: readonly string[]): unknown {
  const k = r();
  if (k < 0.2) return undefined;
  if (k < 0.5) return pick(r, pool);
  if (k < 0.6) return Buffer.from(pick(r, pool));
  const n = 1 + Math.floor(r() * 3);
  return Array.from({ length: n }, () => (r() < 0.15 ? Buffer.from(pick(r, pool)) : pick(r, pool)));
}

const spell = (r: () => number, attr: string) => pick(r, [attr, attr.toLowerCase(), attr.toUpperCase()]);

function randomEntry(r: () => number, s: DialectSettings, i: number): RawEntry {
  const numbers = ['+49 151 1', '+49 160 2', '0151 1234567', '', '(555) 010-0001', '+4915199000001'];
  const groups = ['CN=MFA Users,CN=Users,DC=x', 'CN=Smith\\, John Fans,DC=x', 'cn=VPN,ou=g,dc=x', ''];
  const e: Record<string, unknown> = { dn: pick(r, [`CN=user${i},DC=x`, `uid=u\\2c${i},dc=x`]) };
  const attrs = [
    s.login,
    s.mobile,
    s.secondaryMobile ?? 'telephoneNumber',
    s.displayName,
    s.memberOf,
    'userAccountControl',
    'pwdAccountLockedTime',
    'pwdReset',
    'mail',
  ];
  for (const a of attrs) {
    const pool =
      a === s.memberOf
        ? groups
        : a === 'userAccountControl'
          ? ['512', '514', '66050', 'x']
          : a === 'pwdAccountLockedTime'
            ? ['000001010000Z', '20260101000000Z']
            : a === s.mobile || a === s.secondaryMobile
              ? numbers
              : [`name${i}`, `Name ${i % 7}`, ''];
    const v = value(r, pool);
    if (v !== undefined) e[spell(r, a)] = v;
    // Sometimes a server sends one attribute twice in different case: the last one wins in both.
    if (r() < 0.05) e[spell(r, a).toUpperCase()] = value(r, pool) ?? '';
  }
  return e as RawEntry;
}

describe('memberMapper (the sync mapping)', () => {
  const dialects: [string, DialectSettings][] = [
    ['ad', dialectSettings({ dialect: 'ad', attributes: {}, userFilter: undefined })],
    ['openldap', dialectSettings({ dialect: 'openldap', attributes: {}, userFilter: undefined })],
    [
      'no secondary',
      dialectSettings({ dialect: 'ad', attributes: { secondaryMobile: '' }, userFilter: undefined }),
    ],
    [
      'one attribute for both numbers',
      dialectSettings({
        dialect: 'openldap',
        attributes: { secondaryMobile: 'mobile' },
        userFilter: undefined,
      }),
    ],
  ];

  it.each(dialects)('%s: equals entryToUser without the login-only fields over 5,000 entries', (_, s) => {
    const r = rng(0x5eed);
    const map = memberMapper(s);
    for (let i = 0; i < 5000; i++) {
      const e = randomEntry(r, s, i);
      const { locked: _l, mustChange: _m, ...slow } = entryToUser(s, e);
      expect(map(e), JSON.stringify(e)).toStrictEqual(slow);
    }
  });

  it('maps a member: numbers primary first, groups by CN and by DN, disabled', () => {
    const s = dialects[0]?.[1] as DialectSettings;
    expect(
      memberMapper(s)({
        dn: 'CN=alice,CN=Users,DC=x',
        sAMAccountName: 'alice',
        mobile: '+49 151 1',
        otherMobile: ['+49 160 2', '+49 151 1'],
        memberOf: ['CN=MFA Users,CN=Users,DC=x', 'CN=Smith\\, John Fans,DC=x'],
        userAccountControl: '514',
      }),
    ).toStrictEqual({
      username: 'alice',
      dn: 'CN=alice,CN=Users,DC=x',
      mobiles: ['+49 151 1', '+49 160 2'],
      secondaryMobiles: ['+49 160 2'],
      groups: ['MFA Users', 'Smith, John Fans'],
      groupDns: ['CN=MFA Users,CN=Users,DC=x', 'CN=Smith\\, John Fans,DC=x'],
      disabled: true,
    });
  });
});
