/**
 * Logging in and out, the first-password change, and the admin accounts.
 * POST /api/session is rate-limited per address (10 a minute) on top of the per-account
 * lockout in admins.ts, so neither a spray over many names nor one name from many tabs is cheap.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { AdminRecord } from '../../audit/records.ts';
import { isMfaError } from '../../errors.ts';
import { logger } from '../../log.ts';
import type { AdminStore } from '../admins.ts';
import { adminOf } from '../security.ts';

/** Records an admin event (login, logout, account changes) in the audit log, durably. */
export type AdminEvent = Omit<AdminRecord, 'kind' | 't'>;
export type AdminAudit = (event: AdminEvent) => Promise<void>;

const loginBody = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(256),
});
const changeBody = z.strictObject({ currentPassword: z.string().max(256), newPassword: z.string().max(256) });
const addBody = z.strictObject({ username: z.string(), password: z.string() });

const log = logger('web:session');

export function badRequest(
  reply: FastifyReply,
  message: string,
  issues: { path: string; message: string }[] = [],
): FastifyReply {
  return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message, issues });
}

export function zodIssues(e: z.ZodError): { path: string; message: string }[] {
  return e.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

export function registerSessionRoutes(app: FastifyInstance, admins: AdminStore, audit: AdminAudit): void {
  app.get('/api/session', { config: { access: 'public' } }, async (req, reply) => {
    const admin = req.session.get('admin');
    if (admin === undefined) return { authenticated: false };
    return {
      authenticated: true,
      username: admin,
      mustChange: req.session.get('mustChange') === true,
      csrfToken: reply.generateCsrf(),
    };
  });

  app.post(
    '/api/session',
    { config: { access: 'public', rateLimit: { max: 10, timeWindow: 60_000 } } },
    async (req, reply) => {
      const body = loginBody.safeParse(req.body);
      if (!body.success) return badRequest(reply, 'send {"username", "password"}', zodIssues(body.error));
      const { username, password } = body.data;
      const r = await admins.verify(username, password);
      if (!r.ok) {
        await audit({
          action: 'web-login-failed',
          actor: username,
          source: req.ip,
          outcome: 'failed',
          detail: r.reason,
        });
        if (r.reason === 'locked')
          return reply
            .code(429)
            .header('retry-after', String(r.retryAfterSeconds))
            .send({
              statusCode: 429,
              error: 'Too Many Requests',
              message: `too many failed logins: try again in ${r.retryAfterSeconds} s`,
            });
        return reply
          .code(401)
          .send({ statusCode: 401, error: 'Unauthorized', message: 'wrong user name or password' });
      }
      // A new session id at login: an id planted before it (session fixation) is worth nothing.
      await req.session.regenerate();
      req.session.set('admin', r.username);
      req.session.set('mustChange', r.mustChange);
      const csrfToken = reply.generateCsrf();
      await audit({ action: 'web-login', actor: r.username, source: req.ip, outcome: 'ok' });
      log.info({ admin: r.username }, 'admin logged in');
      return { username: r.username, mustChange: r.mustChange, csrfToken };
    },
  );

  app.delete('/api/session', { config: { beforePasswordChange: true } }, async (req, reply) => {
    const who = adminOf(req);
    await req.session.destroy();
    await audit({ action: 'web-logout', actor: who, source: req.ip, outcome: 'ok' });
    return reply.code(204).send();
  });

  app.post(
    '/api/session/password',
    { config: { beforePasswordChange: true, rateLimit: { max: 10, timeWindow: 60_000 } } },
    async (req, reply) => {
      const body = changeBody.safeParse(req.body);
      if (!body.success)
        return badRequest(reply, 'send {"currentPassword", "newPassword"}', zodIssues(body.error));
      const who = adminOf(req);
      const check = await admins.verify(who, body.data.currentPassword);
      if (!check.ok)
        return badRequest(reply, 'the current password is wrong', [
          { path: 'currentPassword', message: 'wrong password' },
        ]);
      if (body.data.newPassword === body.data.currentPassword)
        return badRequest(reply, 'choose a new password', [
          { path: 'newPassword', message: 'same as the current one' },
        ]);
      try {
        await admins.setPassword(who, body.data.newPassword);
      } catch (e) {
        if (isMfaError(e)) return badRequest(reply, e.message, [{ path: 'newPassword', message: e.message }]);
        throw e;
      }
      req.session.set('mustChange', false);
      await audit({ action: 'admin-password-changed', actor: who, source: req.ip, outcome: 'ok' });
      return { ok: true };
    },
  );

  app.get('/api/admins', async () => ({ admins: await admins.list() }));

  app.post('/api/admins', async (req, reply) => {
    const body = addBody.safeParse(req.body);
    if (!body.success) return badRequest(reply, 'send {"username", "password"}', zodIssues(body.error));
    try {
      await admins.add(body.data.username, body.data.password);
    } catch (e) {
      if (isMfaError(e)) return badRequest(reply, e.message, [{ path: e.field ?? '', message: e.message }]);
      throw e;
    }
    await audit({
      action: 'admin-added',
      actor: adminOf(req),
      source: req.ip,
      outcome: 'ok',
      detail: body.data.username,
    });
    return reply.code(201).send({ username: body.data.username, mustChange: true });
  });

  app.delete<{ Params: { name: string } }>('/api/admins/:name', async (req, reply) => {
    if (req.params.name === adminOf(req))
      return badRequest(reply, 'log in as another admin to remove this one');
    try {
      await admins.remove(req.params.name);
    } catch (e) {
      if (isMfaError(e)) return badRequest(reply, e.message, [{ path: 'username', message: e.message }]);
      throw e;
    }
    await audit({
      action: 'admin-removed',
      actor: adminOf(req),
      source: req.ip,
      outcome: 'ok',
      detail: req.params.name,
    });
    return reply.code(204).send();
  });
}
