/**
 * The web server, built without listening (tests use `inject`): the config page (built by Vite
 * into dist/web), the JSON API behind an admin session, and the loopback-only directory sync API
 * the `mfabox` command uses. See README.md in this folder for the API.
 */
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import type { LiveConfig } from '../config/live-config.ts';
import { describeError } from '../errors.ts';
import type { HealthSnapshot } from '../health/health.ts';
import { logger } from '../log.ts';
import { adminOrLocal } from './local-only.ts';
import { registerAuditRoutes, type AuditReader } from './routes/audit.ts';
import { registerMetricsRoutes, registerStatusRoute, type MetricsText } from './routes/metrics.ts';
import type { AdminStore } from './admins.ts';
import type { WebOps } from './ops.ts';
import { registerActivityRoutes } from './routes/activity.ts';
import { registerConfigRoutes } from './routes/config.ts';
import { registerDirectoryCaRoutes } from './routes/directory-ca.ts';
import { registerDirectoryTestRoutes, type DirectoryTester } from './routes/directory-test.ts';
import { registerModemRoutes, type ModemTestSender } from './routes/modems.ts';
import { registerDirectorySyncRoutes, type SyncService } from './routes/directory-sync.ts';
import { registerOpsRoutes } from './routes/ops.ts';
import { registerSessionRoutes, type AdminAudit } from './routes/session.ts';
import { registerAdminRoutes } from './routes/admins.ts';
import { registerRollbackRoutes } from './routes/rollback.ts';
import { registerSystemRoutes } from './routes/system.ts';
import { RollbackGuard } from './rollback.ts';
import type { SystemActions } from './system-actions.ts';
import { registerSecurity, type WebSecurityConfig } from './security.ts';
import type { TlsMaterial } from './tls.ts';
import type { AdminService } from './routes/auth-common.ts';
import { registerAuthOverrideRoutes } from './routes/auth-overrides.ts';
import { registerAuthPolicyRoutes } from './routes/auth-policy.ts';
import { registerAuthTokenRoutes } from './routes/auth-tokens.ts';
import { registerAuthUserRoutes } from './routes/auth-users.ts';

export interface WebDeps {
  health(): HealthSnapshot;
  admins: AdminStore;
  /** The guards' settings, read on every request (web.hosts, adminNetworks, idle timeout, monitor token). */
  security(): WebSecurityConfig;
  audit: AdminAudit;
  /** The running DirectorySync; without it the sync routes are not served. */
  directorySync?: SyncService;

  config?: LiveConfig;
  ops?: WebOps;
  /** HTTPS: the certificate and key (live-replaceable through `app.server.setSecureContext`). */
  https?: TlsMaterial;
  /** Where the built page is; default dist/web. */
  webRoot?: string;
  /** Users (show, unlock), tokens, override codes and policy explain; local-only until the web login exists. */
  authAdmin?: AdminService;
  /** Test send through one named modem; without it the route is not served. */
  modemTest?: ModemTestSender;
  /** Test connection's runner (tests inject one); default the diagnostics of `mfabox directory test`. */
  directoryTester?: DirectoryTester;
  /** The auth log; without it GET /api/audit and /api/activity are not served. */
  auditLog?: AuditReader;
  /** Prometheus metrics; without them GET /metrics is not served. */
  metrics?: MetricsText;
  /** Backup, restore, reboot, factory reset; without it those routes are not served. */
  system?: SystemActions;
  /** Tests: the rollback window (default 90 s) and the delay before a reboot (default 1 s). */
  rollbackMs?: number;
  rebootDelayMs?: number;
}

const log = logger('web');

/** dist/web beside the source tree, or beside the compiled firmware in a release. */
export function findWebRoot(): string | undefined {
  for (const rel of ['../../../dist/web', '../../../web']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}/index.html`) && existsSync(`${dir}/assets`)) return dir;
  }
  return undefined;
}

const NOT_BUILT =
  'The MFA Box web page is not built. In a source checkout run `npm run build:web` (or `npm run build`), then reload.\n';

export async function buildApp(deps: WebDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 256 * 1024,
    // A slow or idle client must not hold a socket of a small box for long.
    requestTimeout: 30_000,
    connectionTimeout: 15_000,
    keepAliveTimeout: 10_000,
    // req.ip is the socket's peer: nothing in front of the box may claim another address.
    trustProxy: false,
    ...(deps.https
      ? { https: { cert: deps.https.cert, key: deps.https.key, minVersion: 'TLSv1.2' as const } }
      : {}),
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

  app.addHook('onSend', async (_req, reply) => {
    // Admin data: never cached by the browser or anything between.
    void reply.header('cache-control', 'no-store');
  });

  await registerSecurity(app, () => deps.security(), { https: deps.https !== undefined });

  const root = deps.webRoot ?? findWebRoot();
  if (root) {
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      index: ['index.html'],
      wildcard: false,
      cacheControl: false,
    });
  } else {
    log.warn('the web page is not built (dist/web missing): run npm run build:web');
    app.get('/', { config: { access: 'public' } }, async (_req, reply) =>
      reply.type('text/plain; charset=utf-8').send(NOT_BUILT),
    );
  }

  app.get('/api/health', { config: { access: 'monitor' } }, (_req, reply) => reply.send(deps.health()));
  registerStatusRoute(
    app,
    () => deps.health(),
    adminOrLocal('status API', 'log in, or run `mfabox status` on the box'),
  );
  if (deps.metrics) registerMetricsRoutes(app, deps.metrics, () => deps.security().monitorToken);
  registerSessionRoutes(app, deps.admins, deps.audit);
  registerAdminRoutes(app, deps.admins, deps.audit);
  const rollback = new RollbackGuard(
    {
      confirmed: (p, who) =>
        deps.audit({
          action: 'change-confirmed',
          actor: who,
          outcome: 'ok',
          detail: `${p.what} (changed by ${p.by})`,
        }),
      rolledBack: (p, error) =>
        deps.audit({
          action: 'change-rolled-back',
          actor: 'system',
          outcome: error ? 'failed' : 'ok',
          detail: `${p.what} (changed by ${p.by}) not confirmed within ${p.seconds} s${error ? `: ${error}` : ''}`,
        }),
    },
    deps.rollbackMs,
  );
  app.addHook('onClose', async () => rollback.stop());
  registerRollbackRoutes(app, rollback);
  if (deps.config) {
    registerConfigRoutes(app, deps.config, rollback);
    registerDirectoryTestRoutes(app, deps.config, deps.directoryTester);
    registerDirectoryCaRoutes(app, deps.config, deps.audit);
  }
  registerModemRoutes(app, deps.audit, deps.modemTest);
  registerSystemRoutes(app, {
    ...(deps.ops ? { ops: deps.ops } : {}),
    ...(deps.system ? { system: deps.system } : {}),
    rollback,
    admins: deps.admins,
    audit: deps.audit,
    ...(deps.rebootDelayMs !== undefined ? { rebootDelayMs: deps.rebootDelayMs } : {}),
  });
  if (deps.ops) registerOpsRoutes(app, deps.ops, deps.audit);
  if (deps.directorySync) registerDirectorySyncRoutes(app, deps.directorySync);
  if (deps.auditLog) registerActivityRoutes(app, deps.auditLog);
  if (deps.auditLog)
    registerAuditRoutes(
      app,
      deps.auditLog,
      adminOrLocal('audit API', 'log in, or run `mfabox log` on the box'),
    );
  app.setNotFoundHandler({}, (req, reply) =>
    reply.code(404).send({
      statusCode: 404,
      error: 'Not Found',
      message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}`,
    }),
  );
  if (deps.authAdmin) {
    registerAuthUserRoutes(app, deps.authAdmin);
    registerAuthTokenRoutes(app, deps.authAdmin);
    registerAuthOverrideRoutes(app, deps.authAdmin);
    registerAuthPolicyRoutes(app, deps.authAdmin);
  }
  return app;
}
