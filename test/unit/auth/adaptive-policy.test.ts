import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../firmware/src/config/schema.ts';
import { ruleSchema } from '../../../firmware/src/config/auth-schema.ts';
import { parseCallingStationId } from '../../../firmware/src/auth/calling-station.ts';
import { localTime, type PolicyInput } from '../../../firmware/src/auth/conditions.ts';
import { compilePolicy, explainCompact, explainLines } from '../../../firmware/src/auth/policy.ts';

function policy(raw: Record<string, unknown>) {
  return compilePolicy(configSchema.parse({ policy: { mfaGroup: '', ...raw } }).policy);
}

function input(over: Partial<PolicyInput> & { ip?: string } = {}): PolicyInput {
  const { ip, ...rest } = over;
  return {
    user: {
      username: 'alice',
      groups: ['MFA Users', 'Staff'],
      groupDns: ['CN=Staff,OU=Groups,DC=corp,DC=example'],
    },
    clientIp: parseCallingStationId(ip ?? '198.51.100.7'),
    client: 'netscaler',
    now: Date.UTC(2026, 2, 4, 10, 0), // Wednesday 10:00 UTC
    country: { known: true, code: 'DE' },
    ipHistory: { known: true, lastSeen: undefined },
    ...rest,
  };
}

const rule = (r: Record<string, unknown>) => ({ name: 'r', ...r });

describe('adaptive policy: order and actions', () => {
  it('with no rules: challenge with the default chain', () => {
    const v = policy({}).decide(input());
    expect(v).toMatchObject({ action: 'challenge', chain: 'default', rule: 'default' });
  });

  it('first match wins; reject, accept and challenge with a named chain', () => {
    const cfg = configSchema.parse({
      methods: { chains: { default: ['sms'], tokenonly: ['token'] } },
      policy: {
        mfaGroup: '',
        rules: [
          rule({ name: 'block', if: { clients: ['other'] }, then: 'reject' }),
          rule({ name: 'office', if: { networks: ['198.51.100.0/24'] }, then: 'accept' }),
          rule({ name: 'token', if: { groups: ['Staff'] }, then: { challenge: 'tokenonly' } }),
        ],
      },
    });
    const p = compilePolicy(cfg.policy);
    expect(p.decide(input({ client: 'other' }))).toMatchObject({
      action: 'reject',
      reason: 'policy-reject',
      rule: 'block',
    });
    expect(p.decide(input())).toMatchObject({ action: 'accept', rule: 'office' });
    expect(p.decide(input({ ip: '203.0.113.1' }))).toMatchObject({
      action: 'challenge',
      chain: 'tokenonly',
      rule: 'token',
    });
    expect(p.decide(input({ ip: '203.0.113.1', user: { username: 'x', groups: [] } }))).toMatchObject({
      rule: 'default',
    });
  });

  it('a rule naming a chain that does not exist is refused by the config', () => {
    const r = configSchema.safeParse({ policy: { rules: [rule({ then: { challenge: 'nope' } })] } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('no chain');
  });

  it('keeps the built-in gates: MFA group first, exempt group and trusted networks after the rules', () => {
    const p = policy({
      mfaGroup: 'MFA Users',
      exemptGroups: ['Break Glass'],
      trustedNetworks: ['10.0.0.0/8'],
      rules: [rule({ name: 'nights', if: { time: { from: '22:00', to: '06:00' } }, then: 'reject' })],
    });
    expect(p.decide(input({ user: { username: 'x', groups: [] } }))).toMatchObject({
      action: 'reject',
      reason: 'not-in-mfa-group',
    });
    expect(p.decide(input({ ip: '10.1.2.3' }))).toMatchObject({ action: 'accept', rule: 'trusted-network' });
    expect(p.decide(input({ user: { username: 'y', groups: ['MFA Users', 'Break Glass'] } }))).toMatchObject({
      action: 'accept',
      rule: 'exempt-group',
    });
    // The admin's rule comes before the trusted network.
    expect(p.decide(input({ ip: '10.1.2.3', now: Date.UTC(2026, 2, 4, 23, 0) }))).toMatchObject({
      action: 'reject',
      rule: 'nights',
    });
  });

  it('outside the MFA group with rejectOutsideGroup false: password only', () => {
    const p = policy({ mfaGroup: 'MFA Users', rejectOutsideGroup: false });
    expect(p.decide(input({ user: { username: 'x', groups: [] } }))).toMatchObject({
      action: 'accept',
      rule: 'mfa-group',
    });
  });
});

describe('conditions', () => {
  const one = (iff: Record<string, unknown>, over: Partial<PolicyInput> & { ip?: string } = {}) =>
    policy({ rules: [rule({ if: iff, then: 'reject' })] }).decide(input(over)).rule === 'r';

  it('client (case-insensitive)', () => {
    expect(one({ clients: ['NetScaler'] })).toBe(true);
    expect(one({ clients: ['vpn2'] })).toBe(false);
  });

  it('groups and notGroups by name or by DN (a DN is not satisfied by a same-named group elsewhere)', () => {
    expect(one({ groups: ['staff'] })).toBe(true);
    expect(one({ groups: ['CN=Staff,OU=Groups,DC=corp,DC=example'] })).toBe(true);
    expect(one({ groups: ['cn=staff, ou=groups, dc=corp, dc=example'] })).toBe(true);
    expect(one({ groups: ['CN=Staff,OU=Other,DC=corp,DC=example'] })).toBe(false);
    expect(one({ notGroups: ['Contractors'] })).toBe(true);
    expect(one({ notGroups: ['Staff'] })).toBe(false);
  });

  it('networks, IPv4 and IPv6, and the IPv4-mapped form', () => {
    expect(one({ networks: ['198.51.100.0/24'] })).toBe(true);
    expect(one({ networks: ['198.51.101.0/24'] })).toBe(false);
    expect(one({ networks: ['2001:db8:abcd::/48'] }, { ip: '2001:db8:abcd:12::1' })).toBe(true);
    expect(one({ networks: ['2001:db8:abcd::/48'] }, { ip: '[2001:db8:abce::1]:443' })).toBe(false);
    expect(one({ networks: ['198.51.100.0/24'] }, { ip: '::ffff:198.51.100.9' })).toBe(true);
    expect(one({ notNetworks: ['10.0.0.0/8'] })).toBe(true);
    expect(one({ notNetworks: ['198.51.100.0/24'] })).toBe(false);
  });

  it('an unknown end-user IP never matches, for networks or notNetworks, unless the rule says onUnknown: match', () => {
    expect(one({ networks: ['0.0.0.0/0'] }, { ip: 'aa-bb-cc-dd-ee-ff' })).toBe(false);
    expect(one({ notNetworks: ['10.0.0.0/8'] }, { ip: '' })).toBe(false);
    const p = policy({
      rules: [rule({ if: { notNetworks: ['10.0.0.0/8'] }, then: 'reject', onUnknown: 'match' })],
    });
    expect(p.decide(input({ ip: '' }))).toMatchObject({ action: 'reject', rule: 'r' });
  });

  it('an accept rule may not match on unknown (schema), and never does', () => {
    expect(
      ruleSchema.safeParse(rule({ if: { countries: ['DE'] }, then: 'accept', onUnknown: 'match' })).success,
    ).toBe(false);
    const p = policy({ rules: [rule({ if: { countries: ['DE'] }, then: 'accept' })] });
    expect(p.decide(input({ country: { known: false, why: 'no GeoIP database' } })).action).toBe('challenge');
    expect(p.decide(input()).action).toBe('accept');
  });

  it('countries and notCountries; no database = unknown, not a match', () => {
    expect(one({ countries: ['DE', 'AT'] })).toBe(true);
    expect(one({ countries: ['FR'] })).toBe(false);
    expect(one({ notCountries: ['DE'] })).toBe(false);
    expect(one({ notCountries: ['FR'] })).toBe(true);
    const nodb = { country: { known: false, why: 'no GeoIP database' } } as const;
    expect(one({ countries: ['DE'] }, nodb)).toBe(false);
    expect(one({ notCountries: ['DE'] }, nodb)).toBe(false);
  });

  it('IP history within N days; no IP is unknown', () => {
    const now = input().now;
    expect(
      one({ ipSeenWithinDays: 30 }, { ipHistory: { known: true, lastSeen: now - 29 * 86_400_000 } }),
    ).toBe(true);
    expect(
      one({ ipSeenWithinDays: 30 }, { ipHistory: { known: true, lastSeen: now - 31 * 86_400_000 } }),
    ).toBe(false);
    expect(one({ ipSeenWithinDays: 30 }, { ipHistory: { known: true, lastSeen: undefined } })).toBe(false);
    expect(one({ ipSeenWithinDays: 30 }, { ipHistory: { known: false, why: 'no IP' } })).toBe(false);
  });

  it('days and time windows in the configured zone, wrapping midnight', () => {
    const berlin = (iff: Record<string, unknown>, now: number) =>
      policy({ timeZone: 'Europe/Berlin', rules: [rule({ if: iff, then: 'reject' })] }).decide(input({ now }))
        .rule === 'r';
    // Wed 2026-03-04 07:30 UTC = 08:30 in Berlin (CET, +1).
    const t = Date.UTC(2026, 2, 4, 7, 30);
    expect(berlin({ time: { from: '08:00', to: '18:00' } }, t)).toBe(true);
    expect(berlin({ time: { from: '09:00', to: '18:00' } }, t)).toBe(false);
    expect(berlin({ days: ['wed'] }, t)).toBe(true);
    expect(berlin({ days: ['sat', 'sun'] }, t)).toBe(false);
    // 23:30 UTC Wednesday is 00:30 Thursday in Berlin: the local day counts.
    expect(
      berlin({ days: ['thu'], time: { from: '22:00', to: '06:00' } }, Date.UTC(2026, 2, 4, 23, 30)),
    ).toBe(true);
    expect(berlin({ time: { from: '22:00', to: '06:00' } }, Date.UTC(2026, 2, 4, 12, 0))).toBe(false);
    // 18:00 is outside [08:00, 18:00).
    expect(berlin({ time: { from: '08:00', to: '18:00' } }, Date.UTC(2026, 2, 4, 17, 0))).toBe(false);
  });

  it('DST: the same UTC time is 08:30 in winter and 09:30 in summer in Berlin', () => {
    const win = { time: { from: '09:00', to: '17:00' } };
    const p = policy({ timeZone: 'Europe/Berlin', rules: [rule({ if: win, then: 'reject' })] });
    expect(p.decide(input({ now: Date.UTC(2026, 2, 27, 7, 30) })).rule).toBe('default'); // Fri, CET
    expect(p.decide(input({ now: Date.UTC(2026, 2, 30, 7, 30) })).rule).toBe('r'); // Mon, CEST
    // The spring-forward night: 01:59 CET is followed by 03:00 CEST.
    expect(localTime(Date.UTC(2026, 2, 29, 0, 59), 'Europe/Berlin').minutes).toBe(1 * 60 + 59);
    expect(localTime(Date.UTC(2026, 2, 29, 1, 0), 'Europe/Berlin').minutes).toBe(3 * 60);
    // The fall-back night: 02:30 happens twice, both inside a 02:00–03:00 window.
    const fall = policy({
      timeZone: 'Europe/Berlin',
      rules: [rule({ if: { time: { from: '02:00', to: '03:00' } }, then: 'reject' })],
    });
    expect(fall.decide(input({ now: Date.UTC(2026, 9, 25, 0, 30) })).rule).toBe('r');
    expect(fall.decide(input({ now: Date.UTC(2026, 9, 25, 1, 30) })).rule).toBe('r');
    expect(fall.decide(input({ now: Date.UTC(2026, 9, 25, 2, 30) })).rule).toBe('default');
    // New York moves on another date than Berlin.
    expect(localTime(Date.UTC(2026, 2, 9, 14, 0), 'America/New_York').text).toBe(
      'mon 10:00 America/New_York',
    );
    expect(localTime(Date.UTC(2026, 2, 6, 14, 0), 'America/New_York').text).toBe(
      'fri 09:00 America/New_York',
    );
  });

  it('refuses a time zone that does not exist', () => {
    expect(configSchema.safeParse({ policy: { timeZone: 'Mars/Olympus' } }).success).toBe(false);
  });

  it('all conditions of a rule must hold', () => {
    expect(one({ clients: ['netscaler'], countries: ['DE'] })).toBe(true);
    expect(one({ clients: ['netscaler'], countries: ['FR'] })).toBe(false);
  });
});

describe('explain', () => {
  it('says, per rule and condition, what matched and why; the compact form names each answer', () => {
    const p = policy({
      rules: [
        rule({ name: 'abroad', if: { notCountries: ['DE'] }, then: 'reject' }),
        rule({ name: 'office', if: { networks: ['198.51.100.0/24'], ipSeenWithinDays: 7 }, then: 'accept' }),
      ],
    });
    const v = p.decide(input({ country: { known: false, why: 'no GeoIP database' } }));
    const lines = explainLines(v).join('\n');
    expect(lines).toContain('1. abroad: no match');
    expect(lines).toMatch(/unknown\s+country not in \[DE\] \(no GeoIP database\)/);
    expect(lines).toMatch(/yes\s+end-user IP in \[198.51.100.0\/24\] \(198.51.100.7 is inside\)/);
    expect(lines).toMatch(/no\s+MFA completed from this IP within 7 d \(never from this IP\)/);
    expect(lines).toContain('3. default: MATCH → challenge (chain "default")');
    expect(explainCompact(v)).toBe(
      'abroad(notCountries:?) office(networks:y,ipSeenWithinDays:n) default=MATCH()',
    );
    expect(p.needs).toEqual({ country: true, ipHistory: true });
  });
});
