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

export function registerDirectoryCaRoutes(app: FastifyInstance, live: LiveConfig, audit: AdminAudit): void {
  app.post('/api/directory/ca', async (req, reply) => {
    const b = body.safeParse(req.body);
    if (!b.success)
      return badRequest(reply, 'send {"pem": "-----BEGIN CERTIFICATE-----…"}', zodIssues(b.error));
    const blocks = b.data.pem.match(PEM_BLOCK) ?? [];
    const certificates = [];
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
        return badRequest(reply, 'a certificate in the file does not parse', [
          { path: 'pem', message: `certificate ${certificates.length + 1} is not a valid X.509 certificate` },
        ]);
      }
    }
    if (certificates.length === 0)
      return badRequest(reply, 'no PEM certificate in the file (a private key is never needed here)', [
        { path: 'pem', message: 'expected -----BEGIN CERTIFICATE----- blocks' },
      ]);
    // Only the certificates are kept: anything else pasted along (a key by mistake) is dropped.
    const path = join(live.current.dataDir, DIRECTORY_CA_FILE);
    await writeFileAtomic(path, `${blocks.join('\n')}\n`);
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
