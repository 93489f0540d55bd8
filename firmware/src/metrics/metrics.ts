/**
 * Prometheus metrics (prom-client, a registry of our own so nothing global leaks between tests).
 * Two kinds of source:
 *  - events, counted as they happen: RADIUS decisions and drops (from the audit hook, before any
 *    record suppression, so a flood is counted in full), SMS lifecycle events, directory calls;
 *  - state, read at scrape time from the one health model and the audit/syslog stats: modem
 *    state and signal, SMS queue depth, audit and syslog drops.
 * Process memory, CPU and event-loop lag come from prom-client's default metrics.
 *
 * Labels stay bounded: client names come from the config ("(unknown)" for any other source),
 * reasons and states from fixed lists, modems and DCs from the config. No user name is a label.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditStats } from '../audit/audit-log.ts';
import type { RadiusDrop } from '../audit/radius-hook.ts';
import { failureClass } from '../audit/sms-hook.ts';
import type { SyslogTargetStats } from '../audit/syslog.ts';
import type { AuthDecision } from '../auth/decision.ts';
import type { OutboxEvent } from '../dispatch/types.ts';
import type { HealthSnapshot } from '../health/health.ts';
import type { ModemState } from '../modem/types.ts';

const MODEM_STATES = [
  'absent',
  'initialising',
  'no-sim',
  'pin-needed',
  'pin-rejected',
  'searching',
  'sms-refused',
  'registered',
  'sending',
  'failed',
] as const satisfies readonly ModemState[];
// A new modem state must be added above, or its modems would show no state at all.
type Missing = Exclude<ModemState, (typeof MODEM_STATES)[number]>;
const _allStates: Missing extends never ? true : never = true;
void _allStates;

export interface MetricsSources {
  health(): HealthSnapshot;
  audit(): AuditStats;
  syslog(): SyslogTargetStats[];
}

type Labels<T extends string> = Partial<Record<T, string | number>>;

/**
 * A counter fed from a running total read at scrape time (a total kept elsewhere since start):
 * each scrape adds what it grew by.
 */
function totalCounter<T extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly T[],
  read: () => [Labels<T>, number][],
): void {
  const last = new Map<string, number>();
  new Counter<T>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [labels, value] of read()) {
        const key = JSON.stringify(labels);
        const delta = value - (last.get(key) ?? 0);
        // A total that went back (a syslog target recreated) starts counting again from there.
        if (delta > 0) this.inc(labels, delta);
        last.set(key, value);
      }
    },
  });
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SMS_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300];
const HEALTH_STATES = ['ok', 'degraded', 'down'] as const;
const SMS_EVENTS_KEPT = 10_000;

export class Metrics {
  readonly registry = new Registry();
  private readonly radiusRequests: Counter<'client' | 'outcome' | 'reason'>;
  private readonly radiusLatency: Histogram<'client' | 'outcome'>;
  private readonly lockouts: Counter;
  private readonly sms: Counter<'event'>;
  private readonly smsFailures: Counter<'class'>;
  private readonly smsSend: Histogram;
  private readonly directoryLatency: Histogram<'server' | 'operation'>;
  private readonly directoryErrors: Counter<'server' | 'reason'>;
  /** challengeId → ms it was queued, for the send time; bounded (oldest forgotten). */
  private readonly queuedAt = new Map<string, number>();

  constructor(
    src: MetricsSources,
    private readonly now: () => number = Date.now,
  ) {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    this.radiusRequests = new Counter({
      name: 'mfabox_radius_requests_total',
      help: 'RADIUS requests by NAS client, outcome (accept, reject, challenge, dropped) and reason code (the drop reason for drops)',
      labelNames: ['client', 'outcome', 'reason'],
      registers: [r],
    });
    this.radiusLatency = new Histogram({
      name: 'mfabox_radius_request_duration_seconds',
      help: 'From a RADIUS request reaching the engine to its reply, by NAS client and outcome',
      labelNames: ['client', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    this.lockouts = new Counter({
      name: 'mfabox_lockouts_total',
      help: 'Users locked out after too many wrong second-factor codes',
      registers: [r],
    });
    this.sms = new Counter({
      name: 'mfabox_sms_total',
      help: 'Passcode SMS events: queued, sent, failed, expired, delivered, not-delivered, resend',
      labelNames: ['event'],
      registers: [r],
    });
    this.smsFailures = new Counter({
      name: 'mfabox_sms_failures_total',
      help: 'Passcode SMS that failed or expired, by class (retryable, permanent, sim, no-modem, expired, …)',
      labelNames: ['class'],
      registers: [r],
    });
    this.smsSend = new Histogram({
      name: 'mfabox_sms_send_duration_seconds',
      help: 'From a passcode SMS being queued to the modem accepting it',
      buckets: SMS_BUCKETS,
      registers: [r],
    });
    this.directoryLatency = new Histogram({
      name: 'mfabox_directory_request_duration_seconds',
      help: 'Directory (LDAP) password checks and look-ups, by the DC in use and operation',
      labelNames: ['server', 'operation'],
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    this.directoryErrors = new Counter({
      name: 'mfabox_directory_errors_total',
      help: 'Directory calls that found no DC answering (unavailable) or failed, by the DC in use',
      labelNames: ['server', 'reason'],
      registers: [r],
    });

    // State, read at scrape time. One health snapshot serves every gauge of a scrape.
    let snap: HealthSnapshot | undefined;
    const health = (): HealthSnapshot => (snap ??= src.health());
    new Gauge({
      name: 'mfabox_health_status',
      help: 'The health model: 1 for the current status (ok, degraded, down), else 0',
      labelNames: ['status'],
      registers: [r],
      collect() {
        snap = undefined; // collected first (registration order): a fresh snapshot per scrape
        const s = health().status;
        for (const st of HEALTH_STATES) this.set({ status: st }, st === s ? 1 : 0);
      },
    });
    new Gauge({
      name: 'mfabox_modem_state',
      help: 'Each modem: 1 for its current state, else 0',
      labelNames: ['modem', 'state'],
      registers: [r],
      collect() {
        this.reset();
        for (const m of health().modems)
          for (const st of MODEM_STATES) this.set({ modem: m.name, state: st }, st === m.state ? 1 : 0);
      },
    });
    new Gauge({
      name: 'mfabox_modem_signal_dbm',
      help: 'Each registered modem: signal strength in dBm',
      labelNames: ['modem'],
      registers: [r],
      collect() {
        this.reset();
        for (const m of health().modems) if (m.dbm !== undefined) this.set({ modem: m.name }, m.dbm);
      },
    });
    new Gauge({
      name: 'mfabox_modem_signal_bars',
      help: 'Each registered modem: signal 0-5',
      labelNames: ['modem'],
      registers: [r],
      collect() {
        this.reset();
        for (const m of health().modems) if (m.bars !== undefined) this.set({ modem: m.name }, m.bars);
      },
    });
    new Gauge({
      name: 'mfabox_sms_queue_depth',
      help: 'Passcode SMS waiting for a modem (queued) and handed to one but not settled (in_flight)',
      labelNames: ['state'],
      registers: [r],
      collect() {
        const o = health().outbox;
        this.set({ state: 'queued' }, o?.queued ?? 0);
        this.set({ state: 'in_flight' }, o?.inFlight ?? 0);
      },
    });
    new Gauge({
      name: 'mfabox_sms_oldest_queued_seconds',
      help: 'Age of the oldest passcode SMS not yet sent; 0 when none waits',
      registers: [r],
      collect() {
        this.set((health().outbox?.oldestQueuedAgeMs ?? 0) / 1000);
      },
    });
    new Gauge({
      name: 'mfabox_directory_up',
      help: 'The directory: 1 up, 0.5 degraded (a DC down, another answering), 0 down',
      labelNames: ['server'],
      registers: [r],
      collect() {
        this.reset();
        const d = health().directory;
        this.set({ server: d.server ?? '' }, d.state === 'up' ? 1 : d.state === 'degraded' ? 0.5 : 0);
      },
    });
    new Gauge({
      name: 'mfabox_store_writable',
      help: '1 while the data store takes writes',
      registers: [r],
      collect() {
        this.set(health().store.writable ? 1 : 0);
      },
    });
    totalCounter(r, 'mfabox_audit_records_written_total', 'Audit records written to the store', [], () => [
      [{}, src.audit().written],
    ]);
    totalCounter(
      r,
      'mfabox_audit_records_dropped_total',
      'Audit records lost because the store refused writes for too long',
      [],
      () => [[{}, src.audit().dropped]],
    );
    new Gauge({
      name: 'mfabox_audit_records_buffered',
      help: 'Audit records waiting in memory to be written',
      registers: [r],
      collect() {
        this.set(src.audit().buffered);
      },
    });
    totalCounter(
      r,
      'mfabox_syslog_messages_sent_total',
      'Audit records handed to each syslog target',
      ['target'],
      () => src.syslog().map((t) => [{ target: t.url }, t.sent]),
    );
    totalCounter(
      r,
      'mfabox_syslog_messages_dropped_total',
      'Audit records dropped for a syslog target that could not keep up or was unreachable (oldest first)',
      ['target'],
      () => src.syslog().map((t) => [{ target: t.url }, t.dropped]),
    );
    new Gauge({
      name: 'mfabox_syslog_buffered',
      help: 'Audit records waiting for each syslog target',
      labelNames: ['target'],
      registers: [r],
      collect() {
        this.reset();
        for (const t of src.syslog()) this.set({ target: t.url }, t.buffered);
      },
    });
    new Gauge({
      name: 'mfabox_syslog_connected',
      help: '1 while a syslog target is connected (tcp, tls) or resolved (udp)',
      labelNames: ['target'],
      registers: [r],
      collect() {
        this.reset();
        for (const t of src.syslog()) this.set({ target: t.url }, t.connected ? 1 : 0);
      },
    });
  }

  /** A RADIUS decision (the audit hook's `observe.decision`). */
  decision(d: AuthDecision, latencyMs: number | undefined): void {
    this.radiusRequests.inc({ client: d.client, outcome: d.outcome, reason: d.reason });
    if (latencyMs !== undefined)
      this.radiusLatency.observe({ client: d.client, outcome: d.outcome }, latencyMs / 1000);
    if (d.reason === 'account-locked' && d.step === 'passcode') this.lockouts.inc();
  }

  /** A dropped RADIUS packet (the audit hook's `observe.drop`). */
  drop(d: RadiusDrop): void {
    this.radiusRequests.inc({ client: d.client ?? '(unknown)', outcome: 'dropped', reason: d.reason });
  }

  /** An SMS lifecycle event (the outbox's onEvent) or a delivery report. */
  smsEvent(e: OutboxEvent | { status: 'delivered' | 'not-delivered' | 'resend'; challengeId: string }): void {
    this.sms.inc({ event: e.status });
    const t = this.now();
    if (e.status === 'queued') {
      this.queuedAt.set(e.challengeId, t);
      if (this.queuedAt.size > SMS_EVENTS_KEPT) {
        const oldest = this.queuedAt.keys().next();
        if (!oldest.done) this.queuedAt.delete(oldest.value);
      }
      return;
    }
    if (e.status === 'sent' || e.status === 'failed' || e.status === 'expired') {
      const q = this.queuedAt.get(e.challengeId);
      this.queuedAt.delete(e.challengeId);
      if (e.status === 'sent') {
        if (q !== undefined) this.smsSend.observe(Math.max(0, t - q) / 1000);
      } else this.smsFailures.inc({ class: failureClass(e.reason, e.status) });
    }
  }

  /** A directory call: its duration and whether it found no DC (see instrumentDirectory). */
  directoryCall(server: string, operation: string, ms: number, error?: string): void {
    this.directoryLatency.observe({ server, operation }, ms / 1000);
    if (error !== undefined) this.directoryErrors.inc({ server, reason: error });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
