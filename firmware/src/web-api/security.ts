/**
 * The web page's guards, in the order a request meets them: the Host check (DNS rebinding),
 * the admin source networks, same-origin for anything that changes state, the session, then
 * the CSRF token. Every /api route needs a session unless it says otherwise: a route a later
 * issue adds is protected without having to remember to be.
 */
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySession from '@fastify/session';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseSourceAddress, toIpAddress } from '../net/address.ts';
import { CidrSet } from '../net/cidr.ts';
import { isLoopbackAddress } from './loopback.ts';
import { boxNames } from './tls.ts';

declare module 'fastify' {
  interface Session {
    admin?: string;
    mustChange?: boolean;
  }
  interface FastifyContextConfig {
    /** Who may call the route: `public` (anyone who passed the Host check), `local` (this box without a session, or an admin), `monitor` (the monitoring token or an admin). Default: an admin session. */
    access?: 'public' | 'local' | 'monitor';
    /** The route may be used while the admin still has to change the first password. */
    beforePasswordChange?: boolean;
  }
}

/** What the guards read on every request, so a config change applies at once. */
export interface WebSecurityConfig {
  /** Extra names (web.hosts) and the listen address. */
  hosts: readonly string[];
  adminNetworks: readonly string[];
  sessionIdleMinutes: number;
  monitorToken?: string | undefined;
}

export const SESSION_COOKIE = 'mfabox_session';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function problem(reply: FastifyReply, statusCode: number, error: string, message: string): FastifyReply {
  return reply.code(statusCode).send({ statusCode, error, message });
}

/** The name part of a Host header (`box.lan:8443` → `box.lan`, `[::1]:80` → `::1`), lower case. */
export function hostName(host: string): string {
  const h = host.toLowerCase().trim();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') >= 0 ? h.indexOf(']') : undefined);
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/** Caches the box's own names and addresses for a few seconds (DHCP may change them). */
function ownNames(): () => Set<string> {
  let at = 0;
  let names = new Set<string>();
  return () => {
    const now = Date.now();
    if (now - at > 10_000) {
      const b = boxNames();
      names = new Set([...b.names, ...b.addresses, '127.0.0.1', '::1']);
      at = now;
    }
    return names;
  };
}

function inList(list: CidrSet, address: string): boolean {
  const ip = parseSourceAddress(address);
  return ip !== undefined && list.has(toIpAddress(ip));
}

function sameSecret(a: string, b: string): boolean {
  const h = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

export async function registerSecurity(
  app: FastifyInstance,
  cfg: () => WebSecurityConfig,
  opts: { https: boolean },
): Promise<void> {
  const own = ownNames();
  let listCache: { key: string; list: CidrSet | undefined } = { key: '', list: undefined };
  const adminList = (): CidrSet | undefined => {
    const nets = cfg().adminNetworks;
    const key = nets.join(',');
    if (key !== listCache.key) listCache = { key, list: nets.length > 0 ? new CidrSet(nets) : undefined };
    return listCache.list;
  };

  // 1. Host: a page elsewhere that rebinds its DNS name to this box still sends its own name.
  app.addHook('onRequest', async (req, reply) => {
    const host = req.headers.host;
    if (host === undefined || host === '') return undefined;
    const name = hostName(host);
    const c = cfg();
    if (own().has(name) || c.hosts.some((h) => h.toLowerCase() === name)) return undefined;
    return problem(
      reply,
      421,
      'Misdirected Request',
      `this box does not answer to the name ${name}; add it to web.hosts if it is the box's own name`,
    );
  });

  // 2. Admin source networks (loopback always passes: the admin on the box, the mfabox command).
  app.addHook('onRequest', async (req, reply) => {
    const list = adminList();
    const ip = req.socket.remoteAddress ?? '';
    if (!list || isLoopbackAddress(ip) || inList(list, ip)) return undefined;
    return problem(reply, 403, 'Forbidden', 'this address is not in web.adminNetworks');
  });

  // 3. Same origin for every state change: a cross-site form or fetch carries its own Origin.
  app.addHook('onRequest', async (req, reply) => {
    if (!STATE_CHANGING.has(req.method)) return undefined;
    const origin = req.headers.origin;
    if (origin === undefined) return undefined;
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = '';
    }
    if (originHost !== '' && originHost.toLowerCase() === (req.headers.host ?? '').toLowerCase())
      return undefined;
    return problem(reply, 403, 'Forbidden', 'cross-site request refused');
  });

  await app.register(fastifyHelmet, {
    // Strict: only this box's own scripts and styles; nothing inline, nothing framed.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    crossOriginEmbedderPolicy: false,
  });
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    // Sessions live in memory: a restart logs admins out, which a box that rarely restarts can afford.
    secret: randomBytes(32).toString('base64url'),
    cookieName: SESSION_COOKIE,
    saveUninitialized: false,
    rolling: true,
    cookie: {
      httpOnly: true,
      sameSite: 'strict',
      // Never 'auto': the plugin then downgrades SameSite to Lax on plain HTTP. An HTTPS box sends
      // the cookie over HTTPS only (its plain loopback port serves the CLI, which has no session).
      secure: opts.https,
      path: '/',
      maxAge: cfg().sessionIdleMinutes * 60_000,
    },
  });
  // The idle timeout follows the config live: stretch or shrink each session's cookie on use.
  app.addHook('onRequest', (req, _reply, done) => {
    if (req.session.get('admin') !== undefined) req.session.cookie.maxAge = cfg().sessionIdleMinutes * 60_000;
    done();
  });
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/session',
    getToken: (req) => {
      const t = req.headers['x-csrf-token'];
      return typeof t === 'string' ? t : undefined;
    },
  });
  await app.register(fastifyRateLimit, { global: false });

  // 4. Who may call the route, then 5. the CSRF token for a session's state change.
  app.addHook('preHandler', async (req, reply) => {
    const access = req.routeOptions.config.access;
    const admin = req.session.get('admin');
    const isApi = req.url.startsWith('/api/');
    // A 404 reveals nothing, and tells an old `mfabox` command apart from a refusal.
    if (!isApi || access === 'public' || req.is404) return undefined;
    if (admin === undefined) {
      if (access === 'local') return undefined; // the route checks loopback itself
      if (access === 'monitor') {
        const token = cfg().monitorToken;
        const auth = req.headers.authorization ?? '';
        if (token !== undefined && auth.startsWith('Bearer ') && sameSecret(auth.slice(7), token))
          return undefined;
      }
      return problem(reply, 401, 'Unauthorized', 'log in first (POST /api/session)');
    }
    if (req.session.get('mustChange') === true && req.routeOptions.config.beforePasswordChange !== true)
      return problem(
        reply,
        403,
        'Forbidden',
        'change the first password before anything else (POST /api/session/password)',
      );
    if (!STATE_CHANGING.has(req.method)) return undefined;
    // The plugin answers 403 itself (synchronously) or calls back: there is no third outcome.
    let passed = false;
    app.csrfProtection(req, reply, () => {
      passed = true;
    });
    return passed ? undefined : reply;
  });
}

/** The session's admin, for routes that need a name (audit). */
export function adminOf(req: FastifyRequest): string {
  return req.session.get('admin') ?? 'local';
}
