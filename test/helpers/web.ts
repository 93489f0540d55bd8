/** A web app for `inject` tests: a temp admin file with the demo admin, default guards, a recording audit. */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminStore, DEMO_ADMIN } from '../../firmware/src/web-api/admins.ts';
import { buildApp, type WebDeps } from '../../firmware/src/web-api/app.ts';
import type { AdminEvent } from '../../firmware/src/web-api/routes/session.ts';
import type { WebSecurityConfig } from '../../firmware/src/web-api/security.ts';
import type { HealthSnapshot } from '../../firmware/src/health/health.ts';

export interface TestWeb {
  app: FastifyInstance;
  admins: AdminStore;
  audits: AdminEvent[];
  security: WebSecurityConfig;
  dir: string;
  close(): Promise<void>;
}

export async function testWeb(
  deps: Partial<WebDeps> = {},
  security: Partial<WebSecurityConfig> = {},
): Promise<TestWeb> {
  const dir = mkdtempSync(join(tmpdir(), 'mfabox-web-'));
  const admins = new AdminStore(join(dir, 'admins.json'));
  await admins.ensureFirst({ demo: true });
  const audits: TestWeb['audits'] = [];
  const sec: WebSecurityConfig = { hosts: [], adminNetworks: [], sessionIdleMinutes: 30, ...security };
  const app = await buildApp({
    health: () => ({ status: 'ok' }) as unknown as HealthSnapshot,
    audit: async (e) => void audits.push(e),
    ...deps,
    admins: deps.admins ?? admins,
    security: () => sec,
  });
  return {
    app,
    admins,
    audits,
    security: sec,
    dir,
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The session cookie (name=value) from a login response. */
export function sessionCookie(res: LightMyRequestResponse): string {
  const set = res.headers['set-cookie'];
  const line = (Array.isArray(set) ? set : [set ?? '']).find((c) => c.startsWith('mfabox_session='));
  if (!line) throw new Error(`no session cookie in ${JSON.stringify(set)}`);
  return line.split(';')[0] ?? '';
}

/** Logs in as the demo admin; returns the cookie and CSRF token to send with later requests. */
export async function login(
  app: FastifyInstance,
  user: { username: string; password: string } = DEMO_ADMIN,
): Promise<{ cookie: string; csrf: string; headers: Record<string, string> }> {
  const res = await app.inject({ method: 'POST', url: '/api/session', payload: user });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  const cookie = sessionCookie(res);
  const csrf = res.json<{ csrfToken: string }>().csrfToken;
  return { cookie, csrf, headers: { cookie, 'x-csrf-token': csrf } };
}

/** A logged-in admin whose requests carry the session cookie and the CSRF token. */
export interface AdminClient {
  cookie: string;
  csrf: string;
  headers: Record<string, string>;
  get(url: string, opts?: { remoteAddress?: string }): Promise<LightMyRequestResponse>;
  post(url: string, payload?: object, opts?: { remoteAddress?: string }): Promise<LightMyRequestResponse>;
}

/** Logs in (as the demo admin by default) and returns a client for the session's requests. */
export async function adminClient(
  app: FastifyInstance,
  user: { username: string; password: string } = DEMO_ADMIN,
): Promise<AdminClient> {
  const s = await login(app, user);
  const at = (opts?: { remoteAddress?: string }) =>
    opts?.remoteAddress === undefined ? {} : { remoteAddress: opts.remoteAddress };
  return {
    ...s,
    get: (url, opts) => app.inject({ url, headers: s.headers, ...at(opts) }),
    post: (url, payload = {}, opts) =>
      app.inject({ method: 'POST', url, headers: s.headers, payload, ...at(opts) }),
  };
}
