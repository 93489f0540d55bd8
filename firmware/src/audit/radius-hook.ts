/**
 * Turns RADIUS outcomes into audit records: one per decision (accept, reject, challenge) from the
 * engine's `onDecision`, one per dropped packet from the server's `onDrop`.
 *
 * The engine reports a decision before its reply leaves, with the request it decided (the raw
 * User-Name, the source) but not its latency. `wrap` measures the handler and pairs the two by
 * that request object, so concurrent requests never swap records. Passed by hand, not found
 * through AsyncLocalStorage: that installs promise hooks that cost every promise in the process.
 *
 * Drops can be a flood (a scanner, a NAS with the wrong secret): each is counted in the metrics,
 * but at most `dropRecordsPerSecond` become records; the rest are summed in one "suppressed"
 * record per second, so a flood cannot push a day of real decisions out of the retention cap.
 */
import { parseCallingStationId } from '../auth/calling-station.ts';
import type { AuthDecision } from '../auth/decision.ts';
import { ErrorCode } from '../errors.ts';
import type { AccessRequest, NasClient, RadiusHandler } from '../auth/types.ts';
import type { AuditInput, RadiusRecord } from './records.ts';

type Sink = (r: AuditInput) => void;

/** What the RADIUS server reports for a packet it did not hand to the engine, or could not answer. */
export interface RadiusDrop {
  /** NAS client name, or undefined for a source that matches no client. */
  client: string | undefined;
  source: { address: string; port: number };
  /** The drop reason (malformed, bad-message-authenticator, overload, …, unknown-client). */
  reason: string;
  /** ErrorCode name. */
  code: string;
  /** User-Name when the packet got far enough to read it. */
  user?: string;
  detail?: string;
}

/** How an account maps to its DN (the synced user list); undefined when not known. */
export type DnLookup = (account: string) => string | undefined;

function methodOf(d: AuthDecision): string {
  // The engine names the second factor when it knows it (token, sms, sms-secondary, override).
  if (d.method !== undefined) return d.step === 'password' ? `password+${d.method}` : d.method;
  if (d.step === 'passcode') return 'sms-passcode';
  if (d.reason === 'policy-accept') return 'password';
  if (d.reason === 'challenge-sent' || d.reason === 'challenge-reused' || d.reason === 'sms-unavailable')
    return 'password+sms';
  return 'password';
}

export function decisionRecord(
  d: AuthDecision,
  ctx: { userTyped?: string; source?: string; latencyMs?: number; dn?: string },
): AuditInput {
  const r: Omit<RadiusRecord, 't'> & { t: number } = {
    kind: 'radius',
    t: d.at,
    user: ctx.userTyped ?? d.user,
    client: d.client,
    outcome: d.outcome,
    reason: d.reason,
    step: d.step,
    method: methodOf(d),
  };
  if (d.user !== '') r.account = d.user;
  if (ctx.dn !== undefined) r.dn = ctx.dn;
  if (ctx.source !== undefined) r.source = ctx.source;
  if (d.callingStationId !== undefined) r.callingStationId = d.callingStationId;
  // Decisions made before the policy step (a wrong password) have not parsed it yet.
  const clientIp = d.clientIp ?? parseCallingStationId(d.callingStationId)?.address;
  if (clientIp !== undefined) r.clientIp = clientIp;
  if (d.rule !== undefined) r.rule = d.rule;
  if (d.detail !== undefined) r.explanation = d.detail;
  if (d.challengeId !== undefined) r.challengeId = d.challengeId;
  if (d.to !== undefined) r.to = d.to;
  if (d.triesLeft !== undefined) r.triesLeft = d.triesLeft;
  if (d.code !== undefined) r.code = ErrorCode[d.code] ?? String(d.code);
  if (ctx.latencyMs !== undefined) r.latencyMs = Math.round(ctx.latencyMs * 10) / 10;
  return r;
}

export function dropRecord(drop: RadiusDrop, t: number): AuditInput {
  const r: Omit<RadiusRecord, 't'> & { t: number } = {
    kind: 'radius',
    t,
    user: drop.user ?? '',
    client: drop.client ?? '(unknown)',
    source: drop.source.address,
    outcome: 'dropped',
    reason: drop.reason,
    code: drop.code,
  };
  if (drop.detail !== undefined) r.explanation = drop.detail;
  return r;
}

interface Slot {
  decision?: AuthDecision;
}

export interface RadiusAuditOptions {
  sink: Sink;
  lookupDn?: DnLookup;
  /** Also told of every decision and drop (metrics), before any suppression. */
  observe?: {
    decision?(d: AuthDecision, latencyMs: number | undefined): void;
    drop?(d: RadiusDrop): void;
  };
  /** [1...100000], default 200: drop records per second before they are summed. */
  dropRecordsPerSecond?: number;
  now?: () => number;
}

export interface RadiusAudit {
  /** Wraps the engine's handler: measures latency and pairs it with the decision. */
  wrap(handler: RadiusHandler): RadiusHandler;
  /**
   * Give to the engine as `onDecision`: `req` is the request the wrapped handler was called
   * with. A decision for a request that is not (or no longer) in a wrapped handler, or a second
   * one for it, is recorded at once, without latency.
   */
  onDecision(d: AuthDecision, req?: AccessRequest): void;
  /** Give to the RADIUS server as `onDrop`. */
  onDrop(d: RadiusDrop): void;
  /** Writes the pending "suppressed" summary, if any (at stop). */
  flush(): void;
}

export function createRadiusAudit(o: RadiusAuditOptions): RadiusAudit {
  /** The requests inside a wrapped handler now, each with the decision reported for it. */
  const inFlight = new WeakMap<AccessRequest, Slot>();
  const now = o.now ?? Date.now;
  const perSecond = o.dropRecordsPerSecond ?? 200;
  let windowStart = 0;
  let inWindow = 0;
  let suppressed: Record<string, number> = {};
  let suppressedTotal = 0;

  const emit = (d: AuthDecision, req: AccessRequest | undefined, latencyMs: number | undefined): void => {
    o.observe?.decision?.(d, latencyMs);
    const dn = d.dn ?? (d.user !== '' ? o.lookupDn?.(d.user) : undefined);
    o.sink(
      decisionRecord(d, {
        ...(req ? { userTyped: req.userName, source: req.source.address } : {}),
        ...(latencyMs === undefined ? {} : { latencyMs }),
        ...(dn === undefined ? {} : { dn }),
      }),
    );
  };

  const flushSuppressed = (t: number): void => {
    if (suppressedTotal === 0) return;
    const detail = Object.entries(suppressed)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    o.sink({
      kind: 'radius',
      t,
      user: '',
      client: '(several)',
      outcome: 'dropped',
      reason: 'records-suppressed',
      explanation: `${suppressedTotal} more drops in the second before (client|reason count: ${detail}); the metrics count every one`,
    });
    suppressed = {};
    suppressedTotal = 0;
  };

  return {
    wrap(handler) {
      return async (req: AccessRequest, client: NasClient) => {
        const slot: Slot = {};
        const t0 = performance.now();
        inFlight.set(req, slot);
        let reply;
        try {
          reply = await handler(req, client);
        } finally {
          inFlight.delete(req);
        }
        if (slot.decision) emit(slot.decision, req, performance.now() - t0);
        return reply;
      };
    },
    onDecision(d, req) {
      const slot = req === undefined ? undefined : inFlight.get(req);
      // The first decision of a request wins; a handler that is not wrapped records at once.
      if (slot && !slot.decision) slot.decision = d;
      else emit(d, req, undefined);
    },
    onDrop(d) {
      o.observe?.drop?.(d);
      const t = now();
      if (t - windowStart >= 1000) {
        flushSuppressed(t);
        windowStart = t;
        inWindow = 0;
      }
      if (inWindow < perSecond) {
        inWindow++;
        o.sink(dropRecord(d, t));
        return;
      }
      const k = `${d.client ?? '(unknown)'}|${d.reason}`;
      suppressed[k] = (suppressed[k] ?? 0) + 1;
      if (suppressedTotal++ === 0) {
        // The summary is written when the second ends even if the flood stopped with it.
        const timer = setTimeout(() => flushSuppressed(now()), Math.max(0, windowStart + 1000 - t));
        timer.unref();
      }
    },
    flush() {
      flushSuppressed(now());
    },
  };
}
