/**
 * The web server, built without listening (tests use `inject`). Until the web config issue
 * lands it serves a read-only status page and the health API; nothing here returns a secret.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { HealthSnapshot } from '../health/health.ts';

export interface WebDeps {
  health(): HealthSnapshot;
}

const STATUS_PAGE = fileURLToPath(new URL('../../../web/status.html', import.meta.url));

export async function buildApp(deps: WebDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  const page = await readFile(STATUS_PAGE, 'utf8');

  app.addHook('onSend', async (_req, reply) => {
    // A LAN admin page: never cached, never framed, no third-party content.
    void reply.header('cache-control', 'no-store');
    void reply.header('x-frame-options', 'DENY');
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header(
      'content-security-policy',
      "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    );
  });

  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
  app.get('/api/health', (_req, reply) => reply.send(deps.health()));
  return app;
}
