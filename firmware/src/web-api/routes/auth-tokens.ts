/**
 * `POST /api/auth/users/:user/tokens` (enrol: returns the otpauth:// URI once),
 * `DELETE /api/auth/users/:user/tokens/:id`, and `POST /api/auth/tokens/import` (CSV of seeds).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  actorOf,
  actorSchema,
  answer,
  badRequest,
  LOCAL_ROUTE,
  userRequest,
  type AdminService,
} from './auth-common.ts';
import { USERS_ROUTE } from './auth-users.ts';

export const TOKEN_IMPORT_ROUTE = '/api/auth/tokens/import';

const enrolBody = z.strictObject({
  type: z.enum(['totp', 'hotp']).default('totp'),
  digits: z.union([z.literal(6), z.literal(8)]).default(6),
  actor: actorSchema,
});
const importBody = z.strictObject({ csv: z.string().min(1).max(2_000_000), actor: actorSchema });
const tokenParams = z.strictObject({
  user: z.string().min(1).max(256),
  id: z.string().regex(/^[0-9a-f]{1,32}$/),
});

export function registerAuthTokenRoutes(app: FastifyInstance, admin: AdminService): void {
  app.post(`${USERS_ROUTE}/:user/tokens`, LOCAL_ROUTE, async (req, reply) => {
    const r = userRequest(req, reply, enrolBody);
    if (!r) return reply;
    const { type, digits } = r.body;
    return answer(reply, 'token enrol', () =>
      admin.enrolToken(r.user, { type, digits, algorithm: 'SHA1', period: 30 }, r.actor, r.source),
    );
  });

  app.delete(`${USERS_ROUTE}/:user/tokens/:id`, LOCAL_ROUTE, async (req, reply) => {
    const p = tokenParams.safeParse(req.params);
    if (!p.success) return badRequest(reply, p.error);
    return answer(reply, 'token remove', async () => ({
      removed: await admin.removeToken(
        p.data.user,
        p.data.id,
        actorOf(req, undefined),
        req.socket.remoteAddress,
      ),
    }));
  });

  app.post(TOKEN_IMPORT_ROUTE, { ...LOCAL_ROUTE, bodyLimit: 2_500_000 }, async (req, reply) => {
    const b = importBody.safeParse(req.body ?? {});
    if (!b.success) return badRequest(reply, b.error);
    return answer(reply, 'token import', () =>
      admin.importTokens(b.data.csv, actorOf(req, b.data.actor), req.socket.remoteAddress),
    );
  });
}
