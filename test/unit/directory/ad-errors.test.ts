import { describe, expect, it } from 'vitest';
import {
  adSubCode,
  reasonForInvalidCredentials,
  uacDisabled,
} from '../../../firmware/src/directory/ad-errors.ts';

const msg = (code: string) =>
  `80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data ${code}, v4563`;

describe('AD bind sub-codes', () => {
  it.each([
    ['52e', 'bad-password'],
    ['525', 'unknown-user'],
    ['530', 'not-permitted-now'],
    ['531', 'workstation'],
    ['532', 'password-expired'],
    ['533', 'disabled'],
    ['701', 'account-expired'],
    ['773', 'must-change'],
    ['775', 'locked'],
  ])('data %s → %s', (code, reason) => {
    expect(reasonForInvalidCredentials(msg(code))).toBe(reason);
    expect(reasonForInvalidCredentials(msg(code.toUpperCase()))).toBe(reason);
  });

  it('reads the code Samba sends (v1db1 suffix)', () => {
    expect(
      adSubCode('80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 773, v1db1'),
    ).toBe('773');
  });

  it('an unknown or missing sub-code (OpenLDAP) is a bad password', () => {
    expect(reasonForInvalidCredentials(msg('999'))).toBe('bad-password');
    expect(reasonForInvalidCredentials('Invalid credentials')).toBe('bad-password');
    expect(adSubCode('')).toBeUndefined();
  });

  it('userAccountControl 0x2 means disabled', () => {
    expect(uacDisabled('514')).toBe(true);
    expect(uacDisabled('512')).toBe(false);
    expect(uacDisabled('66050')).toBe(true);
    expect(uacDisabled(undefined)).toBe(false);
    expect(uacDisabled('garbage')).toBe(false);
  });
});
