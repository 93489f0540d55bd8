/** `GET /api/auth/explain?user=U[&ip=A][&client=C][&at=ISO]`: which rule matches and why, condition by condition. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { answer, badRequest, LOCAL_ROUTE, type AdminService } from './auth-common.ts';

export const EXPLAIN_ROUTE = '/api/auth/explain';

const explainQuery = z.strictObject({
  user: z.string().min(1).max(256),
  ip: z.string().max(64).optional(),
  client: z.string().max(64).optional(),
  at: z
    .string()
    .refine((t) => !Number.isNaN(Date.parse(t)), 'an ISO time, e.g. 2026-03-04T08:30:00+01:00')
    .optional(),
});

export function registerAuthPolicyRoutes(app: FastifyInstance, admin: AdminService): void {
  app.get(EXPLAIN_ROUTE, LOCAL_ROUTE, async (req, reply) => {
    const q = explainQuery.safeParse(req.query);
    if (!q.success) return badRequest(reply, q.error);
    const { user, ip, client, at } = q.data;
    return answer(reply, 'policy explain', () =>
      admin.explain({
        user,
        ...(ip === undefined ? {} : { ip }),
        ...(client === undefined ? {} : { client }),
        ...(at === undefined ? {} : { at: Date.parse(at) }),
      }),
    );
  });
}
