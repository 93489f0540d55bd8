/**
 * The RADIUS listener: owns the UDP sockets and the listener's state (NAS table, reply cache,
 * counters), and runs every datagram through pipeline.ts, which answers retransmits, monitors and
 * Status-Server itself and hands the rest to the auth engine through `RadiusHandler`.
 */
import dgram from 'node:dgram';
import type dns from 'node:dns';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { ErrorCode, MfaError, describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { logger } from '../log.ts';
import type { Store } from '../store/store.ts';
import type { RadiusClientConfig, RadiusConfig } from '../config/schema.ts';
import type { RadiusHandler } from '../auth/types.ts';
import { ClientTable } from './clients.ts';
import { CounterBook, type ClientStatus, type RadiusCounters, type RadiusStatus } from './counters.ts';
import { ReplyCache } from './dedupe.ts';
import { MessageAuthenticatorLearning } from './ma-learning.ts';
import type { HealthReport } from './monitor.ts';
import { handleDatagram, type DropEvent, type PipelineState } from './pipeline.ts';
import { RateLimitedLog } from './ratelog.ts';

export {
  DROP_REASONS,
  type ClientCounters,
  type ClientStatus,
  type DropReason,
  type RadiusCounters,
  type RadiusStatus,
} from './counters.ts';
export type { HealthReport } from './monitor.ts';

export interface ListenAddress {
  address: string;
  /** 0 picks a free port (tests); `start()` reports the bound one. */
  port: number;
}

export interface RadiusServerOptions {
  clients: readonly RadiusClientConfig[];
  handler: RadiusHandler;
  /** Persists what `auto` clients learned (table 'radius-state'); without it learning lasts until restart. */
  store?: Store;
  /** For the monitor user: Accept while healthy. Default: always healthy. */
  health?: () => HealthReport;
  listen: readonly ListenAddress[];
  /** Accounting listeners (answered with Accounting-Response); none if empty or absent. */
  accounting?: readonly ListenAddress[];
  /** [5...120] s, default 30. */
  duplicateCacheSeconds?: number;
  /** [16...1e6], default 65536 entries. */
  duplicateCacheEntries?: number;
  /** [1...64] MiB, default 16: the reply cache's byte cap. */
  duplicateCacheMegabytes?: number;
  /** [1...100000], default 2048 requests waiting for the handler; more are dropped ('overload'). */
  maxPending?: number;
  /** [1000...120000] ms, default 30000: a handler slower than this is abandoned ('handler-timeout'). */
  handlerTimeoutMs?: number;
  /** [16...65536], default 256 unknown source addresses remembered with a count. */
  unknownSourceEntries?: number;
  /** Told of every dropped packet, with its reason (the audit, metrics). */
  onDrop?: (d: DropEvent) => void;
  clock?: Clock;
  log?: Logger;
}

export interface RadiusServer {
  start(): Promise<{ auth: AddressInfo[]; acct: AddressInfo[] }>;
  stop(): Promise<void>;
  counters(): RadiusCounters;
  /** Clients still accepted without Message-Authenticator: open to BlastRADIUS forgery. */
  clientsWithoutMessageAuthenticator(): string[];
  /** What the health model (health.ts RadiusHealth) reads: listeners, exposed clients, flat counters. */
  status(): RadiusStatus;
  /** Live reload of the NAS table; validates the whole list first (throws, keeping the old one). */
  updateClients(clients: readonly RadiusClientConfig[]): void;
  /**
   * Applies a changed `radius` config section live: clients, cache TTL and caps, pending limit,
   * handler timeout. Listener addresses and ports need a restart: `restartNeeded` says so.
   */
  reconfigure(cfg: RadiusConfig): { restartNeeded: boolean };
  /** Forgets that an `auto` client sends Message-Authenticator (e.g. after replacing the NAS). */
  forgetLearnedMessageAuthenticator(name: string): Promise<void>;
  /**
   * The whole pipeline without a socket: `send` is called at most once with the reply bytes.
   * Used by the UDP listeners and, directly, by the fuzz test.
   */
  handleDatagram(
    kind: 'auth' | 'acct',
    msg: Buffer,
    source: { address: string; port: number },
    send: (reply: Buffer) => void,
  ): void;
}

/** The config's `radius` section as server options (main.ts adds handler, store, health). */
export function radiusServerOptions(
  cfg: RadiusConfig,
): Pick<
  RadiusServerOptions,
  | 'clients'
  | 'listen'
  | 'accounting'
  | 'duplicateCacheSeconds'
  | 'duplicateCacheEntries'
  | 'duplicateCacheMegabytes'
  | 'maxPending'
  | 'handlerTimeoutMs'
> {
  return {
    clients: cfg.clients,
    listen: cfg.listen,
    accounting:
      cfg.accountingPort === 0
        ? []
        : cfg.listen.map((l) => ({ address: l.address, port: cfg.accountingPort })),
    duplicateCacheSeconds: cfg.duplicateCacheSeconds,
    duplicateCacheEntries: cfg.duplicateCacheEntries,
    duplicateCacheMegabytes: cfg.duplicateCacheMegabytes,
    maxPending: cfg.maxPendingRequests,
    handlerTimeoutMs: cfg.handlerTimeoutSeconds * 1000,
  };
}

/**
 * Replies go only to the address a request came from, an IP literal from the kernel: dgram's
 * default (dns.lookup) would test it against the IP regexes and answer a tick later, for every
 * reply. Called back at once; the send then happens in the same turn.
 */
function literalLookup(
  address: string,
  family: number | dns.LookupOneOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

export function createRadiusServer(opts: RadiusServerOptions): RadiusServer {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? logger('radius');
  const handlerTimeoutMs = opts.handlerTimeoutMs ?? 30_000;
  const ma = new MessageAuthenticatorLearning(opts.store, clock, log);
  const state: PipelineState = {
    table: ClientTable.fromConfig(opts.clients),
    cache: new ReplyCache({
      ttlMs: (opts.duplicateCacheSeconds ?? 30) * 1000,
      capacity: opts.duplicateCacheEntries ?? 65_536,
      maxBytes: (opts.duplicateCacheMegabytes ?? 16) * 1024 * 1024,
      inFlightTimeoutMs: handlerTimeoutMs,
      clock,
    }),
    ma,
    counters: new CounterBook(opts.unknownSourceEntries ?? 256),
    ratelog: new RateLimitedLog(log, clock),
    log,
    handler: opts.handler,
    health: opts.health,
    onDrop: opts.onDrop,
    handlerTimeoutMs,
    maxPending: opts.maxPending ?? 2048,
    pending: 0,
  };
  const { cache, counters, ratelog } = state;
  let sockets: dgram.Socket[] = [];
  let listening: string[] = [];

  async function bindOne(kind: 'auth' | 'acct', at: ListenAddress): Promise<dgram.Socket> {
    // The address is a validated IP literal: only IPv6 ones hold a colon (node:net's isIPv6
    // compiles a large regular expression on first use, up to ~20 ms of a Pi's start).
    const v6 = at.address.includes(':');
    const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6, lookup: literalLookup });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        sock.close();
        reject(
          new MfaError(
            `cannot listen for RADIUS ${kind} on ${at.address}:${at.port}`,
            ErrorCode.RadiusBindFailed,
            {
              cause: err,
            },
          ),
        );
      };
      sock.once('error', onError);
      sock.bind(at.port, at.address, () => {
        sock.off('error', onError);
        resolve();
      });
    });
    try {
      // Absorb bursts (a NetScaler cluster after a failover); the kernel caps it at rmem_max.
      sock.setRecvBufferSize(4 * 1024 * 1024);
    } catch {
      /* not fatal: the default buffer still works */
    }
    sock.on('error', (err) => {
      log.error(
        { code: ErrorCode[ErrorCode.RadiusBindFailed], err: describeError(err) },
        'RADIUS socket error',
      );
    });
    sock.on('message', (msg, rinfo) => {
      handleDatagram(state, kind, msg, rinfo, (r) =>
        sock.send(r, rinfo.port, rinfo.address, (err) => {
          if (err) counters.sendErrors++;
        }),
      );
    });
    return sock;
  }

  function updateClients(clients: readonly RadiusClientConfig[]): void {
    const next = ClientTable.fromConfig(clients);
    state.table = next;
    counters.keepOnly(new Set(next.list().map((e) => e.client.name)));
  }

  const clientsWithoutMessageAuthenticator = (): string[] =>
    state.table
      .list()
      .filter((e) => !ma.required(e))
      .map((e) => e.client.name);

  const clientsWithWeakSecret = (): string[] =>
    state.table
      .list()
      .filter((e) => e.weakSecret)
      .map((e) => e.client.name);

  return {
    handleDatagram: (kind, msg, source, send) => handleDatagram(state, kind, msg, source, send),

    async start() {
      await ma.load();
      const auth: AddressInfo[] = [];
      const acct: AddressInfo[] = [];
      try {
        for (const at of opts.listen) {
          const s = await bindOne('auth', at);
          sockets.push(s);
          auth.push(s.address());
          listening.push(`udp ${s.address().address}:${s.address().port} (auth)`);
        }
        for (const at of opts.accounting ?? []) {
          const s = await bindOne('acct', at);
          sockets.push(s);
          acct.push(s.address());
          listening.push(`udp ${s.address().address}:${s.address().port} (accounting)`);
        }
      } catch (err) {
        for (const s of sockets) s.close();
        sockets = [];
        listening = [];
        throw err;
      }
      const exposed = clientsWithoutMessageAuthenticator();
      if (exposed.length > 0)
        log.warn(
          { clients: exposed },
          'RADIUS clients accepted without Message-Authenticator (BlastRADIUS exposure) until they send one',
        );
      const weak = clientsWithWeakSecret();
      if (weak.length > 0)
        log.warn(
          { clients: weak },
          'RADIUS clients with a shared secret under 16 characters (allowWeakSecret): User-Password can be recovered offline from one captured request',
        );
      log.info({ auth, acct }, 'RADIUS listening');
      return { auth, acct };
    },

    async stop() {
      const closing = sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      sockets = [];
      listening = [];
      await Promise.all(closing);
    },

    counters() {
      const clients: Record<string, ClientStatus> = {};
      for (const e of state.table.list()) {
        const c = counters.for(e.client.name);
        clients[e.client.name] = {
          ...c,
          drops: { ...c.drops },
          requireMessageAuthenticator: e.client.requireMessageAuthenticator,
          messageAuthenticatorRequired: ma.required(e),
        };
      }
      return {
        clients,
        unknownClients: {
          drops: counters.unknownDrops,
          sources: [...counters.unknownSources].map(([address, count]) => ({ address, count })),
        },
        sendErrors: counters.sendErrors,
        caches: {
          duplicates: { size: cache.size, capacity: cache.capacity },
          logKeys: { size: ratelog.size, capacity: ratelog.maxKeys },
          unknownSources: { size: counters.unknownSources.size, capacity: counters.unknownCap },
          pending: { size: state.pending, capacity: state.maxPending },
        },
      };
    },

    clientsWithoutMessageAuthenticator,

    status() {
      const flat: Record<string, Record<string, number>> = {};
      for (const e of state.table.list()) {
        const { drops, ...rest } = counters.for(e.client.name);
        const row: Record<string, number> = { ...rest };
        for (const [reason, n] of Object.entries(drops)) row[`drops.${reason}`] = n ?? 0;
        flat[e.client.name] = row;
      }
      if (counters.unknownDrops > 0)
        flat['(unknown clients)'] = { 'drops.unknown-client': counters.unknownDrops };
      return {
        listening: [...listening],
        clientsWithoutMessageAuthenticator: clientsWithoutMessageAuthenticator(),
        clientsWithWeakSecret: clientsWithWeakSecret(),
        counters: flat,
      };
    },

    updateClients,

    reconfigure(cfg) {
      const o = radiusServerOptions(cfg);
      updateClients(o.clients);
      state.handlerTimeoutMs = o.handlerTimeoutMs ?? state.handlerTimeoutMs;
      state.maxPending = o.maxPending ?? state.maxPending;
      cache.configure({
        ttlMs: cfg.duplicateCacheSeconds * 1000,
        capacity: cfg.duplicateCacheEntries,
        maxBytes: cfg.duplicateCacheMegabytes * 1024 * 1024,
        inFlightTimeoutMs: state.handlerTimeoutMs,
      });
      const key = (l: readonly ListenAddress[] | undefined): string =>
        JSON.stringify((l ?? []).map((x) => [x.address, x.port]));
      return {
        restartNeeded: key(o.listen) !== key(opts.listen) || key(o.accounting) !== key(opts.accounting),
      };
    },

    forgetLearnedMessageAuthenticator: (name) => ma.forget(name),
  };
}
