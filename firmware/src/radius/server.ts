/**
 * The RADIUS listener: owns the UDP sockets, validates every datagram, answers retransmits from
 * the reply cache, answers monitors and Status-Server itself, and hands the rest to the auth
 * engine through `RadiusHandler`. Nothing a peer sends can throw out of a message handler or hold
 * the socket: every failure is a drop, a counter and a rate-limited log line.
 *
 * Pipeline (layeh/radius order): client lookup → length/attribute sanity → Message-Authenticator
 * (RFC 3579; required per client) → limit Proxy-State → User-Password decode (RFC 2865 §5.2; not
 * UTF-8 or NUL inside ⇒ wrong secret) → duplicate check (RFC 5080) → monitor user / handler.
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { isIPv6 } from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { ErrorCode, MfaError, describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { logger } from '../log.ts';
import type { Store } from '../store/store.ts';
import type { RadiusClientConfig, RadiusConfig } from '../config/schema.ts';
import {
  ATTR,
  CODE,
  decodeAttributes,
  decodeUserPassword,
  encodeAttributes,
  encodeReply,
  firstAttribute,
  parsePacket,
  verifyAccountingAuthenticator,
  verifyMessageAuthenticator,
} from './codec.ts';
import type { ParsedPacket, ReplyAttribute } from './codec.ts';
import type { ClientEntry } from './clients.ts';
import { ClientTable } from './clients.ts';
import { ReplyCache, dedupeKey } from './dedupe.ts';
import { RateLimitedLog } from './ratelog.ts';
import type {
  AccessRequest,
  HandlerReply,
  RadiusHandler,
  RequireMessageAuthenticator,
} from '../auth/types.ts';

export const DROP_REASONS = [
  'malformed',
  'unsupported-code',
  'missing-message-authenticator',
  'bad-message-authenticator',
  'proxy-state-without-message-authenticator',
  'bad-password',
  'bad-accounting-authenticator',
  'overload',
  'handler-error',
  'handler-timeout',
  'internal-error',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

const DROP_CODE: Record<DropReason, ErrorCode> = {
  malformed: ErrorCode.RadiusMalformed,
  'unsupported-code': ErrorCode.RadiusUnsupportedCode,
  'missing-message-authenticator': ErrorCode.RadiusMessageAuthenticatorMissing,
  'bad-message-authenticator': ErrorCode.RadiusBadAuthenticator,
  'proxy-state-without-message-authenticator': ErrorCode.RadiusProxyStateWithoutAuthenticator,
  'bad-password': ErrorCode.RadiusPasswordUndecodable,
  'bad-accounting-authenticator': ErrorCode.RadiusBadAuthenticator,
  overload: ErrorCode.RadiusOverloaded,
  'handler-error': ErrorCode.RadiusHandlerFailed,
  'handler-timeout': ErrorCode.RadiusHandlerFailed,
  'internal-error': ErrorCode.RadiusHandlerFailed,
};

export interface ClientCounters {
  /** Access-Request and Status-Server packets from this client, before validation. */
  requests: number;
  accepts: number;
  rejects: number;
  challenges: number;
  /** Retransmits: ignored while in flight, or answered from the reply cache. */
  duplicates: number;
  statusServer: number;
  accounting: number;
  /** Requests from the client's monitor user (answered without the handler). */
  monitor: number;
  drops: Partial<Record<DropReason, number>>;
}

export interface ClientStatus extends ClientCounters {
  requireMessageAuthenticator: RequireMessageAuthenticator;
  /** True when this client's requests must carry Message-Authenticator (yes, or auto once learned). */
  messageAuthenticatorRequired: boolean;
}

export interface RadiusCounters {
  clients: Record<string, ClientStatus>;
  unknownClients: { drops: number; sources: { address: string; count: number }[] };
  sendErrors: number;
  caches: Record<'duplicates' | 'logKeys' | 'unknownSources' | 'pending', { size: number; capacity: number }>;
}

export interface RadiusStatus {
  /** "udp 127.0.0.1:1812 (auth)" etc. */
  listening: string[];
  clientsWithoutMessageAuthenticator: string[];
  /** Per client name: requests, accepts, …, and `drops.<reason>`. */
  counters: Record<string, Record<string, number>>;
}

export interface HealthReport {
  healthy: boolean;
  reasons: string[];
}

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
  /** [1...100000], default 2048 requests waiting for the handler; more are dropped ('overload'). */
  maxPending?: number;
  /** [1000...120000] ms, default 30000: a handler slower than this is abandoned ('handler-timeout'). */
  handlerTimeoutMs?: number;
  /** [16...65536], default 256 unknown source addresses remembered with a count. */
  unknownSourceEntries?: number;
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

interface Learned {
  learnedAt: string;
  match: string;
}

const STATE_PREFIX = 'require-ma:';

function emptyCounters(): ClientCounters {
  return {
    requests: 0,
    accepts: 0,
    rejects: 0,
    challenges: 0,
    duplicates: 0,
    statusServer: 0,
    accounting: 0,
    monitor: 0,
    drops: {},
  };
}

function digestEqual(a: Buffer, b: Buffer): boolean {
  // Hash first so the comparison takes the same time whatever the lengths.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

function asString(v: unknown): string | undefined {
  if (Array.isArray(v)) return asString(v[0]);
  return typeof v === 'string' ? v : undefined;
}

const REPLY_CODE: Record<HandlerReply['code'], number> = {
  'Access-Accept': CODE.AccessAccept,
  'Access-Reject': CODE.AccessReject,
  'Access-Challenge': CODE.AccessChallenge,
};

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
    maxPending: cfg.maxPendingRequests,
    handlerTimeoutMs: cfg.handlerTimeoutSeconds * 1000,
  };
}

export function createRadiusServer(opts: RadiusServerOptions): RadiusServer {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? logger('radius');
  const ratelog = new RateLimitedLog(log, clock);
  let handlerTimeoutMs = opts.handlerTimeoutMs ?? 30_000;
  let maxPending = opts.maxPending ?? 2048;
  const unknownCap = opts.unknownSourceEntries ?? 256;
  const cache = new ReplyCache({
    ttlMs: (opts.duplicateCacheSeconds ?? 30) * 1000,
    capacity: opts.duplicateCacheEntries ?? 65_536,
    inFlightTimeoutMs: handlerTimeoutMs,
    clock,
  });
  const stateTable = opts.store?.table<Learned>('radius-state');
  let table = ClientTable.fromConfig(opts.clients);
  const learned = new Map<string, Learned>();
  const counters = new Map<string, ClientCounters>();
  const unknownSources = new Map<string, number>();
  let unknownDrops = 0;
  let sendErrors = 0;
  let pending = 0;
  let sockets: dgram.Socket[] = [];
  let listening: string[] = [];

  const countersFor = (name: string): ClientCounters => {
    let c = counters.get(name);
    if (!c) {
      c = emptyCounters();
      counters.set(name, c);
    }
    return c;
  };

  /** What an `auto` client learned holds for that name at that address: a re-pointed entry learns anew. */
  const hasLearned = (e: ClientEntry): boolean => learned.get(e.client.name)?.match === e.client.match;

  const required = (e: ClientEntry): boolean =>
    e.client.requireMessageAuthenticator === 'yes' ||
    (e.client.requireMessageAuthenticator === 'auto' && hasLearned(e));

  const drop = (
    e: ClientEntry,
    reason: DropReason,
    source: { address: string; port: number },
    detail?: string,
  ): void => {
    const c = countersFor(e.client.name);
    c.drops[reason] = (c.drops[reason] ?? 0) + 1;
    const fields: Record<string, unknown> = {
      code: ErrorCode[DROP_CODE[reason]],
      client: e.client.name,
      source: source.address,
      reason,
    };
    if (detail !== undefined) fields.detail = detail;
    ratelog.warn(`${e.client.name}|${reason}`, fields, 'RADIUS packet dropped');
  };

  const learn = (e: ClientEntry): void => {
    const rec: Learned = { learnedAt: new Date(clock.now()).toISOString(), match: e.client.match };
    learned.set(e.client.name, rec);
    log.info(
      { client: e.client.name },
      'client sends Message-Authenticator: it is now required from this client (requireMessageAuthenticator auto)',
    );
    stateTable?.put(STATE_PREFIX + e.client.name, rec).catch((err: unknown) => {
      log.error(
        { client: e.client.name, err: describeError(err) },
        'could not persist the learned Message-Authenticator requirement',
      );
    });
  };

  const noteUnknown = (address: string): void => {
    unknownDrops++;
    const n = unknownSources.get(address);
    unknownSources.delete(address);
    unknownSources.set(address, (n ?? 0) + 1);
    while (unknownSources.size > unknownCap) {
      const oldest = unknownSources.keys().next();
      if (oldest.done) break;
      unknownSources.delete(oldest.value);
    }
    ratelog.warn(
      `unknown|${address}`,
      { code: ErrorCode[ErrorCode.RadiusUnknownClient], source: address, reason: 'unknown-client' },
      'RADIUS packet from an unknown client dropped',
      60_000,
    );
  };

  const safeSend = (send: (reply: Buffer) => void, reply: Buffer): void => {
    try {
      send(reply);
    } catch {
      sendErrors++;
    }
  };

  const reply = (
    e: ClientEntry,
    p: ParsedPacket,
    code: number,
    attributes: readonly ReplyAttribute[],
  ): Buffer =>
    encodeReply({
      code,
      identifier: p.identifier,
      requestAuthenticator: p.authenticator,
      secret: e.secret,
      attributes: encodeAttributes(attributes),
      proxyStates: p.proxyStates,
    });

  const countReply = (c: ClientCounters, code: number): void => {
    if (code === CODE.AccessAccept) c.accepts++;
    else if (code === CODE.AccessReject) c.rejects++;
    else if (code === CODE.AccessChallenge) c.challenges++;
  };

  const healthNow = (): HealthReport => {
    if (!opts.health) return { healthy: true, reasons: [] };
    try {
      return opts.health();
    } catch (err) {
      return { healthy: false, reasons: [`health check failed: ${describeError(err)}`] };
    }
  };

  function accounting(
    e: ClientEntry,
    p: ParsedPacket,
    source: { address: string; port: number },
    send: (r: Buffer) => void,
  ): void {
    const c = countersFor(e.client.name);
    if (p.code !== CODE.AccountingRequest) return drop(e, 'unsupported-code', source, String(p.code));
    c.accounting++;
    if (!verifyAccountingAuthenticator(p, e.secret)) return drop(e, 'bad-accounting-authenticator', source);
    if (p.messageAuthenticatorOffset !== undefined && !verifyMessageAuthenticator(p, e.secret))
      return drop(e, 'bad-message-authenticator', source);
    safeSend(
      send,
      encodeReply({
        code: CODE.AccountingResponse,
        identifier: p.identifier,
        requestAuthenticator: p.authenticator,
        secret: e.secret,
        attributes: Buffer.alloc(0),
        proxyStates: p.proxyStates,
        messageAuthenticator: false,
      }),
    );
  }

  function access(
    e: ClientEntry,
    p: ParsedPacket,
    source: { address: string; port: number },
    send: (r: Buffer) => void,
  ): void {
    const c = countersFor(e.client.name);
    if (p.code !== CODE.AccessRequest && p.code !== CODE.StatusServer)
      return drop(e, 'unsupported-code', source, String(p.code));
    c.requests++;

    // 3. Message-Authenticator (RFC 3579 §3.2; Status-Server always needs it, RFC 5997 §3).
    const hasMa = p.messageAuthenticatorOffset !== undefined;
    if (hasMa) {
      if (!verifyMessageAuthenticator(p, e.secret)) return drop(e, 'bad-message-authenticator', source);
      if (e.client.requireMessageAuthenticator === 'auto' && !hasLearned(e)) learn(e);
    } else if (required(e) || p.code === CODE.StatusServer) {
      return drop(e, 'missing-message-authenticator', source);
    }
    // 4. Limit Proxy-State: without MA it is the attacker's chosen-prefix room (BlastRADIUS).
    if (!hasMa && p.proxyStates.length > 0)
      return drop(e, 'proxy-state-without-message-authenticator', source);

    if (p.code === CODE.StatusServer) {
      c.statusServer++;
      safeSend(send, reply(e, p, CODE.AccessAccept, []));
      return;
    }

    // 5. User-Password. Undecodable means another secret: drop before any bind can lock AD accounts.
    const cipher = firstAttribute(p, ATTR.UserPassword);
    let password: string | undefined;
    if (cipher) {
      const r = decodeUserPassword(cipher, e.secret, p.authenticator);
      if (!r.ok) return drop(e, r.reason === 'bad-length' ? 'malformed' : 'bad-password', source, r.reason);
      password = r.password;
    }
    let attrs: Record<string, unknown>;
    try {
      attrs = decodeAttributes(p);
    } catch (err) {
      return drop(e, 'malformed', source, describeError(err));
    }

    if (!hasMa)
      ratelog.warn(
        `no-ma|${e.client.name}`,
        { client: e.client.name, source: source.address },
        'client sends no Message-Authenticator: exposed to BlastRADIUS forgery (set it to send Message-Authenticator, then requireMessageAuthenticator yes)',
        3_600_000,
      );

    // 6. Duplicates (RFC 5080).
    const key = dedupeKey(source.address, source.port, p.identifier, p.authenticator);
    const dup = cache.begin(key);
    if (dup.kind === 'in-flight') {
      c.duplicates++;
      return;
    }
    if (dup.kind === 'replay') {
      c.duplicates++;
      safeSend(send, dup.reply);
      return;
    }

    const finish = (code: number, attributes: readonly ReplyAttribute[]): void => {
      let r: Buffer;
      try {
        r = reply(e, p, code, attributes);
      } catch (err) {
        // A reply that cannot be built (e.g. Proxy-State pushing it past 4096 octets) must not
        // leave the request "in flight", where every retransmit would be ignored.
        cache.abandon(key);
        drop(e, 'internal-error', source, describeError(err));
        return;
      }
      cache.complete(key, r);
      countReply(c, code);
      safeSend(send, r);
    };

    const userName = asString(attrs['User-Name']);
    if (userName === undefined || userName === '' || password === undefined) {
      // Only PAP is offered: a CHAP or MS-CHAP request cannot carry an AD password we could check.
      finish(CODE.AccessReject, [['Reply-Message', 'PAP (User-Name and User-Password) required']]);
      return;
    }

    // The load balancer's monitor: answered here, so it never binds, texts or locks anyone out.
    if (e.client.monitorUser !== undefined && userName === e.client.monitorUser) {
      c.monitor++;
      const pwOk =
        e.monitorPassword !== undefined && digestEqual(Buffer.from(password, 'utf8'), e.monitorPassword);
      if (!pwOk) {
        ratelog.warn(
          `monitor-pw|${e.client.name}`,
          { client: e.client.name },
          'monitor user sent a wrong password',
        );
        finish(CODE.AccessReject, []);
        return;
      }
      const h = healthNow();
      const msg = h.healthy ? 'healthy' : `unhealthy: ${h.reasons.join('; ')}`;
      finish(h.healthy ? CODE.AccessAccept : CODE.AccessReject, [
        [
          'Reply-Message',
          Buffer.from(msg, 'utf8')
            .subarray(0, 253)
            .toString('utf8')
            .replace(/\uFFFD$/, ''),
        ],
      ]);
      return;
    }

    if (pending >= maxPending) {
      cache.abandon(key);
      return drop(e, 'overload', source);
    }

    const req: AccessRequest = {
      source: { address: source.address, port: source.port },
      identifier: p.identifier,
      userName,
      password,
      messageAuthenticator: hasMa,
    };
    const state = firstAttribute(p, ATTR.State);
    if (state) req.state = Buffer.from(state);
    const csi = asString(attrs['Calling-Station-Id']);
    if (csi !== undefined) req.callingStationId = csi;
    const nasId = asString(attrs['NAS-Identifier']);
    if (nasId !== undefined) req.nasIdentifier = nasId;
    const nasIp = asString(attrs['NAS-IP-Address']);
    if (nasIp !== undefined) req.nasIpAddress = nasIp;

    pending++;
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      pending--;
      cache.abandon(key);
      drop(e, 'handler-timeout', source);
    }, handlerTimeoutMs);
    timer.unref();
    Promise.resolve()
      .then(() => opts.handler(req, e.client))
      .then(
        (hr) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          pending--;
          let code = REPLY_CODE[hr.code];
          let r: Buffer;
          try {
            if (code === undefined) throw new Error(`handler answered unknown code ${String(hr.code)}`);
            r = reply(e, p, code, hr.attributes);
          } catch (err) {
            // A reply we cannot encode is an engine bug; a bare Reject tells the user at once.
            log.error(
              {
                code: ErrorCode[ErrorCode.RadiusHandlerFailed],
                client: e.client.name,
                err: describeError(err),
              },
              'handler reply could not be encoded; answering Access-Reject',
            );
            code = CODE.AccessReject;
            r = reply(e, p, code, []);
          }
          cache.complete(key, r);
          countReply(c, code);
          safeSend(send, r);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          pending--;
          cache.abandon(key);
          drop(e, 'handler-error', source, describeError(err));
        },
      )
      .catch((err: unknown) => {
        // Even the fallback Reject could not be built: forget the request so a retransmit is
        // handled afresh instead of being ignored as a duplicate in flight.
        cache.abandon(key);
        log.error({ err: describeError(err) }, 'RADIUS reply path failed');
      });
  }

  function handleDatagram(
    kind: 'auth' | 'acct',
    msg: Buffer,
    source: { address: string; port: number },
    send: (reply: Buffer) => void,
  ): void {
    let e: ClientEntry | undefined;
    try {
      // 1. Client lookup: unknown sources get nothing, not even a parse.
      e = table.lookup(source.address);
      if (!e) return noteUnknown(source.address);
      // 2. Length and attribute sanity.
      const parsed = parsePacket(msg);
      if (!parsed.ok) return drop(e, 'malformed', source, parsed.reason);
      if (kind === 'acct') accounting(e, parsed.packet, source, send);
      else access(e, parsed.packet, source, send);
    } catch (err) {
      if (e) drop(e, 'internal-error', source, describeError(err));
      else log.error({ err: describeError(err) }, 'RADIUS packet handling failed');
    }
  }

  async function bindOne(kind: 'auth' | 'acct', at: ListenAddress): Promise<dgram.Socket> {
    const v6 = isIPv6(at.address);
    const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
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
      handleDatagram(kind, msg, rinfo, (r) =>
        sock.send(r, rinfo.port, rinfo.address, (err) => {
          if (err) sendErrors++;
        }),
      );
    });
    return sock;
  }

  async function loadLearned(): Promise<void> {
    if (!stateTable) return;
    for await (const [k, v] of stateTable.entries({ gte: STATE_PREFIX, lt: STATE_PREFIX + '\uffff' }))
      learned.set(k.slice(STATE_PREFIX.length), v);
  }

  function updateClients(clients: readonly RadiusClientConfig[]): void {
    const next = ClientTable.fromConfig(clients);
    table = next;
    const names = new Set(next.list().map((e) => e.client.name));
    for (const n of [...counters.keys()]) if (!names.has(n)) counters.delete(n);
  }

  const clientsWithoutMessageAuthenticator = (): string[] =>
    table
      .list()
      .filter((e) => !required(e))
      .map((e) => e.client.name);

  return {
    handleDatagram,

    async start() {
      await loadLearned();
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
      for (const e of table.list()) {
        const c = countersFor(e.client.name);
        clients[e.client.name] = {
          ...c,
          drops: { ...c.drops },
          requireMessageAuthenticator: e.client.requireMessageAuthenticator,
          messageAuthenticatorRequired: required(e),
        };
      }
      return {
        clients,
        unknownClients: {
          drops: unknownDrops,
          sources: [...unknownSources].map(([address, count]) => ({ address, count })),
        },
        sendErrors,
        caches: {
          duplicates: { size: cache.size, capacity: cache.capacity },
          logKeys: { size: ratelog.size, capacity: ratelog.maxKeys },
          unknownSources: { size: unknownSources.size, capacity: unknownCap },
          pending: { size: pending, capacity: maxPending },
        },
      };
    },

    clientsWithoutMessageAuthenticator,

    status() {
      const flat: Record<string, Record<string, number>> = {};
      for (const e of table.list()) {
        const { drops, ...rest } = countersFor(e.client.name);
        const row: Record<string, number> = { ...rest };
        for (const [reason, n] of Object.entries(drops)) row[`drops.${reason}`] = n ?? 0;
        flat[e.client.name] = row;
      }
      if (unknownDrops > 0) flat['(unknown clients)'] = { 'drops.unknown-client': unknownDrops };
      return {
        listening: [...listening],
        clientsWithoutMessageAuthenticator: clientsWithoutMessageAuthenticator(),
        counters: flat,
      };
    },

    updateClients,

    reconfigure(cfg) {
      const o = radiusServerOptions(cfg);
      updateClients(o.clients);
      handlerTimeoutMs = o.handlerTimeoutMs ?? handlerTimeoutMs;
      maxPending = o.maxPending ?? maxPending;
      cache.configure({
        ttlMs: cfg.duplicateCacheSeconds * 1000,
        capacity: cfg.duplicateCacheEntries,
        inFlightTimeoutMs: handlerTimeoutMs,
      });
      const key = (l: readonly ListenAddress[] | undefined): string =>
        JSON.stringify((l ?? []).map((x) => [x.address, x.port]));
      return {
        restartNeeded: key(o.listen) !== key(opts.listen) || key(o.accounting) !== key(opts.accounting),
      };
    },

    async forgetLearnedMessageAuthenticator(name) {
      learned.delete(name);
      await stateTable?.del(STATE_PREFIX + name);
    },
  };
}
