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
  it('is on by default (the numbering plan ages with the firmware), for a directory and the demo', () => {
    expect(parseConfig({ directory: ldap }).directory.acceptPossibleNumbers).toBe(true);
    expect(parseConfig({}).directory.acceptPossibleNumbers).toBe(true);
    expect(parseConfig({ directory: { kind: 'demo' } }).directory.acceptPossibleNumbers).toBe(true);
  });

  it('can be turned off, for a directory and for the demo', () => {
    const strict = { directory: { ...ldap, acceptPossibleNumbers: false } };
    expect(parseConfig(strict).directory.acceptPossibleNumbers).toBe(false);
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
