/**
 * A route guard for admin data that the `mfabox` command also reads while the service holds the
 * store: a logged-in admin (session), or a request from this box itself (loopback peer and a
 * loopback Host header, so a DNS-rebinding page in a browser on the box cannot use it).
 * Routes using it declare `config: { access: 'local' }` so the session guard lets them through
 * to this check.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isLoopbackAddress, isLoopbackHost } from './loopback.ts';

export type RequestGuard = (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/** `what` names the API in the refusal, `hint` says what to do instead. */
export function adminOrLocal(what: string, hint: string): RequestGuard {
  return async (req, reply) => {
    if (req.session.get('admin') !== undefined) return undefined;
    // The socket's peer, never a header: X-Forwarded-For is whatever the client says it is.
    if (isLoopbackAddress(req.socket.remoteAddress) && isLoopbackHost(req.headers.host)) return undefined;
    return reply.code(401).send({
      statusCode: 401,
      error: 'Unauthorized',
      message: `the ${what} needs a logged-in admin or a request from the box itself; ${hint}`,
    });
  };
}
