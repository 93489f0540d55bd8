/**
 * GET /api/config → {"revision", "config"} with every secret as {"set": true|false}.
 * PATCH /api/config (If-Match: revision, x-csrf-token, an RFC 7396 merge patch) → {"revision"}:
 * validated as a whole, applied live, written atomically, audited; 400 names each field, 412
 * says the page is stale.
 */
import type { FastifyInstance } from 'fastify';
import { ErrorCode, isMfaError } from '../../errors.ts';
import { ConfigRejected, type LiveConfig } from '../../config/live-config.ts';
import type { Config } from '../../config/schema.ts';
import type { RollbackGuard } from '../rollback.ts';
import { adminOf } from '../security.ts';

/** Settings applied live that can lock the admin out of this page: they go through the rollback timer. */
export function riskyChanges(prev: Config, next: Config): string[] {
  const keys = ['adminNetworks', 'hosts'] as const;
  return keys
    .filter((k) => JSON.stringify(prev.web[k]) !== JSON.stringify(next.web[k]))
    .map((k) => `web.${k}`);
}

export function registerConfigRoutes(app: FastifyInstance, live: LiveConfig, rollback?: RollbackGuard): void {
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
    const waiting = rollback?.pending();
    if (waiting)
      return reply.code(409).send({
        statusCode: 409,
        error: 'Conflict',
        message: `a change (${waiting.what}) is waiting for confirmation: confirm or roll it back first`,
        pending: waiting,
      });
    const before = live.stored();
    const prev = live.current;
    try {
      const r = await live.patch(Number(ifMatch), req.body, adminOf(req));
      const risky = rollback ? riskyChanges(prev, live.current) : [];
      if (rollback && risky.length > 0 && before.revision === Number(ifMatch)) {
        const confirm = rollback.arm(risky.join(', '), adminOf(req), async () => {
          await live.replace(live.stored().revision, before.json, 'rollback');
        });
        return reply.header('etag', `"${r.revision}"`).send({ ...r, confirm });
      }
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
