import { describe, expect, it } from 'vitest';
import {
  dialectSettings,
  entryToUser,
  firstRdnValue,
  groupMembersFilter,
  isDn,
  parseLogin,
  pickEntry,
  userAttributes,
  userSearchFilter,
} from '../../../firmware/src/directory/dialects.ts';

const ad = dialectSettings({
  dialect: 'ad',
  attributes: {},
  userFilter: undefined,
  baseDn: 'DC=corp,DC=example',
});
const ol = dialectSettings({
  dialect: 'openldap',
  attributes: {},
  userFilter: undefined,
  baseDn: 'dc=example,dc=com',
});

describe('login names', () => {
  it('accepts user, DOMAIN\\user and user@domain', () => {
    expect(parseLogin('alice')).toEqual({ form: 'plain', name: 'alice' });
    expect(parseLogin('CORP\\alice')).toEqual({ form: 'down-level', domain: 'CORP', name: 'alice' });
    expect(parseLogin(' alice@corp.example ')).toEqual({
      form: 'upn',
      full: 'alice@corp.example',
      name: 'alice',
      domain: 'corp.example',
    });
  });

  it('refuses empty, control characters (NUL) and malformed forms before any query', () => {
    for (const bad of [
      '',
      '   ',
      'alice\u0000',
      'a\nb',
      'CORP\\',
      'CORP\\a\\b',
      '@corp',
      'alice@',
      'x'.repeat(257),
    ])
      expect(parseLogin(bad), JSON.stringify(bad)).toBeUndefined();
  });
});

describe('filters', () => {
  it('AD searches sAMAccountName, and UPN or sAMAccountName for user@domain', () => {
    expect(userSearchFilter(ad, parseLogin('CORP\\alice')!)).toBe(
      '(&(&(objectCategory=person)(objectClass=user))(sAMAccountName=alice))',
    );
    expect(userSearchFilter(ad, parseLogin('alice@corp.example')!)).toBe(
      '(&(&(objectCategory=person)(objectClass=user))(|(userPrincipalName=alice@corp.example)(sAMAccountName=alice)))',
    );
    expect(userSearchFilter(ad, parseLogin('alice@CORP.EXAMPLE.')!)).toMatch(/\(sAMAccountName=alice\)/);
  });

  it('a domain that is not the directory’s never reaches the login attribute', () => {
    // A UPN in another suffix is matched whole, never by its user part.
    expect(userSearchFilter(ad, parseLogin('alice@partner.example')!)).toBe(
      '(&(&(objectCategory=person)(objectClass=user))(userPrincipalName=alice@partner.example))',
    );
    expect(userSearchFilter(ad, parseLogin('PARTNER\\alice')!)).toBeUndefined();
    expect(userSearchFilter(ad, parseLogin('corp.example\\alice')!)).toContain('(sAMAccountName=alice)');
    // directory.loginDomains adds a NetBIOS name or UPN suffix; srvDomain counts as own.
    const more = dialectSettings({
      dialect: 'ad',
      attributes: {},
      userFilter: undefined,
      baseDn: 'DC=corp,DC=example',
      srvDomain: 'ad.corp.example',
      loginDomains: ['CORPHQ', 'corp-example.com'],
    });
    expect(more.domains).toEqual([
      'corp.example',
      'corp',
      'ad.corp.example',
      'ad',
      'corphq',
      'corp-example.com',
    ]);
    expect(userSearchFilter(more, parseLogin('CORPHQ\\alice')!)).toContain('(sAMAccountName=alice)');
    expect(userSearchFilter(more, parseLogin('alice@corp-example.com')!)).toContain('(sAMAccountName=alice)');
  });

  it('OpenLDAP searches uid / mail, injection escaped', () => {
    expect(userSearchFilter(ol, parseLogin('*)(uid=*')!)).toBe(
      '(&(objectClass=inetOrgPerson)(uid=\\2a\\29\\28uid=\\2a))',
    );
  });

  it('group members: AD in chain (nested), OpenLDAP direct memberOf; the DN is escaped', () => {
    expect(groupMembersFilter(ad, 'CN=MFA (VPN),DC=x')).toBe(
      '(&(&(objectCategory=person)(objectClass=user))(memberOf:1.2.840.113556.1.4.1941:=CN=MFA \\28VPN\\29,DC=x))',
    );
    expect(groupMembersFilter(ol, 'cn=MFA Users,ou=groups,dc=x')).toBe(
      '(&(objectClass=inetOrgPerson)(memberOf=cn=MFA Users,ou=groups,dc=x))',
    );
  });

  it('attribute names are configurable; "" switches the secondary number and the email address off', () => {
    const s = dialectSettings({
      dialect: 'ad',
      attributes: { mobile: 'pager', secondaryMobile: '', email: '' },
      userFilter: 'objectClass=user',
    });
    expect(s.userFilter).toBe('(objectClass=user)');
    expect(userAttributes(s)).toEqual([
      'sAMAccountName',
      'userPrincipalName',
      'pager',
      'displayName',
      'memberOf',
      'userAccountControl',
    ]);
    expect(userAttributes(ol)).toEqual([
      'uid',
      'mail',
      'mobile',
      'cn',
      'memberOf',
      'telephoneNumber',
      'pwdAccountLockedTime',
      'pwdReset',
    ]);
    // The sync reads what it maps (memberMapper) and nothing login-only; mail is the email
    // method's address (directory.attributes.email), shown by `mfabox user show`.
    expect(userAttributes(ol, 'sync')).toEqual([
      'uid',
      'mobile',
      'cn',
      'memberOf',
      'telephoneNumber',
      'mail',
      'pwdAccountLockedTime',
    ]);
    expect(userAttributes(ad, 'sync')).toEqual([
      'sAMAccountName',
      'mobile',
      'displayName',
      'memberOf',
      'otherMobile',
      'mail',
      'userAccountControl',
    ]);
  });
});

describe('entries', () => {
  it('maps an AD entry: numbers primary first, groups by CN, disabled from userAccountControl', () => {
    const u = entryToUser(ad, {
      dn: 'CN=alice,CN=Users,DC=x',
      sAMAccountName: 'alice',
      mobile: '+49 151 1',
      otherMobile: ['+49 160 2', '+49 151 1'],
      memberOf: ['CN=MFA Users,CN=Users,DC=x', 'CN=Smith\\, John Fans,DC=x'],
      userAccountControl: '514',
      MAIL: 'alice.smith@corp.example',
    });
    expect(u).toMatchObject({
      username: 'alice',
      email: 'alice.smith@corp.example',
      mobiles: ['+49 151 1', '+49 160 2'],
      secondaryMobiles: ['+49 160 2'],
      groups: ['MFA Users', 'Smith, John Fans'],
      disabled: true,
      locked: false,
    });
  });

  it('maps ppolicy lock marks: forever = disabled, a time = locked', () => {
    expect(
      entryToUser(ol, { dn: 'uid=c,dc=x', uid: 'c', pwdAccountLockedTime: '000001010000Z' }),
    ).toMatchObject({ disabled: true, locked: false });
    expect(
      entryToUser(ol, { dn: 'uid=c,dc=x', uid: 'c', pwdaccountlockedtime: '20260101000000Z' }),
    ).toMatchObject({ disabled: false, locked: true });
  });

  it('picks the exact UPN match, refuses two candidates otherwise', () => {
    const a = { dn: 'CN=a', userPrincipalName: 'alice@corp.example', sAMAccountName: 'al' };
    const b = { dn: 'CN=b', sAMAccountName: 'alice' };
    expect(pickEntry(ad, parseLogin('alice@corp.example')!, [b, a])).toBe(a);
    expect(pickEntry(ad, parseLogin('alice@other.example')!, [b, a])).toBeUndefined();
    expect(pickEntry(ad, parseLogin('alice')!, [b])).toBe(b);
  });

  it('reads RDN values with DN escapes', () => {
    expect(firstRdnValue('CN=VPN Team,OU=G,DC=x')).toBe('VPN Team');
    expect(firstRdnValue('cn=a\\2cb+uid=x,dc=y')).toBe('a,b');
    expect(isDn('CN=MFA Users,DC=x')).toBe(true);
    expect(isDn('MFA Users')).toBe(false);
  });
});
