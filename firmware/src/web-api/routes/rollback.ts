/**
 * The change waiting for confirmation (rollback.ts): GET /api/pending shows it, POST
 * /api/pending/confirm keeps it (only from the new settings: the guards run first), POST
 * /api/pending/rollback puts it back now.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { RollbackGuard } from '../rollback.ts';
import { adminOf } from '../security.ts';
import { badRequest, zodIssues } from './session.ts';

const confirmBody = z.strictObject({ id: z.string().min(1).max(64) });

export function registerRollbackRoutes(app: FastifyInstance, rollback: RollbackGuard): void {
  app.get('/api/pending', (_req, reply) => reply.send({ pending: rollback.pending() ?? null }));

  app.post('/api/pending/confirm', async (req, reply) => {
    const body = confirmBody.safeParse(req.body);
    if (!body.success) return badRequest(reply, 'send {"id"} of the waiting change', zodIssues(body.error));
    if (!(await rollback.confirm(body.data.id, adminOf(req))))
      return reply.code(409).send({
        statusCode: 409,
        error: 'Conflict',
        message: 'no such change is waiting: it was already confirmed or rolled back',
      });
    return { confirmed: true };
  });

  app.post('/api/pending/rollback', async (_req, reply) => {
    if (!(await rollback.rollBack()))
      return reply.code(409).send({ statusCode: 409, error: 'Conflict', message: 'no change is waiting' });
    return { rolledBack: true };
  });
}
