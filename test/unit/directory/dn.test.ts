import { describe, expect, it } from 'vitest';
import { isDn, normalizeDn, sameDn } from '../../../firmware/src/directory/dn.ts';

describe('DNs', () => {
  it('tells a DN from a group name', () => {
    expect(isDn('CN=MFA Users,OU=Groups,DC=corp,DC=example')).toBe(true);
    expect(isDn('  cn=x')).toBe(true);
    expect(isDn('MFA Users')).toBe(false);
    expect(isDn('=x')).toBe(false);
  });

  it('two spellings of one DN compare equal: case, spaces around separators, escapes', () => {
    const ad = 'CN=MFA Users,OU=Groups,DC=corp,DC=example';
    expect(sameDn(ad, 'cn=mfa users, ou=groups, dc=corp, dc=example')).toBe(true);
    expect(sameDn(ad, ' CN = MFA Users ,OU=Groups,DC=corp,DC=example ')).toBe(true);
    expect(sameDn(ad, 'CN=MFA\\20Users,OU=Groups,DC=corp,DC=example')).toBe(true);
    expect(sameDn(ad, 'CN="MFA Users",OU=Groups,DC=corp,DC=example')).toBe(true);
    expect(sameDn(ad, 'CN=MFA Users;OU=Groups;DC=corp;DC=example')).toBe(true);
    expect(sameDn('CN=Café,DC=x', 'cn=caf\\C3\\A9,dc=x')).toBe(true);
    expect(sameDn('cn=a+uid=b,dc=x', 'UID=b+CN=a,dc=x')).toBe(true);
  });

  it('a different OU, an escaped comma or a kept escaped space is a different DN', () => {
    const ad = 'CN=MFA Users,OU=Groups,DC=corp,DC=example';
    expect(sameDn(ad, 'CN=MFA Users,OU=Other,DC=corp,DC=example')).toBe(false);
    expect(sameDn(ad, 'CN=MFA Users,DC=corp,DC=example')).toBe(false);
    expect(sameDn('CN=Smith\\, J,DC=x', 'CN=Smith,CN=J,DC=x')).toBe(false);
    expect(sameDn('CN=Smith\\2C J,DC=x', 'CN=Smith\\, J,DC=x')).toBe(true);
    expect(sameDn('CN=a\\ ,DC=x', 'CN=a,DC=x')).toBe(false);
    expect(sameDn('CN=a\\+b,DC=x', 'CN=a+b,DC=x')).toBe(false);
  });

  it('look-alike groups do not match: inner spaces, non-breaking space, tab, Kelvin sign, other bytes', () => {
    const g = 'CN=Break Glass,OU=Groups,DC=corp,DC=example';
    for (const other of [
      'CN=Break  Glass,OU=Groups,DC=corp,DC=example',
      'CN=Break\\C2\\A0Glass,OU=Groups,DC=corp,DC=example',
      'CN=Break\tGlass,OU=Groups,DC=corp,DC=example',
      'CN=Brea\u212A Glass,OU=Groups,DC=corp,DC=example',
      'CN=Break Glas\u0161,OU=Groups,DC=corp,DC=example',
    ])
      expect(sameDn(g, other), other).toBe(false);
    expect(sameDn('CN=Caf\\E9,DC=x', 'CN=Caf\\FF,DC=x')).toBe(false);
    expect(sameDn('CN=Caf\\E9,DC=x', 'cn=caf\\e9,dc=x')).toBe(true);
    // A quote inside a value is a character, not the start of a quoted value swallowing the RDNs after it.
    expect(sameDn('CN=a"b,OU=x,DC=y', 'CN=a"b,OU=z,DC=y')).toBe(false);
  });

  it('never throws on odd input', () => {
    for (const s of ['', ',', '\\', 'cn=', '"', 'cn="a', 'x=y\\'])
      expect(typeof normalizeDn(s)).toBe('string');
  });
});
