/** `POST /api/auth/users/:user/overrides`: issues an override code (returned once, stored hashed). */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseDuration } from '../../auth/override-codes.ts';
import { actorSchema, answer, LOCAL_ROUTE, userRequest, type AdminService } from './auth-common.ts';
import { USERS_ROUTE } from './auth-users.ts';

const issueBody = z.strictObject({
  /** "15m", "1h", "2d"; default 1h. */
  ttl: z
    .string()
    .refine((t) => parseDuration(t) !== undefined, 'a duration like 15m, 1h or 2d')
    .default('1h'),
  uses: z.number().int().min(1).max(100).default(1),
  reason: z.string().max(200).optional(),
  actor: actorSchema,
});

export function registerAuthOverrideRoutes(app: FastifyInstance, admin: AdminService): void {
  app.post(`${USERS_ROUTE}/:user/overrides`, LOCAL_ROUTE, async (req, reply) => {
    const r = userRequest(req, reply, issueBody);
    if (!r) return reply;
    const { ttl, uses, reason } = r.body;
    return answer(reply, 'override issue', () =>
      admin.issueOverride(
        r.user,
        { ttlMs: parseDuration(ttl) ?? 3_600_000, uses, ...(reason === undefined ? {} : { reason }) },
        r.actor,
        r.source,
      ),
    );
  });
}
