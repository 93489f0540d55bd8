/**
 * The web page's TLS certificate: the admin's own (uploaded, or named in the config), or a
 * self-signed one made at first start for the box's name and addresses. The key never leaves
 * the box through the API; only the certificate's facts are shown.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../config/atomic-write.ts';
import { ErrorCode, MfaError } from '../errors.ts';

export interface TlsMaterial {
  cert: string;
  key: string;
}

export interface CertInfo {
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  fingerprint256: string;
  subjectAltName: string;
  selfSigned: boolean;
}

export interface TlsPaths {
  certFile: string;
  keyFile: string;
}

export function tlsPaths(
  dataDir: string,
  web: { certFile?: string | undefined; keyFile?: string | undefined },
): TlsPaths {
  return {
    certFile: web.certFile ?? join(dataDir, 'web-tls', 'cert.pem'),
    keyFile: web.keyFile ?? join(dataDir, 'web-tls', 'key.pem'),
  };
}

/** Parses and cross-checks a certificate and key; throws WebTlsInvalid naming the problem. */
export function checkTls(m: TlsMaterial): CertInfo {
  let x: X509Certificate;
  try {
    x = new X509Certificate(m.cert);
  } catch {
    throw new MfaError('the certificate is not a PEM X.509 certificate', ErrorCode.WebTlsInvalid, {
      field: 'cert',
    });
  }
  let key;
  try {
    key = createPrivateKey(m.key);
  } catch {
    throw new MfaError('the key is not an unencrypted PEM private key', ErrorCode.WebTlsInvalid, {
      field: 'key',
    });
  }
  if (!x.checkPrivateKey(key))
    throw new MfaError('the key does not belong to the certificate', ErrorCode.WebTlsInvalid, {
      field: 'key',
    });
  return certInfo(x);
}

function certInfo(x: X509Certificate): CertInfo {
  return {
    subject: x.subject,
    issuer: x.issuer,
    validFrom: new Date(x.validFrom).toISOString(),
    validTo: new Date(x.validTo).toISOString(),
    fingerprint256: x.fingerprint256,
    subjectAltName: x.subjectAltName ?? '',
    selfSigned: x.subject === x.issuer && x.verify(x.publicKey),
  };
}

export function describeCert(pem: string): CertInfo {
  return certInfo(new X509Certificate(pem));
}

/** The box's own names and addresses: what a self-signed certificate covers and the Host check allows. */
export function boxNames(): { names: string[]; addresses: string[] } {
  const h = hostname().toLowerCase();
  const names = [...new Set(['localhost', h, `${h}.local`])];
  const addresses: string[] = [];
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) addresses.push(a.address.replace(/%.*$/, '').toLowerCase());
  return { names, addresses };
}

async function generateSelfSigned(): Promise<TlsMaterial> {
  const { names, addresses } = boxNames();
  const now = Date.now();
  // Loaded only here: the certificate maker and its ASN.1 libraries are a sixth of the bundle, and
  // most starts already have a certificate.
  const { generate } = await import('selfsigned');
  const pems = await generate(
    [
      { name: 'commonName', value: names[1] ?? 'mfabox' },
      { name: 'organizationName', value: 'MFA Box' },
    ],
    {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: new Date(now - 86_400_000),
      // Ten years: a box with no internet cannot renew, and the admin replaces it with their own.
      notAfterDate: new Date(now + 10 * 365 * 86_400_000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            ...names.map((value) => ({ type: 2 as const, value })),
            ...addresses.filter((a) => !a.startsWith('fe80')).map((ip) => ({ type: 7 as const, ip })),
          ],
        },
      ],
    },
  );
  return { cert: pems.cert, key: pems.private };
}

/** Reads the certificate and key, making a self-signed pair first when neither file exists. */
export async function loadOrCreateTls(paths: TlsPaths): Promise<TlsMaterial & { created: boolean }> {
  const read = async (): Promise<TlsMaterial | undefined> => {
    try {
      return { cert: await readFile(paths.certFile, 'utf8'), key: await readFile(paths.keyFile, 'utf8') };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new MfaError(`cannot read ${paths.certFile} or ${paths.keyFile}`, ErrorCode.WebTlsInvalid, {
        cause: e,
      });
    }
  };
  const existing = await read();
  if (existing) {
    checkTls(existing);
    return { ...existing, created: false };
  }
  const made = await generateSelfSigned();
  await saveTls(paths, made);
  return { ...made, created: true };
}

/** Writes a checked pair (key first, both 0600) so a crash between the two leaves a usable old cert or a new pair. */
export async function saveTls(paths: TlsPaths, m: TlsMaterial): Promise<CertInfo> {
  const info = checkTls(m);
  for (const f of [paths.keyFile, paths.certFile])
    await mkdir(join(f, '..'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(paths.keyFile, m.key, 0o600);
  await writeFileAtomic(paths.certFile, m.cert, 0o644);
  return info;
}
