/**
 * GET /api/config → {"revision", "config"} with every secret as {"set": true|false}.
 * PATCH /api/config (If-Match: revision, x-csrf-token, an RFC 7396 merge patch) → {"revision"}:
 * validated as a whole, applied live, written atomically, audited; 400 names each field, 412
 * says the page is stale.
 */
import type { FastifyInstance } from 'fastify';
import { ErrorCode, isMfaError } from '../../errors.ts';
import { ConfigRejected, type LiveConfig } from '../../config/live-config.ts';
import { adminOf } from '../security.ts';

export function registerConfigRoutes(app: FastifyInstance, live: LiveConfig): void {
  app.get('/api/config', async (_req, reply) => {
    const v = live.view();
    return reply.header('etag', `"${v.revision}"`).send(v);
  });

  app.patch('/api/config', async (req, reply) => {
    const ifMatch = (req.headers['if-match'] ?? '').replace(/^W\//, '').replace(/"/g, '').trim();
    if (!/^\d+$/.test(ifMatch))
      return reply.code(428).send({
        statusCode: 428,
        error: 'Precondition Required',
        message:
          'send If-Match: <revision> (from GET /api/config) so a change cannot undo one you have not seen',
      });
    try {
      const r = await live.patch(Number(ifMatch), req.body, adminOf(req));
      return reply.header('etag', `"${r.revision}"`).send(r);
    } catch (e) {
      if (e instanceof ConfigRejected || isMfaError(e, ErrorCode.ConfigStale)) {
        const stale = e.code === ErrorCode.ConfigStale;
        return reply.code(stale ? 412 : 400).send({
          statusCode: stale ? 412 : 400,
          error: stale ? 'Precondition Failed' : 'Bad Request',
          code: e.codeName,
          message: e.message,
          issues: e instanceof ConfigRejected ? e.issues : [],
          revision: live.view().revision,
        });
      }
      throw e;
    }
  });
}
