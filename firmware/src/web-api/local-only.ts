/**
 * A fastify onRequest hook for APIs that answer this box only (loopback peer, loopback Host) until
 * the web login exists: the admin on the box, over SSH, and the `mfabox` command itself.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isLoopbackAddress, isLoopbackHost } from './loopback.ts';

export type RequestGuard = (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/** `what` names the API in the refusal, `hint` says what to run on the box instead. */
export function localOnly(what: string, hint: string): RequestGuard {
  return async (req, reply) => {
    // The socket's peer, never a header: X-Forwarded-For is whatever the client says it is.
    if (!isLoopbackAddress(req.socket.remoteAddress))
      return reply.code(403).send({
        statusCode: 403,
        error: 'Forbidden',
        message: `the ${what} answers only on the box itself (127.0.0.1 or ::1) until the web login exists; ${hint}`,
      });
    if (!isLoopbackHost(req.headers.host))
      return reply.code(403).send({
        statusCode: 403,
        error: 'Forbidden',
        message: `the ${what} must be addressed as localhost, 127.0.0.1 or [::1] (Host header)`,
      });
    return undefined;
  };
}
