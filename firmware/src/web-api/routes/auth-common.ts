/**
 * What the auth-policy routes share: the local-only guard (until the web login exists these routes
 * answer this box only: an admin shell and the `mfabox` command), the acting admin's name, and
 * one error shape. An MfaError's code travels in the body so the command can show the same error.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuthAdmin } from '../../auth/admin.ts';
import { ErrorCode, MfaError, describeError } from '../../errors.ts';
import { logger } from '../../log.ts';
import { isLoopbackAddress, isLoopbackHost } from '../loopback.ts';

export type AdminService = Pick<
  AuthAdmin,
  | 'showUser'
  | 'unlock'
  | 'setSecondaryNumber'
  | 'enrolToken'
  | 'importTokens'
  | 'removeToken'
  | 'issueOverride'
  | 'explain'
>;

const log = logger('web:auth');

export function problem(
  reply: FastifyReply,
  statusCode: number,
  message: string,
  code?: number,
): FastifyReply {
  return reply.code(statusCode).send({ statusCode, message, ...(code === undefined ? {} : { code }) });
}

/** onRequest: refuses anyone but an admin session or this box before the body is read. */
export async function localOnly(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  // An admin logged in on the web page (its state changes still need the CSRF token).
  if (req.session.get('admin') !== undefined) return undefined;
  // The socket's peer, never a header: X-Forwarded-For is whatever the client says it is.
  if (!isLoopbackAddress(req.socket.remoteAddress) || !isLoopbackHost(req.headers.host))
    return problem(
      reply,
      403,
      'the user, token, override and policy API needs an admin session (log in on the web page), or a client on the box itself (localhost): the mfabox command',
    );
  return undefined;
}

/** A name for the audit: the admin the command says it runs as, else "cli". */
export const actorSchema = z
  .string()
  .regex(/^[A-Za-z0-9._@:\\-]{1,64}$/, 'an admin name')
  .optional();

/**
 * The admin for the audit: a web session's own name (a logged-in admin cannot claim another);
 * on the box, the name the command says it runs as, else "cli".
 */
export function actorOf(req: FastifyRequest, claimed: string | undefined): string {
  return req.session.get('admin') ?? claimed ?? 'cli';
}

/** Runs an admin action; a coded refusal is a 400/409 with its message, anything else a logged 500. */
export async function answer<T>(
  reply: FastifyReply,
  what: string,
  fn: () => Promise<T>,
): Promise<FastifyReply> {
  try {
    return await reply.send(await fn());
  } catch (e) {
    if (e instanceof MfaError && (e.code === ErrorCode.CliUsage || e.code === ErrorCode.AuthTokenInvalid))
      return problem(reply, 400, e.message, e.code);
    log.error({ err: describeError(e) }, `${what} failed`);
    return problem(
      reply,
      500,
      `${what} failed: ${e instanceof MfaError ? e.message : 'internal error'}`,
      e instanceof MfaError ? e.code : undefined,
    );
  }
}

export function badRequest(reply: FastifyReply, err: z.ZodError): FastifyReply {
  const why = err.issues
    .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
  return problem(reply, 400, `invalid request (${why})`, ErrorCode.CliUsage);
}

export const userParam = z.strictObject({ user: z.string().min(1).max(256) });

/** Route options every auth-policy route shares: the local-only guard, and the access mark. */
export const LOCAL_ROUTE = { onRequest: localOnly, config: { access: 'local' } } as const;

/** A `/users/:user/…` request, parsed: the user, the body, the admin for the audit and the client's address. */
export interface UserRequest<B> {
  user: string;
  body: B;
  actor: string;
  source: string | undefined;
}

/**
 * The prologue of every `/users/:user/…` route: parses `:user` and the JSON body (absent = `{}`).
 * When either is wrong it answers 400 naming the field and returns undefined (the reply is sent).
 */
export function userRequest<B extends { actor?: string | undefined }>(
  req: FastifyRequest,
  reply: FastifyReply,
  body: z.ZodType<B>,
): UserRequest<B> | undefined {
  const p = userParam.safeParse(req.params);
  const b = body.safeParse(req.body ?? {});
  if (!p.success) {
    badRequest(reply, p.error);
    return undefined;
  }
  if (!b.success) {
    badRequest(reply, b.error);
    return undefined;
  }
  return {
    user: p.data.user,
    body: b.data,
    actor: actorOf(req, b.data.actor),
    source: req.socket.remoteAddress,
  };
}
