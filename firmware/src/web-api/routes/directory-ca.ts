/**
 * POST /api/directory/ca {"pem"} → {"path", "certificates": [{"subject","validTo","fingerprint256"}]}:
 * the CA bundle that signs the DCs' certificates, uploaded from the page and stored as
 * `<dataDir>/directory-ca.pem` (atomic write, 0600). The page then puts that path in
 * `directory.caFile`, tests and saves; uploading alone changes nothing the box trusts yet.
 */
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { writeFileAtomic } from '../../config/atomic-write.ts';
import type { LiveConfig } from '../../config/live-config.ts';
import { adminOf } from '../security.ts';
import { badRequest, zodIssues, type AdminAudit } from './session.ts';

const body = z.strictObject({
  pem: z
    .string()
    .min(1)
    .max(256 * 1024),
});
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/g;

export const DIRECTORY_CA_FILE = 'directory-ca.pem';

export interface CaCertificate {
  subject: string;
  validTo: string;
  fingerprint256: string;
  ca: boolean;
}

/**
 * The certificates of an uploaded (or restored) CA bundle, each one parsed; the file to keep
 * holds only them, so anything else pasted along (a key by mistake) is dropped.
 */
export function readCaBundle(
  pem: string,
):
  | { ok: true; file: string; certificates: CaCertificate[] }
  | { ok: false; summary: string; message: string } {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  const certificates: CaCertificate[] = [];
  for (const block of blocks) {
    try {
      const x = new X509Certificate(block);
      certificates.push({
        subject: x.subject,
        validTo: x.validTo,
        fingerprint256: x.fingerprint256,
        ca: x.ca,
      });
    } catch {
      return {
        ok: false,
        summary: 'a certificate in the file does not parse',
        message: `certificate ${certificates.length + 1} is not a valid X.509 certificate`,
      };
    }
  }
  if (certificates.length === 0)
    return {
      ok: false,
      summary: 'no PEM certificate in the file (a private key is never needed here)',
      message: 'expected -----BEGIN CERTIFICATE----- blocks',
    };
  return { ok: true, file: `${blocks.join('\n')}\n`, certificates };
}

export function registerDirectoryCaRoutes(app: FastifyInstance, live: LiveConfig, audit: AdminAudit): void {
  app.post('/api/directory/ca', async (req, reply) => {
    const b = body.safeParse(req.body);
    if (!b.success)
      return badRequest(reply, 'send {"pem": "-----BEGIN CERTIFICATE-----…"}', zodIssues(b.error));
    const bundle = readCaBundle(b.data.pem);
    if (!bundle.ok) return badRequest(reply, bundle.summary, [{ path: 'pem', message: bundle.message }]);
    const { certificates } = bundle;
    const path = join(live.current.dataDir, DIRECTORY_CA_FILE);
    await writeFileAtomic(path, bundle.file);
    await audit({
      action: 'directory-ca',
      actor: adminOf(req),
      source: req.ip,
      outcome: 'ok',
      detail: certificates.map((c) => `${c.subject.replace(/\n/g, ', ')} (${c.fingerprint256})`).join('; '),
    });
    return { path, certificates };
  });
}
