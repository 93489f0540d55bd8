import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../firmware/src/config/load.ts';
import { isMfaError } from '../../../firmware/src/errors.ts';

const ldap = {
  kind: 'ldap',
  urls: ['ldaps://dc1.corp.example:636'],
  baseDn: 'DC=corp,DC=example',
  bindDn: 'svc@corp.example',
  bindPassword: 'x',
};

describe('directory.acceptPossibleNumbers', () => {
  it('is off for a real directory and on for the demo one (its numbers are fictional)', () => {
    expect(parseConfig({ directory: ldap }).directory.acceptPossibleNumbers).toBe(false);
    expect(parseConfig({}).directory.acceptPossibleNumbers).toBe(true);
    expect(parseConfig({ directory: { kind: 'demo' } }).directory.acceptPossibleNumbers).toBe(true);
  });

  it('can be turned on for a lab directory and off for the demo', () => {
    const lab = { directory: { ...ldap, acceptPossibleNumbers: true } };
    expect(parseConfig(lab).directory.acceptPossibleNumbers).toBe(true);
    const demo = { directory: { kind: 'demo', acceptPossibleNumbers: false } };
    expect(parseConfig(demo).directory.acceptPossibleNumbers).toBe(false);
  });

  it('refuses anything but a boolean, naming the field', () => {
    let field: string | undefined;
    try {
      parseConfig({ directory: { ...ldap, acceptPossibleNumbers: 'yes' } });
    } catch (e) {
      field = isMfaError(e) ? e.field : 'not an MfaError';
    }
    expect(field).toBe('directory.acceptPossibleNumbers');
  });
});
