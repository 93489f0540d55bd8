/** `POST /api/auth/users/:user/overrides`: issues an override code (returned once, stored hashed). */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseDuration } from '../../auth/override-codes.ts';
import {
  actorOf,
  actorSchema,
  answer,
  badRequest,
  localOnly,
  userParam,
  type AdminService,
} from './auth-common.ts';
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
  app.post(
    `${USERS_ROUTE}/:user/overrides`,
    { onRequest: localOnly, config: { access: 'local' } },
    async (req, reply) => {
      const p = userParam.safeParse(req.params);
      const b = issueBody.safeParse(req.body ?? {});
      if (!p.success) return badRequest(reply, p.error);
      if (!b.success) return badRequest(reply, b.error);
      const { ttl, uses, reason, actor } = b.data;
      return answer(reply, 'override issue', () =>
        admin.issueOverride(
          p.data.user,
          { ttlMs: parseDuration(ttl) ?? 3_600_000, uses, ...(reason === undefined ? {} : { reason }) },
          actorOf(req, actor),
          req.socket.remoteAddress,
        ),
      );
    },
  );
}
