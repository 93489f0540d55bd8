/**
 * `GET /metrics`: Prometheus text format, on the web port. Access follows the web rules (Host
 * check, web.adminNetworks, an admin session), plus the read-only monitoring token
 * (`Authorization: Bearer <web.monitorToken>`) for a Prometheus server, which has no session.
 *
 * `GET /api/status`: the health model for `mfabox status` on the box (or an admin).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HealthSnapshot } from '../../health/health.ts';
import type { RequestGuard } from '../local-only.ts';

export const METRICS_ROUTE = '/metrics';
export const STATUS_ROUTE = '/api/status';

export interface MetricsText {
  contentType: string;
  text(): Promise<string>;
}

function sameSecret(a: string, b: string): boolean {
  const h = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

export function metricsAllowed(req: FastifyRequest, monitorToken: string | undefined): boolean {
  if (req.session.get('admin') !== undefined && req.session.get('mustChange') !== true) return true;
  const auth = req.headers.authorization ?? '';
  return monitorToken !== undefined && auth.startsWith('Bearer ') && sameSecret(auth.slice(7), monitorToken);
}

export function registerMetricsRoutes(
  app: FastifyInstance,
  metrics: MetricsText,
  monitorToken: () => string | undefined,
): void {
  // Outside /api, so the session guard does not see it: the check is here.
  app.get(METRICS_ROUTE, { config: { access: 'public' } }, async (req, reply: FastifyReply) => {
    if (!metricsAllowed(req, monitorToken()))
      return reply.code(401).header('www-authenticate', 'Bearer realm="mfabox"').send({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'metrics need an admin session or Authorization: Bearer <web.monitorToken>',
      });
    return reply.type(metrics.contentType).send(await metrics.text());
  });
}

export function registerStatusRoute(
  app: FastifyInstance,
  health: () => HealthSnapshot,
  guard: RequestGuard,
): void {
  app.get(STATUS_ROUTE, { preHandler: guard, config: { access: 'local' } }, (_req, reply) =>
    reply.send(health()),
  );
}
