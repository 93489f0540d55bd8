/**
 * TLS material for loopback peers (a syslog receiver, an SMTP relay), made by the openssl command
 * so nothing of the firmware's signs what the firmware then checks: a CA, a server certificate
 * for 127.0.0.1 signed by it, and another CA that signed nothing (pinning it must fail).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Another CA that signed nothing here: pinning it must refuse the server. */
  otherCaFile: string;
}

export function makeTlsFiles(dir: string): TlsFiles {
  const f = (n: string): string => join(dir, n);
  const ossl = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  for (const ca of ['ca', 'other-ca'])
    ossl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=mfabox test ${ca}`,
      '-keyout',
      f(`${ca}.key`),
      '-out',
      f(`${ca}.pem`),
    ]);
  ossl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=siem.test',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
  ]);
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:siem.test\n');
  ossl([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
    '-out',
    f('server.pem'),
  ]);
  return {
    caFile: f('ca.pem'),
    certFile: f('server.pem'),
    keyFile: f('server.key'),
    otherCaFile: f('other-ca.pem'),
  };
}
