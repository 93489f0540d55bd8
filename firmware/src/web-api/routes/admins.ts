/**
 * One admin sets another's password (a colleague who forgot theirs): the new password must be
 * changed at that admin's next login, as after `mfabox admin reset-password`. Listing, adding
 * and removing accounts are in session.ts; changing one's own password too.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isMfaError } from '../../errors.ts';
import type { AdminStore } from '../admins.ts';
import { isLoopbackAddress, isLoopbackHost } from '../loopback.ts';
import { adminOf } from '../security.ts';
import { badRequest, zodIssues, type AdminAudit } from './session.ts';

const setBody = z.strictObject({ password: z.string().max(256) });
const noticeBody = z.strictObject({ actor: z.string().regex(/^cli:[\w.-]{1,60}$/) });

export function registerAdminRoutes(app: FastifyInstance, admins: AdminStore, audit: AdminAudit): void {
  app.post<{ Params: { name: string } }>('/api/admins/:name/password', async (req, reply) => {
    const body = setBody.safeParse(req.body);
    if (!body.success) return badRequest(reply, 'send {"password"}', zodIssues(body.error));
    if (req.params.name === adminOf(req))
      return badRequest(
        reply,
        'change your own password with your current one (POST /api/session/password)',
        [{ path: 'username', message: 'that is you' }],
      );
    try {
      await admins.setPassword(req.params.name, body.data.password, { mustChange: true });
    } catch (e) {
      if (isMfaError(e)) return badRequest(reply, e.message, [{ path: e.field ?? '', message: e.message }]);
      throw e;
    }
    await audit({
      action: 'admin-password-set',
      actor: adminOf(req),
      source: req.ip,
      user: req.params.name,
      outcome: 'ok',
    });
    return { username: req.params.name, mustChange: true };
  });

  /**
   * `mfabox admin reset-password` changed admins.json as root while the service holds the store:
   * it reports the reset here (loopback only) for the audit log. Only a reset that really left
   * the account waiting for a forced change is recorded.
   */
  app.post<{ Params: { name: string } }>(
    '/api/admins/:name/reset-notice',
    { config: { access: 'local' } },
    async (req, reply) => {
      // The box itself only (the socket's peer and a loopback Host), never a browser session.
      if (!isLoopbackAddress(req.socket.remoteAddress) || !isLoopbackHost(req.headers.host))
        return reply.code(403).send({ statusCode: 403, error: 'Forbidden', message: 'loopback only' });
      const body = noticeBody.safeParse(req.body);
      if (!body.success) return badRequest(reply, 'send {"actor": "cli:<login>"}', zodIssues(body.error));
      const account = (await admins.list()).find((a) => a.username === req.params.name);
      if (!account?.mustChange)
        return badRequest(reply, `${req.params.name} has no fresh reset to record`, [
          { path: 'username', message: 'no reset' },
        ]);
      await audit({
        action: 'admin-password-reset',
        actor: body.data.actor,
        user: account.username,
        outcome: 'ok',
      });
      return reply.code(204).send();
    },
  );
}
