import { describe, expect, it } from 'vitest';
import {
  buildPolicy,
  type PolicyContext,
  type PolicyDecision,
  type PolicyRule,
  type PolicySettings,
} from '../../../firmware/src/auth/policy.ts';
import { passcodeSchema, policySchema } from '../../../firmware/src/config/schema.ts';

const defaults: PolicySettings = policySchema.parse({});

function ctx(over: Partial<PolicyContext> = {}, groups = ['MFA Users']): PolicyContext {
  return {
    user: { username: 'alice', groups },
    clientIp: undefined,
    nas: 'netscaler',
    mobile: '+15550000001',
    now: 0,
    ...over,
  };
}

describe('policy', () => {
  it('defaults: a member with a number is challenged', () => {
    expect(buildPolicy(defaults).decide(ctx())).toEqual({ action: 'challenge' });
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
    expect(buildPolicy(defaults).decide(ctx({}, ['mfa users']))).toEqual({ action: 'challenge' });
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
    expect(p.decide(ctx({}, []))).toEqual({ action: 'challenge' });
  });

  it('no usable number: reject by default, password only when configured', () => {
    const p = buildPolicy(defaults);
    expect(p.decide(ctx({ mobile: undefined }))).toMatchObject({
      action: 'reject',
      rule: 'mobile-number',
      reason: 'no-mobile-number',
    });
    const lenient = buildPolicy({ ...defaults, rejectWithoutNumber: false });
    expect(lenient.decide(ctx({ mobile: undefined }))).toMatchObject({
      action: 'accept',
      rule: 'mobile-number',
    });
  });

  it('exempt groups skip the passcode (even without a number), case-insensitively', () => {
    const p = buildPolicy({ ...defaults, exemptGroups: ['Break Glass'] });
    expect(p.decide(ctx({ mobile: undefined }, ['MFA Users', 'break glass']))).toMatchObject({
      action: 'accept',
      rule: 'exempt-group',
    });
    expect(p.decide(ctx())).toEqual({ action: 'challenge' });
  });

  describe('a group configured as a DN', () => {
    const dn = 'CN=MFA Users,OU=Groups,DC=corp,DC=example';
    const user = (groupDns: string[] | undefined, groups = ['MFA Users']): PolicyContext =>
      ctx({ user: { username: 'alice', groups, ...(groupDns ? { groupDns } : {}) } });

    it('admits a member whose group DN the directory spells differently', () => {
      const p = buildPolicy({ ...defaults, mfaGroup: 'cn=mfa users, ou=groups, dc=corp, dc=example' });
      expect(p.decide(user([dn]))).toEqual({ action: 'challenge' });
      expect(buildPolicy({ ...defaults, mfaGroup: dn }).decide(user(['CN=Staff,DC=x', dn]))).toEqual({
        action: 'challenge',
      });
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
      expect(buildPolicy(defaults).decide(user(['CN=MFA Users,OU=Anywhere,DC=x']))).toEqual({
        action: 'challenge',
      });
    });

    it('exempt groups match by DN the same way, and name the configured group', () => {
      const glass = 'CN=Break Glass,OU=Admins,DC=corp,DC=example';
      const p = buildPolicy({ ...defaults, mfaGroup: dn, exemptGroups: ['Nobody', glass] });
      expect(
        p.decide(
          ctx({
            mobile: undefined,
            user: {
              username: 'root',
              groups: ['MFA Users', 'Break Glass'],
              groupDns: [dn, 'cn=break glass,ou=admins,dc=corp,dc=example'],
            },
          }),
        ),
      ).toEqual({ action: 'accept', rule: 'exempt-group', detail: `member of exempt "${glass}"` });
      expect(
        p.decide(user([dn, 'CN=Break Glass,OU=Elsewhere,DC=corp,DC=example'], ['MFA Users', 'Break Glass'])),
      ).toEqual({ action: 'challenge' });
    });
  });

  it('trusted networks skip the passcode only for a parsed IP inside them', () => {
    const p = buildPolicy({ ...defaults, trustedNetworks: ['10.0.0.0/8', '2001:db8::/32'] });
    expect(p.decide(ctx({ clientIp: { family: 4, address: '10.9.8.7' }, mobile: undefined }))).toMatchObject({
      action: 'accept',
      rule: 'trusted-network',
    });
    expect(p.decide(ctx({ clientIp: { family: 6, address: '2001:db8::1' } }))).toMatchObject({
      action: 'accept',
      rule: 'trusted-network',
    });
    expect(p.decide(ctx({ clientIp: { family: 4, address: '11.0.0.1' } }))).toEqual({ action: 'challenge' });
    expect(p.decide(ctx({ clientIp: undefined }))).toEqual({ action: 'challenge' });
  });

  it('a trusted network never admits a user outside the MFA group', () => {
    const p = buildPolicy({ ...defaults, trustedNetworks: ['0.0.0.0/0'] });
    expect(p.decide(ctx({ clientIp: { family: 4, address: '10.0.0.1' } }, ['Staff']))).toMatchObject({
      action: 'reject',
      reason: 'not-in-mfa-group',
    });
  });

  it('rules run in order: group, exempt, trusted, extra rules, number', () => {
    const seen: string[] = [];
    const probe: PolicyRule = {
      name: 'trusted-network',
      evaluate: () => {
        seen.push('extra');
        return undefined;
      },
    };
    const p = buildPolicy(defaults, [probe]);
    expect(p.rules.map((r) => r.name)).toEqual([
      'mfa-group',
      'exempt-group',
      'trusted-network',
      'trusted-network',
      'mobile-number',
    ]);
    p.decide(ctx());
    expect(seen).toEqual(['extra']);
    const decisive: PolicyDecision = { action: 'accept', rule: 'trusted-network', detail: 'x' };
    const p2 = buildPolicy(defaults, [{ name: 'trusted-network', evaluate: () => decisive }]);
    expect(p2.decide(ctx({ mobile: undefined }))).toBe(decisive);
    // The group rule still comes first.
    expect(p2.decide(ctx({}, []))).toMatchObject({ action: 'reject', reason: 'not-in-mfa-group' });
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
