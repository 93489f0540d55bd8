import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../firmware/src/config/load.ts';
import { ErrorCode, MfaError } from '../../../firmware/src/errors.ts';
import { connectError, isTransportFailure, stepOf } from '../../../firmware/src/directory/connection.ts';
import { InvalidCredentialsError, ProtocolError } from 'ldapts';

const base = {
  kind: 'ldap',
  urls: ['ldaps://dc1.corp.example:636'],
  baseDn: 'DC=corp,DC=example',
  bindDn: 'svc@corp.example',
  bindPassword: 'x',
};

function fieldOf(input: unknown): string | undefined {
  try {
    parseConfig(input);
    return undefined;
  } catch (e) {
    return e instanceof MfaError ? e.field : 'not an MfaError';
  }
}

describe('directory config', () => {
  // Issue 9 §2: no directory configured means setup mode, never the demo users.
  it('defaults to no directory (setup mode), with sync defaults', () => {
    expect(parseConfig({}).directory).toEqual({
      kind: 'none',
      syncIntervalMinutes: 0,
      maxRemovalPercent: 10,
      group: 'MFA Users',
      acceptPossibleNumbers: true,
    });
  });

  it('fills documented defaults for ldap', () => {
    expect(parseConfig({ directory: base }).directory).toMatchObject({
      dialect: 'ad',
      startTls: true,
      allowInsecure: false,
      group: 'MFA Users',
      pageSize: 500,
      timeoutMs: 2500,
      probeIntervalSeconds: 30,
      syncIntervalMinutes: 15,
      maxRemovalPercent: 10,
    });
  });

  it('refuses plain LDAP without StartTLS unless allowInsecure, naming the field', () => {
    expect(fieldOf({ directory: { ...base, urls: ['ldap://dc1:389'], startTls: false } })).toBe(
      'directory.startTls',
    );
    expect(
      fieldOf({ directory: { ...base, urls: ['ldap://dc1:389'], startTls: false, allowInsecure: true } }),
    ).toBeUndefined();
  });

  it('needs a URL or an SRV domain, and rejects URLs with paths or other schemes', () => {
    expect(fieldOf({ directory: { ...base, urls: [] } })).toBe('directory.urls');
    expect(
      fieldOf({ directory: { ...base, urls: [], srvDomain: 'corp.example', caFile: '/etc/mfabox/ca.pem' } }),
    ).toBeUndefined();
    expect(fieldOf({ directory: { ...base, urls: ['http://dc1'] } })).toBe('directory.urls.0');
    expect(fieldOf({ directory: { ...base, urls: ['ldaps://dc1/dc=x??sub'] } })).toBe('directory.urls.0');
  });

  it('refuses SRV discovery without a pinned CA (caFile)', () => {
    expect(fieldOf({ directory: { ...base, urls: [], srvDomain: 'corp.example' } })).toBe('directory.caFile');
    expect(fieldOf({ directory: { ...base, srvDomain: 'corp.example' } })).toBe('directory.caFile');
  });

  it('attribute names cannot carry filter syntax', () => {
    expect(fieldOf({ directory: { ...base, attributes: { mobile: 'mobile)(uid=*' } } })).toBe(
      'directory.attributes.mobile',
    );
    expect(
      fieldOf({ directory: { ...base, attributes: { mobile: '2.5.4.20', secondaryMobile: '' } } }),
    ).toBeUndefined();
  });

  it('keeps ranges: pageSize ≤ 1000 (AD MaxPageSize), timeoutMs 500…10000', () => {
    expect(fieldOf({ directory: { ...base, pageSize: 5000 } })).toBe('directory.pageSize');
    expect(fieldOf({ directory: { ...base, timeoutMs: 100 } })).toBe('directory.timeoutMs');
  });
});

describe('connection failures name their step', () => {
  it('classifies DNS, TCP, TLS and timeouts', () => {
    const dns = connectError(
      'ldaps://x',
      Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }),
    );
    expect([dns.code, stepOf(dns)]).toEqual([ErrorCode.DirectoryDnsFailed, 'DNS']);
    const tcp = connectError(
      'ldaps://x',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    );
    expect([tcp.code, stepOf(tcp)]).toEqual([ErrorCode.DirectoryUnavailable, 'TCP']);
    const tls = connectError(
      'ldaps://x',
      Object.assign(new Error('unable to verify the first certificate'), {
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      }),
    );
    expect([tls.code, stepOf(tls)]).toEqual([ErrorCode.DirectoryTlsFailed, 'TLS']);
    const name = connectError(
      'ldaps://x',
      Object.assign(new Error("Hostname/IP does not match certificate's altnames"), {
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
      }),
    );
    expect(name.code).toBe(ErrorCode.DirectoryTlsFailed);
    const refused = connectError('ldap://x', new ProtocolError('Unsupported extended operation'));
    expect([refused.code, stepOf(refused)]).toEqual([ErrorCode.DirectoryTlsFailed, 'TLS']);
    const slow = connectError('ldaps://x', new Error('Connection timeout'));
    expect(slow.code).toBe(ErrorCode.DirectoryTimeout);
  });

  it('an LDAP answer is not a transport failure (no failover on a wrong password)', () => {
    expect(isTransportFailure(new InvalidCredentialsError('data 52e'))).toBe(false);
    expect(isTransportFailure(new MfaError('x', ErrorCode.DirectoryTimeout))).toBe(true);
    expect(isTransportFailure(new MfaError('x', ErrorCode.DirectoryBindFailed))).toBe(false);
  });
});
