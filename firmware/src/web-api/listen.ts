/**
 * Puts a built app on the network: the configured address and port (HTTPS or, when explicitly
 * chosen, plain HTTP), plus two plain-HTTP helpers for an HTTPS box: a port that only redirects
 * to HTTPS, and a 127.0.0.1 port for the `mfabox` command's local API.
 */
import type { FastifyInstance } from 'fastify';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError } from '../errors.ts';
import { logger } from '../log.ts';
import { needsLoopbackListener } from './loopback.ts';
import { hostName } from './security.ts';

export interface WebListenOptions {
  host: string;
  port: number;
  tls: boolean;
  /** With tls: plain HTTP that redirects; 0 = none. */
  redirectPort?: number;
  /** With tls: plain HTTP on 127.0.0.1 for the local API; 0 = none. */
  localPort?: number;
  /** Names the redirect may point at (the Host check's list). */
  allowedHost?: (name: string) => boolean;
}

export interface WebListening {
  /** The configured listener's address. */
  address: AddressInfo;
  /** The plain-HTTP 127.0.0.1 listener for the local API, when there is one. */
  loopback: AddressInfo | undefined;
  redirect: AddressInfo | undefined;
  close(): Promise<void>;
}

const log = logger('web');

async function listenOn(server: http.Server, host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function closeServer(s: http.Server): Promise<void> {
  s.closeIdleConnections();
  // A client still waiting on a long sync must not hold the shutdown until systemd kills us.
  const force = setTimeout(() => s.closeAllConnections(), 2000);
  force.unref();
  await new Promise<void>((r) => s.close(() => r()));
  clearTimeout(force);
}

function redirectServer(httpsPort: number, allowed: (name: string) => boolean): http.Server {
  const server = http.createServer((req, res) => {
    const name = hostName(req.headers.host ?? '');
    if (!allowed(name)) {
      res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8' }).end('unknown host name\n');
      return;
    }
    const host = name.includes(':') ? `[${name}]` : name;
    const port = httpsPort === 443 ? '' : `:${httpsPort}`;
    // The path only: the redirect never carries the query (it could hold something typed by mistake).
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    res
      .writeHead(301, {
        location: `https://${host}${port}${path.startsWith('/') ? path : '/'}`,
        'cache-control': 'no-store',
      })
      .end();
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  return server;
}

/**
 * Listens on the configured address and port. A box whose page is bound to one LAN address, or
 * served over HTTPS, also gets a plain 127.0.0.1 listener for the local API (`mfabox directory
 * sync` while the service runs); if that port is taken the page still runs (logged).
 */
export async function listenWeb(app: FastifyInstance, o: WebListenOptions): Promise<WebListening> {
  await app.listen({ host: o.host, port: o.port });
  const address = app.server.address() as AddressInfo;
  const extras: http.Server[] = [];
  let loopback: AddressInfo | undefined;
  let redirect: AddressInfo | undefined;

  const localPort = o.tls ? (o.localPort ?? 0) : needsLoopbackListener(o.host) ? address.port : 0;
  if (localPort !== 0 || (o.tls && o.localPort === undefined)) {
    // Requests on the second socket go to fastify's own handler, so routing, hooks and
    // timeouts are the same (a serverFactory would drop fastify's server settings).
    const server = http.createServer((req, res) => app.server.emit('request', req, res));
    server.keepAliveTimeout = app.server.keepAliveTimeout;
    server.requestTimeout = app.server.requestTimeout;
    try {
      await listenOn(server, '127.0.0.1', localPort);
      extras.push(server);
      loopback = server.address() as AddressInfo;
    } catch (e) {
      log.warn(
        { err: describeError(e), port: localPort },
        'cannot also listen on 127.0.0.1: the local API (mfabox directory sync while running) is unavailable',
      );
    }
  }
  if (o.tls && (o.redirectPort ?? 0) !== 0) {
    const server = redirectServer(address.port, o.allowedHost ?? (() => true));
    try {
      await listenOn(server, o.host, o.redirectPort ?? 0);
      extras.push(server);
      redirect = server.address() as AddressInfo;
    } catch (e) {
      log.warn(
        { err: describeError(e), port: o.redirectPort },
        'cannot listen for the HTTP → HTTPS redirect',
      );
    }
  }
  return {
    address,
    loopback,
    redirect,
    async close() {
      for (const s of extras) await closeServer(s);
      await app.close();
    },
  };
}
