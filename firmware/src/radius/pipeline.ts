/**
 * One datagram's path through the listener, as named steps in a fixed order (layeh/radius):
 *
 *   1. lookupClient          secret by source address; unknown sources get nothing, not even a parse
 *   2. checkAuthenticators   framing, then Message-Authenticator (RFC 3579; required per client) and
 *                            the Proxy-State limit
 *   3. parseAccessRequest    User-Password (RFC 2865 §5.2; not UTF-8 or NUL inside ⇒ wrong secret)
 *                            and the attributes the engine reads
 *   4. dedupe                RFC 5080: a retransmit is ignored in flight or answered from the cache
 *   5. answerMonitor | callHandler
 *
 * Nothing a peer sends can throw out of a step or hold the socket: every failure is a drop, a
 * counter and a rate-limited log line.
 */
import { ErrorCode, describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { AccessRequest, HandlerReply, RadiusHandler } from '../auth/types.ts';
import {
  ATTR,
  CODE,
  decodeUserPassword,
  encodeReply,
  firstAttribute,
  parsePacket,
  readRequestAttributes,
  verifyAccountingAuthenticator,
  verifyMessageAuthenticator,
} from './codec.ts';
import type { ParsedPacket, ReplyAttribute, RequestAttributes } from './codec.ts';
import type { ClientEntry, ClientTable } from './clients.ts';
import { DROP_CODE, type ClientCounters, type CounterBook, type DropReason } from './counters.ts';
import type { ReplyCache } from './dedupe.ts';
import { dedupeKey } from './dedupe.ts';
import type { MessageAuthenticatorLearning } from './ma-learning.ts';
import {
  healthNow,
  isMonitorRequest,
  monitorAnswer,
  monitorPasswordOk,
  type HealthReport,
} from './monitor.ts';
import type { RateLimitedLog } from './ratelog.ts';

export type Source = { address: string; port: number };
export type Send = (reply: Buffer) => void;

/** A dropped packet, for the audit and metrics (`onDrop`): one call per packet. */
export interface DropEvent {
  /** NAS client name; undefined for a source that matches no client. */
  client: string | undefined;
  source: Source;
  reason: DropReason | 'unknown-client';
  /** ErrorCode name. */
  code: string;
  detail?: string;
}

/** The listener's state that every step reads; the server owns it and swaps `table` on reload. */
export interface PipelineState {
  table: ClientTable;
  readonly cache: ReplyCache;
  readonly ma: MessageAuthenticatorLearning;
  readonly counters: CounterBook;
  readonly ratelog: RateLimitedLog;
  readonly log: Logger;
  readonly handler: RadiusHandler;
  readonly health: (() => HealthReport) | undefined;
  /** Told of every dropped packet; must not throw (a throw is caught and logged). */
  readonly onDrop: ((d: DropEvent) => void) | undefined;
  handlerTimeoutMs: number;
  maxPending: number;
  /** Requests handed to the handler and not yet answered. */
  pending: number;
}

/** A request the pipeline has checked and read, on its way to the monitor or the handler. */
interface Checked {
  e: ClientEntry;
  p: ParsedPacket;
  c: ClientCounters;
  source: Source;
  send: Send;
  hasMa: boolean;
}

const REPLY_CODE: Record<HandlerReply['code'], number> = {
  'Access-Accept': CODE.AccessAccept,
  'Access-Reject': CODE.AccessReject,
  'Access-Challenge': CODE.AccessChallenge,
};

/** The whole pipeline for one datagram; `send` is called at most once. Never throws. */
export function handleDatagram(
  s: PipelineState,
  kind: 'auth' | 'acct',
  msg: Buffer,
  source: Source,
  send: Send,
): void {
  let e: ClientEntry | undefined;
  try {
    e = lookupClient(s, source);
    if (!e) return;
    const parsed = parsePacket(msg);
    if (!parsed.ok) return drop(s, e, 'malformed', source, parsed.reason);
    if (kind === 'acct') accounting(s, e, parsed.packet, source, send);
    else access(s, e, parsed.packet, source, send);
  } catch (err) {
    if (e) drop(s, e, 'internal-error', source, describeError(err));
    else s.log.error({ err: describeError(err) }, 'RADIUS packet handling failed');
  }
}

function access(s: PipelineState, e: ClientEntry, p: ParsedPacket, source: Source, send: Send): void {
  const c = s.counters.for(e.client.name);
  if (p.code !== CODE.AccessRequest && p.code !== CODE.StatusServer)
    return drop(s, e, 'unsupported-code', source, String(p.code));
  c.requests++;
  const hasMa = checkAuthenticators(s, e, p, source);
  if (hasMa === undefined) return;
  const r: Checked = { e, p, c, source, send, hasMa };
  if (p.code === CODE.StatusServer) {
    c.statusServer++;
    safeSend(s, send, encode(e, p, CODE.AccessAccept, []));
    return;
  }
  const req = parseAccessRequest(s, r);
  if (req === undefined) return;
  const key = dedupe(s, r);
  if (key === undefined) return;
  if (req === 'not-pap') {
    // Only PAP is offered: a CHAP or MS-CHAP request cannot carry an AD password we could check.
    finish(s, r, key, CODE.AccessReject, [['Reply-Message', 'PAP (User-Name and User-Password) required']]);
    return;
  }
  if (isMonitorRequest(e, req.userName)) return answerMonitor(s, r, key, req.password);
  callHandler(s, r, key, req);
}

/** Step 1: the NAS table entry (and so the shared secret) for this source, or a counted drop. */
export function lookupClient(s: PipelineState, source: Source): ClientEntry | undefined {
  const e = s.table.lookup(source.address);
  if (e) return e;
  s.counters.noteUnknown(source.address);
  tellDrop(s, {
    client: undefined,
    source,
    reason: 'unknown-client',
    code: ErrorCode[ErrorCode.RadiusUnknownClient],
  });
  s.ratelog.warn(
    `unknown|${source.address}`,
    { code: ErrorCode[ErrorCode.RadiusUnknownClient], source: source.address, reason: 'unknown-client' },
    'RADIUS packet from an unknown client dropped',
    60_000,
  );
  return undefined;
}

/**
 * Step 2: Message-Authenticator (RFC 3579 §3.2; Status-Server always needs it, RFC 5997 §3), then
 * Proxy-State, which without Message-Authenticator is the attacker's chosen-prefix room
 * (BlastRADIUS). Returns whether the request carried a valid one, or undefined when dropped.
 */
export function checkAuthenticators(
  s: PipelineState,
  e: ClientEntry,
  p: ParsedPacket,
  source: Source,
): boolean | undefined {
  const hasMa = p.messageAuthenticatorOffset !== undefined;
  if (hasMa) {
    if (!verifyMessageAuthenticator(p, e.secret)) return drop(s, e, 'bad-message-authenticator', source);
    s.ma.saw(e);
  } else if (s.ma.required(e) || p.code === CODE.StatusServer) {
    return drop(s, e, 'missing-message-authenticator', source);
  }
  if (!hasMa && p.proxyStates.length > 0)
    return drop(s, e, 'proxy-state-without-message-authenticator', source);
  return hasMa;
}

/**
 * Step 3: the password (undecodable means another secret: drop before any bind can lock AD
 * accounts) and the attributes the engine reads. 'not-pap' when User-Name or User-Password is
 * missing; undefined when dropped.
 */
export function parseAccessRequest(s: PipelineState, r: Checked): AccessRequest | 'not-pap' | undefined {
  const { e, p, source } = r;
  const cipher = firstAttribute(p, ATTR.UserPassword);
  let password: string | undefined;
  if (cipher) {
    const d = decodeUserPassword(cipher, e.secret, p.authenticator);
    if (!d.ok) return drop(s, e, d.reason === 'bad-length' ? 'malformed' : 'bad-password', source, d.reason);
    password = d.password;
  }
  let attrs: RequestAttributes;
  try {
    attrs = readRequestAttributes(p.bytes);
  } catch (err) {
    return drop(s, e, 'malformed', source, describeError(err));
  }
  if (!r.hasMa)
    s.ratelog.warn(
      `no-ma|${e.client.name}`,
      { client: e.client.name, source: source.address },
      'client sends no Message-Authenticator: exposed to BlastRADIUS forgery (set it to send Message-Authenticator, then requireMessageAuthenticator yes)',
      3_600_000,
    );
  const { userName } = attrs;
  if (userName === undefined || userName === '' || password === undefined) return 'not-pap';
  const req: AccessRequest = {
    source: { address: source.address, port: source.port },
    identifier: p.identifier,
    userName,
    password,
    messageAuthenticator: r.hasMa,
  };
  const state = firstAttribute(p, ATTR.State);
  if (state) req.state = Buffer.from(state);
  if (attrs.callingStationId !== undefined) req.callingStationId = attrs.callingStationId;
  if (attrs.nasIdentifier !== undefined) req.nasIdentifier = attrs.nasIdentifier;
  if (attrs.nasIpAddress !== undefined) req.nasIpAddress = attrs.nasIpAddress;
  return req;
}

/**
 * Step 4 (RFC 5080): a retransmit (same source, port, ID and Request Authenticator) is ignored
 * while in flight and answered with the identical cached reply after. Returns the cache key for
 * a new request, undefined for a duplicate.
 */
export function dedupe(s: PipelineState, r: Checked): string | undefined {
  const key = dedupeKey(r.source.address, r.source.port, r.p.identifier, r.p.authenticator);
  const dup = s.cache.begin(key);
  if (dup.kind === 'in-flight') {
    r.c.duplicates++;
    return undefined;
  }
  if (dup.kind === 'replay') {
    r.c.duplicates++;
    safeSend(s, r.send, dup.reply);
    return undefined;
  }
  return key;
}

/**
 * Step 5a: the load balancer's monitor user, answered here without the handler (monitor.ts):
 * Access-Reject "healthy", or silence while unhealthy or for a wrong monitor password.
 */
export function answerMonitor(s: PipelineState, r: Checked, key: string, password: string): void {
  const { e, c } = r;
  c.monitor++;
  if (!monitorPasswordOk(e, password)) {
    s.cache.abandon(key);
    s.ratelog.warn(
      `monitor-pw|${e.client.name}`,
      { client: e.client.name },
      'monitor user sent a wrong password: not answered',
    );
    return;
  }
  const h = healthNow(s.health);
  const a = monitorAnswer(h);
  if (!a) {
    // Silence is the DOWN signal; the reasons go to the log (rate-limited), never on the wire.
    s.cache.abandon(key);
    s.ratelog.warn(
      `monitor-down|${e.client.name}`,
      { client: e.client.name, reasons: h.reasons },
      'monitor probe not answered: the box is unhealthy',
    );
    return;
  }
  finish(s, r, key, a.code, a.attributes);
}

/** Step 5b: the auth engine, bounded by the pending limit and the handler timeout. */
export function callHandler(s: PipelineState, r: Checked, key: string, req: AccessRequest): void {
  const { e, p, c, source, send } = r;
  if (s.pending >= s.maxPending) {
    s.cache.abandon(key);
    return drop(s, e, 'overload', source);
  }
  s.pending++;
  let settled = false;
  const timer = setTimeout(() => {
    if (settled) return;
    settled = true;
    s.pending--;
    s.cache.abandon(key);
    drop(s, e, 'handler-timeout', source);
  }, s.handlerTimeoutMs);
  timer.unref();
  // Called at once, not from a microtask: the engine's handler is async, so even a bug in it
  // comes back as a rejection; a synchronous throw (a handler that is not) is turned into one.
  let pending: Promise<HandlerReply>;
  try {
    pending = s.handler(req, e.client);
  } catch (err) {
    pending = Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  pending
    .then(
      (hr) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        s.pending--;
        let code = REPLY_CODE[hr.code];
        let out: Buffer;
        try {
          if (code === undefined) throw new Error(`handler answered unknown code ${String(hr.code)}`);
          out = encode(e, p, code, hr.attributes);
        } catch (err) {
          // A reply we cannot encode is an engine bug; a bare Reject tells the user at once.
          s.log.error(
            {
              code: ErrorCode[ErrorCode.RadiusHandlerFailed],
              client: e.client.name,
              err: describeError(err),
            },
            'handler reply could not be encoded; answering Access-Reject',
          );
          code = CODE.AccessReject;
          out = encode(e, p, code, []);
        }
        s.cache.complete(key, out);
        countReply(c, code);
        safeSend(s, send, out);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        s.pending--;
        s.cache.abandon(key);
        drop(s, e, 'handler-error', source, describeError(err));
      },
    )
    .catch((err: unknown) => {
      // Even the fallback Reject could not be built: forget the request so a retransmit is
      // handled afresh instead of being ignored as a duplicate in flight.
      s.cache.abandon(key);
      s.log.error({ err: describeError(err) }, 'RADIUS reply path failed');
    });
}

/** Accounting-Request (RFC 2866): checked and acknowledged; nothing is recorded. */
function accounting(s: PipelineState, e: ClientEntry, p: ParsedPacket, source: Source, send: Send): void {
  const c = s.counters.for(e.client.name);
  if (p.code !== CODE.AccountingRequest) return drop(s, e, 'unsupported-code', source, String(p.code));
  c.accounting++;
  if (!verifyAccountingAuthenticator(p, e.secret)) return drop(s, e, 'bad-accounting-authenticator', source);
  if (p.messageAuthenticatorOffset !== undefined && !verifyMessageAuthenticator(p, e.secret))
    return drop(s, e, 'bad-message-authenticator', source);
  safeSend(
    s,
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

/** Answers a request the pipeline decided itself, caching the reply for retransmits. */
function finish(
  s: PipelineState,
  r: Checked,
  key: string,
  code: number,
  attributes: readonly ReplyAttribute[],
): void {
  let out: Buffer;
  try {
    out = encode(r.e, r.p, code, attributes);
  } catch (err) {
    // A reply that cannot be built (e.g. Proxy-State pushing it past 4096 octets) must not
    // leave the request "in flight", where every retransmit would be ignored.
    s.cache.abandon(key);
    drop(s, r.e, 'internal-error', r.source, describeError(err));
    return;
  }
  s.cache.complete(key, out);
  countReply(r.c, code);
  safeSend(s, r.send, out);
}

function encode(
  e: ClientEntry,
  p: ParsedPacket,
  code: number,
  attributes: readonly ReplyAttribute[],
): Buffer {
  return encodeReply({
    code,
    identifier: p.identifier,
    requestAuthenticator: p.authenticator,
    secret: e.secret,
    attributes,
    proxyStates: p.proxyStates,
  });
}

function countReply(c: ClientCounters, code: number): void {
  if (code === CODE.AccessAccept) c.accepts++;
  else if (code === CODE.AccessReject) c.rejects++;
  else if (code === CODE.AccessChallenge) c.challenges++;
}

function safeSend(s: PipelineState, send: Send, reply: Buffer): void {
  try {
    send(reply);
  } catch {
    s.counters.sendErrors++;
  }
}

/** Counts and logs (rate-limited) a dropped packet; returns undefined so steps can `return drop(…)`. */
function drop(
  s: PipelineState,
  e: ClientEntry,
  reason: DropReason,
  source: Source,
  detail?: string,
): undefined {
  const c = s.counters.for(e.client.name);
  c.drops[reason] = (c.drops[reason] ?? 0) + 1;
  const fields: Record<string, unknown> = {
    code: ErrorCode[DROP_CODE[reason]],
    client: e.client.name,
    source: source.address,
    reason,
  };
  if (detail !== undefined) fields.detail = detail;
  s.ratelog.warn(`${e.client.name}|${reason}`, fields, 'RADIUS packet dropped');
  tellDrop(s, {
    client: e.client.name,
    source,
    reason,
    code: ErrorCode[DROP_CODE[reason]],
    ...(detail === undefined ? {} : { detail }),
  });
  return undefined;
}

function tellDrop(s: PipelineState, d: DropEvent): void {
  try {
    s.onDrop?.(d);
  } catch (err) {
    s.log.error({ err: describeError(err) }, 'onDrop hook failed');
  }
}
