/** Users, test SMS, modem ports, the audit and system facts (the certificate upload is in system.ts). */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { describeError } from '../../errors.ts';
import type { WebOps } from '../ops.ts';
import { adminOf } from '../security.ts';
import { badRequest, zodIssues, type AdminAudit } from './session.ts';

const testSmsBody = z.strictObject({
  which: z.enum(['mobile', 'secondaryMobile']).default('mobile'),
});

export const TEST_SMS_TEXT = 'MFA Box test message: this number receives passcodes.';

export function registerOpsRoutes(app: FastifyInstance, ops: WebOps, audit: AdminAudit): void {
  app.get<{ Querystring: { q?: string; limit?: string } }>('/api/users', async (req) => {
    const limit = Math.min(500, Math.max(1, Number(req.query.limit ?? 100) || 100));
    return { users: await ops.users(String(req.query.q ?? '').slice(0, 100), limit) };
  });

  app.post<{ Params: { user: string } }>(
    '/api/users/:user/test-sms',
    { config: { rateLimit: { max: 10, timeWindow: 60_000 } } },
    async (req, reply) => {
      const body = testSmsBody.safeParse(req.body ?? {});
      if (!body.success)
        return badRequest(reply, 'send {} or {"which": "secondaryMobile"}', zodIssues(body.error));
      const user = (await ops.users(req.params.user, 500)).find(
        (u) => u.username.toLowerCase() === req.params.user.toLowerCase(),
      );
      if (!user)
        return reply
          .code(404)
          .send({ statusCode: 404, error: 'Not Found', message: `no synced user ${req.params.user}` });
      const to = user[body.data.which];
      if (to === undefined)
        return badRequest(reply, `${user.username} has no ${body.data.which}`, [
          { path: 'which', message: 'no such number' },
        ]);
      try {
        const r = await ops.sendTestSms(to, TEST_SMS_TEXT);
        await audit({
          action: 'test-sms',
          actor: adminOf(req),
          source: req.ip,
          user: user.username,
          outcome: 'ok',
          detail: `sent through ${r.modem}`,
        });
        return r;
      } catch (e) {
        await audit({
          action: 'test-sms',
          actor: adminOf(req),
          source: req.ip,
          user: user.username,
          outcome: 'failed',
          detail: describeError(e),
        });
        return reply.code(502).send({
          statusCode: 502,
          error: 'Bad Gateway',
          message: `the SMS was not sent: ${describeError(e)}`,
        });
      }
    },
  );

  app.get('/api/modems/ports', async () => ({ ports: await ops.serialPorts() }));

  app.get('/api/system', async () => ops.system());
}
