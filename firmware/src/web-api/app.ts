/**
 * The web server, built without listening (tests use `inject`). Until the web config issue
 * lands it serves a read-only status page, the health API and, to this box only, the directory
 * sync API; nothing here returns a secret.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describeError } from '../errors.ts';
import type { HealthSnapshot } from '../health/health.ts';
import { logger } from '../log.ts';
import { needsLoopbackListener } from './loopback.ts';
import { localOnly } from './local-only.ts';
import { registerAuditRoutes, type AuditReader } from './routes/audit.ts';
import { registerDirectorySyncRoutes, type SyncService } from './routes/directory-sync.ts';
import type { AdminService } from './routes/auth-common.ts';
import { registerAuthOverrideRoutes } from './routes/auth-overrides.ts';
import { registerAuthPolicyRoutes } from './routes/auth-policy.ts';
import { registerAuthTokenRoutes } from './routes/auth-tokens.ts';
import { registerAuthUserRoutes } from './routes/auth-users.ts';

export interface WebDeps {
  health(): HealthSnapshot;
  /** The running DirectorySync; without it the sync routes are not served. */
  directorySync?: SyncService;
  /** The auth log; without it GET /api/audit is not served. */
  audit?: AuditReader;
  /** Users (show, unlock), tokens, override codes and policy explain; local-only until the web login exists. */
  authAdmin?: AdminService;
}

const STATUS_PAGE = fileURLToPath(new URL('../../../web/status.html', import.meta.url));

const log = logger('web');

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

  // Client mistakes (bad JSON, wrong content type, too large) keep fastify's clear message; an
  // internal error is logged and answered without its message, which could carry internals.
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const statusCode = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500;
    if (statusCode >= 500) {
      log.error({ err: describeError(err), url: req.url }, 'web request failed');
      return reply
        .code(statusCode)
        .send({ statusCode, error: 'Internal Server Error', message: 'internal error' });
    }
    return reply.code(statusCode).send({
      statusCode,
      code: err.code,
      error: http.STATUS_CODES[statusCode] ?? 'Error',
      message: err.message,
    });
  });

  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
  app.get('/api/health', (_req, reply) => reply.send(deps.health()));
  if (deps.directorySync) registerDirectorySyncRoutes(app, deps.directorySync);
  if (deps.audit)
    registerAuditRoutes(app, deps.audit, localOnly('audit API', 'run `mfabox log` on the box instead'));
  if (deps.authAdmin) {
    registerAuthUserRoutes(app, deps.authAdmin);
    registerAuthTokenRoutes(app, deps.authAdmin);
    registerAuthOverrideRoutes(app, deps.authAdmin);
    registerAuthPolicyRoutes(app, deps.authAdmin);
  }
  return app;
}

export interface WebListening {
  /** The configured listener's address. */
  address: AddressInfo;
  /** The extra 127.0.0.1 listener, when `address` is one LAN address (see needsLoopbackListener). */
  loopback: AddressInfo | undefined;
  close(): Promise<void>;
}

/**
 * Listens on the configured address and port. A box whose web page is bound to one LAN address
 * is not reachable over loopback, where the local-only API (and `mfabox directory sync` while the
 * service runs) lives, so it also listens on 127.0.0.1 with the same port. If that port is taken
 * on loopback, the web page still runs and the local API is unavailable (logged).
 */
export async function listenWeb(app: FastifyInstance, host: string, port: number): Promise<WebListening> {
  await app.listen({ host, port });
  const address = app.server.address() as AddressInfo;
  let extra: http.Server | undefined;
  if (needsLoopbackListener(host)) {
    // Requests on the second socket go to fastify's own handler on the main server, so routing,
    // hooks and timeouts are the same (a serverFactory would drop fastify's server settings and
    // its binding of every address of `localhost`).
    const server = http.createServer((req, res) => app.server.emit('request', req, res));
    server.keepAliveTimeout = app.server.keepAliveTimeout;
    server.requestTimeout = app.server.requestTimeout;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: address.port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      extra = server;
    } catch (e) {
      log.warn(
        { err: describeError(e), port: address.port },
        'cannot also listen on 127.0.0.1: the local API (mfabox directory sync while running) is unavailable',
      );
    }
  }
  const lo = extra;
  return {
    address,
    loopback: lo ? (lo.address() as AddressInfo) : undefined,
    async close() {
      if (lo) {
        lo.closeIdleConnections();
        // A client still waiting on a long sync must not hold the shutdown until systemd kills us.
        const force = setTimeout(() => lo.closeAllConnections(), 2000);
        force.unref();
        await new Promise<void>((r) => lo.close(() => r()));
        clearTimeout(force);
      }
      await app.close();
    },
  };
}
