import { describe, expect, it } from 'vitest';
import { passcodeSchema, policySchema, type PolicyConfig } from '../../../firmware/src/config/schema.ts';
import { compilePolicy } from '../../../firmware/src/auth/policy.ts';
import type { PolicyInput } from '../../../firmware/src/auth/conditions.ts';

const defaults: PolicyConfig = policySchema.parse({});

/** The built-in gates (MFA group, exempt groups, trusted networks) with no admin rules. */
function buildPolicy(settings: Partial<PolicyConfig>) {
  return compilePolicy({ ...defaults, ...settings });
}

const CHALLENGE = { action: 'challenge', chain: 'default', rule: 'default' };

function ctx(over: Partial<PolicyInput> = {}, groups = ['MFA Users']): PolicyInput {
  return {
    user: { username: 'alice', groups },
    clientIp: undefined,
    client: 'netscaler',
    now: 0,
    country: { known: false, why: 'no GeoIP database' },
    ipHistory: { known: false, why: 'not asked' },
    ...over,
  };
}

describe('policy', () => {
  it('defaults: a member with a number is challenged', () => {
    expect(buildPolicy(defaults).decide(ctx())).toMatchObject(CHALLENGE);
  });

  it('the schema defaults are the documented ones', () => {
    expect(defaults).toMatchObject({
      trustedNetworks: [],
      mfaGroup: 'MFA Users',
      rejectOutsideGroup: true,
      rejectWithoutNumber: true,
      exemptGroups: [],
    });
  });

  it('group membership is case-insensitive', () => {
    expect(buildPolicy(defaults).decide(ctx({}, ['mfa users']))).toMatchObject(CHALLENGE);
  });

  it('outside the MFA group: reject by default, password only when configured', () => {
    const p = buildPolicy(defaults);
    expect(p.decide(ctx({}, ['Staff']))).toMatchObject({
      action: 'reject',
      rule: 'mfa-group',
      reason: 'not-in-mfa-group',
    });
    expect(p.decide(ctx({}, []))).toMatchObject({ action: 'reject', reason: 'not-in-mfa-group' });
    const lenient = buildPolicy({ ...defaults, rejectOutsideGroup: false });
    expect(lenient.decide(ctx({}, ['Staff']))).toMatchObject({ action: 'accept', rule: 'mfa-group' });
  });

  it('an empty mfaGroup puts every user under MFA', () => {
    const p = buildPolicy({ ...defaults, mfaGroup: '' });
    expect(p.decide(ctx({}, []))).toMatchObject(CHALLENGE);
  });

  it('exempt groups skip the passcode (even without a number), case-insensitively', () => {
    const p = buildPolicy({ ...defaults, exemptGroups: ['Break Glass'] });
    expect(p.decide(ctx({}, ['MFA Users', 'break glass']))).toMatchObject({
      action: 'accept',
      rule: 'exempt-group',
    });
    expect(p.decide(ctx())).toMatchObject(CHALLENGE);
  });

  describe('a group configured as a DN', () => {
    const dn = 'CN=MFA Users,OU=Groups,DC=corp,DC=example';
    const user = (groupDns: string[] | undefined, groups = ['MFA Users']): PolicyInput =>
      ctx({ user: { username: 'alice', groups, ...(groupDns ? { groupDns } : {}) } });

    it('admits a member whose group DN the directory spells differently', () => {
      const p = buildPolicy({ ...defaults, mfaGroup: 'cn=mfa users, ou=groups, dc=corp, dc=example' });
      expect(p.decide(user([dn]))).toMatchObject(CHALLENGE);
      expect(buildPolicy({ ...defaults, mfaGroup: dn }).decide(user(['CN=Staff,DC=x', dn]))).toMatchObject(
        CHALLENGE,
      );
    });

    it('is not satisfied by a same-named group in another OU, nor by the name alone', () => {
      const p = buildPolicy({ ...defaults, mfaGroup: dn });
      expect(p.decide(user(['CN=MFA Users,OU=Contractors,DC=corp,DC=example']))).toMatchObject({
        action: 'reject',
        reason: 'not-in-mfa-group',
      });
      // A directory that gives names only (the demo) cannot prove membership of a DN.
      expect(p.decide(user(undefined))).toMatchObject({ action: 'reject', reason: 'not-in-mfa-group' });
      const lenient = buildPolicy({ ...defaults, mfaGroup: dn, rejectOutsideGroup: false });
      expect(lenient.decide(user([]))).toMatchObject({ action: 'accept', rule: 'mfa-group' });
    });

    it('a name still matches by CN when the user has DNs too', () => {
      expect(buildPolicy(defaults).decide(user(['CN=MFA Users,OU=Anywhere,DC=x']))).toMatchObject(CHALLENGE);
    });

    it('exempt groups match by DN the same way, and name the configured group', () => {
      const glass = 'CN=Break Glass,OU=Admins,DC=corp,DC=example';
      const p = buildPolicy({ ...defaults, mfaGroup: dn, exemptGroups: ['Nobody', glass] });
      expect(
        p.decide(
          ctx({
            user: {
              username: 'root',
              groups: ['MFA Users', 'Break Glass'],
              groupDns: [dn, 'cn=break glass,ou=admins,dc=corp,dc=example'],
            },
          }),
        ),
      ).toMatchObject({ action: 'accept', rule: 'exempt-group' });
      expect(
        p.decide(user([dn, 'CN=Break Glass,OU=Elsewhere,DC=corp,DC=example'], ['MFA Users', 'Break Glass'])),
      ).toMatchObject(CHALLENGE);
    });
  });

  it('trusted networks skip the passcode only for a parsed IP inside them', () => {
    const p = buildPolicy({ ...defaults, trustedNetworks: ['10.0.0.0/8', '2001:db8::/32'] });
    expect(p.decide(ctx({ clientIp: { family: 4, address: '10.9.8.7' } }))).toMatchObject({
      action: 'accept',
      rule: 'trusted-network',
    });
    expect(p.decide(ctx({ clientIp: { family: 6, address: '2001:db8::1' } }))).toMatchObject({
      action: 'accept',
      rule: 'trusted-network',
    });
    expect(p.decide(ctx({ clientIp: { family: 4, address: '11.0.0.1' } }))).toMatchObject(CHALLENGE);
    expect(p.decide(ctx({ clientIp: undefined }))).toMatchObject(CHALLENGE);
  });

  it('a trusted network never admits a user outside the MFA group', () => {
    const p = buildPolicy({ ...defaults, trustedNetworks: ['0.0.0.0/0'] });
    expect(p.decide(ctx({ clientIp: { family: 4, address: '10.0.0.1' } }, ['Staff']))).toMatchObject({
      action: 'reject',
      reason: 'not-in-mfa-group',
    });
  });

  it('the built-in gates run in order: group, exempt, trusted, then the default chain', () => {
    const p = buildPolicy({ exemptGroups: ['Break Glass'], trustedNetworks: ['10.0.0.0/8'] });
    const v = p.decide(ctx({ clientIp: { family: 4, address: '10.0.0.1' } }, ['MFA Users', 'Break Glass']));
    expect(v.trace.map((t) => t.rule)).toEqual(['mfa-group', 'exempt-group']);
    expect(p.decide(ctx()).trace.map((t) => t.rule)).toEqual([
      'mfa-group',
      'exempt-group',
      'trusted-network',
      'default',
    ]);
  });

  it('refuses an invalid trusted network when built', () => {
    expect(() => buildPolicy({ ...defaults, trustedNetworks: ['10.0.0.0/40'] })).toThrow(RangeError);
  });

  it('the config schema refuses invalid CIDRs, naming the field', () => {
    const r = policySchema.safeParse({ trustedNetworks: ['10.0.0.0/8', 'bogus'] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['trustedNetworks', 1]);
  });

  it('the passcode schema refuses an SMS text without {code}', () => {
    expect(passcodeSchema.safeParse({ smsTemplate: 'Your code is ready' }).success).toBe(false);
    expect(passcodeSchema.safeParse({ smsTemplate: 'Code: {code}' }).success).toBe(true);
  });
});
