/** `GET /api/auth/users/:user` (lock state, counters, numbers, tokens, recent logins) and `POST …/unlock`. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  actorOf,
  actorSchema,
  answer,
  badRequest,
  localOnly,
  userParam,
  type AdminService,
} from './auth-common.ts';

export const USERS_ROUTE = '/api/auth/users';

const unlockBody = z.strictObject({ actor: actorSchema });

export function registerAuthUserRoutes(app: FastifyInstance, admin: AdminService): void {
  app.get(
    `${USERS_ROUTE}/:user`,
    { onRequest: localOnly, config: { access: 'local' } },
    async (req, reply) => {
      const p = userParam.safeParse(req.params);
      if (!p.success) return badRequest(reply, p.error);
      return answer(reply, 'user show', () => admin.showUser(p.data.user));
    },
  );

  app.post(
    `${USERS_ROUTE}/:user/unlock`,
    { onRequest: localOnly, config: { access: 'local' } },
    async (req, reply) => {
      const p = userParam.safeParse(req.params);
      const b = unlockBody.safeParse(req.body ?? {});
      if (!p.success) return badRequest(reply, p.error);
      if (!b.success) return badRequest(reply, b.error);
      return answer(reply, 'user unlock', () =>
        admin.unlock(p.data.user, actorOf(req, b.data.actor), req.socket.remoteAddress),
      );
    },
  );
}
