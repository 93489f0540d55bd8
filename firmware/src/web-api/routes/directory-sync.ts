/**
 * `GET /api/directory/sync` (the last sync status) and `POST /api/directory/sync` (run a sync now,
 * optionally confirming held removals). An admin session (with its CSRF token for POST), or a
 * client on the box itself (the `mfabox` command): the status holds usernames, and a confirmed
 * sync removes users.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { SyncStatus } from '../../directory/sync.ts';
import { describeError } from '../../errors.ts';
import { logger } from '../../log.ts';
import { isLoopbackAddress, isLoopbackHost } from '../loopback.ts';

/** What the routes need of DirectorySync (its public API). */
export interface SyncService {
  run(opts: { confirm?: boolean }): Promise<SyncStatus>;
  status(): Promise<SyncStatus>;
}

export const SYNC_ROUTE = '/api/directory/sync';

/** No body, `{}` or `{"confirm": true|false}`. Unknown keys are refused: a typo must not pass for "not confirmed". */
const syncBody = z.strictObject({ confirm: z.boolean().optional() });

const log = logger('web:directory-sync');

function problem(reply: FastifyReply, statusCode: number, error: string, message: string): FastifyReply {
  return reply.code(statusCode).send({ statusCode, error, message });
}

/** onRequest: refuses anyone but an admin or this box before the body is even read. */
async function localOnly(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (req.session.get('admin') !== undefined) return undefined;
  // The socket's peer, never a header: X-Forwarded-For is whatever the client says it is.
  if (!isLoopbackAddress(req.socket.remoteAddress))
    return problem(
      reply,
      403,
      'Forbidden',
      'the directory sync API needs an admin session (log in on the web page), or a client on the box itself (127.0.0.1 or ::1); ' +
        'run `mfabox directory sync` on the box instead',
    );
  if (!isLoopbackHost(req.headers.host))
    return problem(
      reply,
      403,
      'Forbidden',
      'the directory sync API must be addressed as localhost, 127.0.0.1 or [::1] (Host header)',
    );
  return undefined;
}

/** HTTP status for a finished sync: 200 when it ran (ok, or removals held for confirmation), 502 when it failed. */
function httpStatusOf(s: SyncStatus): number {
  return s.state === 'failed' ? 502 : 200;
}

export function registerDirectorySyncRoutes(app: FastifyInstance, sync: SyncService): void {
  app.get(SYNC_ROUTE, { onRequest: localOnly, config: { access: 'local' } }, async (_req, reply) => {
    try {
      return await reply.send(await sync.status());
    } catch (e) {
      log.error({ err: describeError(e) }, 'reading the sync status failed');
      return problem(reply, 503, 'Service Unavailable', `cannot read the sync status: ${describeError(e)}`);
    }
  });

  app.post(SYNC_ROUTE, { onRequest: localOnly, config: { access: 'local' } }, async (req, reply) => {
    const parsed = syncBody.safeParse(req.body ?? {});
    if (!parsed.success) {
      const why = parsed.error.issues
        .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
        .join('; ');
      return problem(
        reply,
        400,
        'Bad Request',
        `invalid body (${why}); send no body, {} or {"confirm": true}`,
      );
    }
    const confirm = parsed.data.confirm === true;
    log.info({ confirm }, 'directory sync requested through the API');
    let status: SyncStatus;
    try {
      status = await sync.run({ confirm });
    } catch (e) {
      // The run stored a failed status (with the reason) before it threw; that is the answer.
      try {
        status = await sync.status();
      } catch {
        return problem(reply, 503, 'Service Unavailable', `the sync could not run: ${describeError(e)}`);
      }
      if (status.state !== 'failed') status = { ...status, state: 'failed', error: describeError(e) };
    }
    return reply.code(httpStatusOf(status)).send(status);
  });
}
