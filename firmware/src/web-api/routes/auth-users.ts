/**
 * `GET /api/auth/users/:user` (lock state, counters, numbers, tokens, recent logins), `POST …/unlock`
 * and `POST …/secondary` (the box-side secondary number; `{"number": null}` clears it).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  actorSchema,
  answer,
  badRequest,
  LOCAL_ROUTE,
  userParam,
  userRequest,
  type AdminService,
} from './auth-common.ts';

export const USERS_ROUTE = '/api/auth/users';

const unlockBody = z.strictObject({ actor: actorSchema });
const secondaryBody = z.strictObject({ number: z.string().min(1).max(40).nullable(), actor: actorSchema });

export function registerAuthUserRoutes(app: FastifyInstance, admin: AdminService): void {
  app.get(`${USERS_ROUTE}/:user`, LOCAL_ROUTE, async (req, reply) => {
    const p = userParam.safeParse(req.params);
    if (!p.success) return badRequest(reply, p.error);
    return answer(reply, 'user show', () => admin.showUser(p.data.user));
  });

  app.post(`${USERS_ROUTE}/:user/unlock`, LOCAL_ROUTE, async (req, reply) => {
    const r = userRequest(req, reply, unlockBody);
    if (!r) return reply;
    return answer(reply, 'user unlock', () => admin.unlock(r.user, r.actor, r.source));
  });

  app.post(`${USERS_ROUTE}/:user/secondary`, LOCAL_ROUTE, async (req, reply) => {
    const r = userRequest(req, reply, secondaryBody);
    if (!r) return reply;
    return answer(reply, 'user secondary', () =>
      admin.setSecondaryNumber(r.user, r.body.number ?? undefined, r.actor, r.source),
    );
  });
}
