/**
 * The persistent outbox: LevelDB table 'outbox' → the modem pool. Entries go
 * queued → submitting (written durably before Ctrl-Z, from the modem's `beforeSubmit`) →
 * sent | failed | expired. One send per challenge. Retries of network errors belong to the
 * modem pool alone (see classify.ts); the outbox waits for a modem when none can send, retries
 * its own `submitting` write, and resends an unknown outcome (a power cut in `submitting`, or a
 * failure after Ctrl-Z) at most once, with the same text, audited.
 *
 * Keys in the table: `q!<seq>` holds an entry (seq: 16 zero-padded digits, so key order is
 * arrival order), `c!<challengeId>` → `{ seq }` is the index by challenge.
 */
import type { Clock, Random } from '../clock.ts';
import { cryptoRandom, realTimers, systemClock, unrefTimer, type Timers } from '../clock.ts';
import { describeError, ErrorCode, MfaError } from '../errors.ts';
import { logger } from '../log.ts';
import type { Logger } from '../log.ts';
import type { SmsSendResult, SmsSender } from '../modem/types.ts';
import { sendFailure } from '../modem/send-failure.ts';
import { maskNumber } from '../phone.ts';
import type { Store, StoreOp, Table } from '../store/store.ts';
import { backoffMs, classifySendFailure } from './classify.ts';
import { openText, sealText, type SealedText } from './sealed-text.ts';
import { SubmitJournal } from './submit-journal.ts';
import { SerialQueue } from '../queue.ts';
import type { Outbox, OutboxEntryInput, OutboxEvent, OutboxStats, OutboxStatus } from './types.ts';

export interface OutboxRecord {
  v: 1;
  seq: string;
  challengeId: string;
  /** E.164 while live; masked once final (the UI needs no more). */
  to: string;
  /** Wall ms. */
  expiresAt: number;
  /** Wall ms. */
  createdAt: number;
  flash?: boolean;
  username?: string;
  status: OutboxStatus;
  /** The text, sealed with the device key; removed when the entry becomes final. */
  sealed?: SealedText;
  /** Times handed to the sender. */
  attempts: number;
  /** Times `beforeSubmit` ran, i.e. the modem got as far as Ctrl-Z. */
  submissions: number;
  /** A submission's outcome is unknown (power cut in `submitting`, or a failure after Ctrl-Z). */
  unknownOutcome?: boolean;
  /** The one resend allowed for an unknown outcome has been spent. */
  resentUnknown?: boolean;
  submittingAt?: number;
  messageRefs?: number[];
  modem?: string;
  /** Why it failed or expired: an ErrorCode name or a short phrase; never text. */
  reason?: string;
  finalAt?: number;
  /** From the network's status report, when one came: delivered or not, and when (wall ms). */
  delivery?: { delivered: boolean; at: number; outcome?: string };
}

interface IndexRow {
  seq: string;
}

/** Audit record for the one resend of an unknown-outcome SMS. Updated in place when it settles. */
export interface SmsResendAudit {
  t: number;
  kind: 'sms-resend-unknown-outcome';
  challengeId: string;
  /** Masked number. */
  to: string;
  /** The modem that resent it, once known. */
  modem?: string;
  outcome: 'pending' | 'sent' | 'failed' | 'expired' | 'unknown';
  messageRefs?: number[];
  reason?: string;
}

export interface OutboxOptions {
  /** [0...60000] ms, default 5000: an entry with less life left than this is expired, not sent. */
  expiryMarginMs: number;
  /**
   * [1...20], default 6: sends per entry whose own `submitting` write failed at the prompt (the
   * modem sent ESC, nothing went out). Network errors are retried by the modem pool, not here;
   * waiting for a modem when none can send is bounded by the passcode's life, not by this.
   */
  maxAttempts: number;
  /** [10...10000] ms, default 200: first backoff (own-write retry, no-modem recheck), doubling. */
  retryBaseMs: number;
  /** [100...60000] ms, default 5000: backoff cap (a no-modem wait is capped at idleRecheckMs). */
  retryMaxMs: number;
  /**
   * [0...4], default 1: sends handed to the pool per able modem beyond the one it is sending, so
   * a modem that finishes finds the next message already waiting. Safe: `submitting` is written
   * only when a modem reaches the `> ` prompt.
   */
  lookahead: number;
  /** [1 h...30 d] ms, default 3 days: how long a final entry (status, refs, no text) is kept. */
  retentionMs: number;
  /** [1 min...1 d] ms, default 1 h: how often final entries are compacted. */
  sweepIntervalMs: number;
  /** [100...60000] ms, default 1000: recheck for a ready modem when the sender emits no health events. */
  idleRecheckMs: number;
  /**
   * [0...600000] ms, default 95000: how long close() waits for sends already past the modem's
   * `> ` prompt to get their final answer. Longer than the modem's 90 s send-final timeout, so a
   * restart never cuts a send the network may have taken (which would be resent at the next
   * start). The systemd unit's TimeoutStopSec must exceed it.
   */
  closeTimeoutMs: number;
  /** Default false: ask the network for a status report on each message (passcode.statusReport). */
  statusReport: boolean;
}

export const DEFAULT_OUTBOX_OPTIONS: OutboxOptions = {
  expiryMarginMs: 5000,
  maxAttempts: 6,
  retryBaseMs: 200,
  retryMaxMs: 5000,
  lookahead: 1,
  retentionMs: 3 * 24 * 3600_000,
  sweepIntervalMs: 3600_000,
  idleRecheckMs: 1000,
  closeTimeoutMs: 95_000,
  statusReport: false,
};

export interface OutboxDeps {
  store: Store;
  sender: SmsSender;
  /** 32 bytes, from `loadOrCreateDeviceKey`. */
  deviceKey: Buffer;
  /**
   * The data directory: holds the submit journal (see submit-journal.ts), the fast durable
   * `submitting` mark. Without it, `submitting` is a LevelDB durable write at the prompt.
   */
  dataDir?: string;
  clock?: Clock;
  random?: Random;
  timers?: Timers;
  options?: Partial<OutboxOptions>;
  log?: Logger;
  /** Told of each entry queued and each final outcome (the audit); must not throw. */
  onEvent?: (e: OutboxEvent) => void;
}

/** An entry not yet final, held in memory with what the dispatcher needs. */
interface LiveItem {
  rec: OutboxRecord;
  /** Monotonic ms after which it must not go out: survives a wall-clock step backwards. */
  deadlineMono: number;
  /** Monotonic ms when it was created (back-dated by its wall age when loaded at start). */
  createdMono: number;
  /** Monotonic ms before which it is not retried (backoff). */
  notBefore: number;
  /** Times our own `submitting` write failed at the prompt. */
  ownWriteFailures: number;
  /** Times the sender said no modem can send; a health event ends the wait early. */
  modemWaits: number;
  /** The modem reached its `> ` prompt and `beforeSubmit` began: close() waits for this send. */
  submitStarted?: boolean;
  /** An early journal mark is out with no Ctrl-Z yet: the count to put back if none follows. */
  earlyMarkRevertTo?: number;
}

const SEQ_DIGITS = 16;
const PENDING_GIVE_UP_MS = 60_000;
/** Waits between retries of the write that records a sent SMS (about 50 s in all). */
const FINAL_WRITE_RETRY_MS = [200, 1000, 5000, 15_000, 30_000];
const entryKey = (seq: string): string => `q!${seq}`;
const indexKey = (challengeId: string): string => `c!${challengeId}`;
const FINAL: ReadonlySet<OutboxStatus> = new Set(['sent', 'failed', 'expired']);

export class DurableOutbox implements Outbox {
  private readonly store: Store;
  private readonly sender: SmsSender;
  private readonly key: Buffer;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly timers: Timers;
  private readonly opts: OutboxOptions;
  private readonly log: Logger;
  private readonly entries: Table<OutboxRecord>;
  private readonly index: Table<IndexRow>;
  private readonly audit: Table<SmsResendAudit>;
  private readonly journal: SubmitJournal | undefined;

  private nextSeq = 1;
  /** Challenge ids with an entry (live or retained): refuses a second entry per challenge. */
  private readonly known = new Set<string>();
  /** Prepared, maybe not yet committed: seq → item and when it was prepared (monotonic). */
  private readonly pending = new Map<string, { item: LiveItem; at: number }>();
  /** Waiting to go out, in arrival (seq) order. */
  private queue: LiveItem[] = [];
  private readonly inFlight = new Map<string, { it: LiveItem; done: Promise<void> }>();
  private readonly deliveryNotes = new SerialQueue();
  /** In-flight entries (they left the queue) by challenge: for status() and the oldest age. */
  private readonly liveByChallenge = new Map<string, LiveItem>();
  /** Sent, but the write that records it failed for good: memory is the only record of `sent`. */
  private readonly unsaved = new Map<string, LiveItem>();
  /** Sends handed to the sender and not settled: the slots counted against the pool. */
  private busySlots = 0;
  private totals = { sent: 0, failed: 0, expired: 0 };

  private closed = false;
  private ingesting = false;
  private ingestAgain = false;
  private wakeTimer: unknown;
  private wakeAt = Infinity;
  private expiryTimer: unknown;
  private expiryAt = Infinity;
  private sweepTimer: unknown;
  private unsubscribeHealth: (() => void) | undefined;
  private readonly onHealth = (): void => {
    // A modem changed state: whoever was waiting for one may try now, not at its next recheck.
    for (const it of this.queue) if (it.modemWaits > 0) it.notBefore = 0;
    this.pump();
  };

  private readonly onEvent: ((e: OutboxEvent) => void) | undefined;

  constructor(deps: OutboxDeps) {
    if (deps.deviceKey.length !== 32)
      throw new MfaError('the device key must be 32 bytes', ErrorCode.OutboxKeyInvalid);
    this.store = deps.store;
    this.sender = deps.sender;
    this.key = deps.deviceKey;
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? cryptoRandom;
    this.timers = deps.timers ?? realTimers;
    this.opts = { ...DEFAULT_OUTBOX_OPTIONS, ...deps.options };
    this.log = deps.log ?? logger('dispatch:outbox');
    this.entries = this.store.table<OutboxRecord>('outbox');
    this.index = this.store.table<IndexRow>('outbox');
    this.audit = this.store.table<SmsResendAudit>('audit');
    this.journal = deps.dataDir === undefined ? undefined : SubmitJournal.open(deps.dataDir);
    this.onEvent = deps.onEvent;
  }

  /** Loads the table (recovering from a power cut), then starts dispatching. */
  async start(): Promise<void> {
    const resumed: OutboxRecord[] = [];
    let maxSeq = 0;
    for await (const [k, rec] of this.entries.entries({ gte: 'q!', lt: 'q"' })) {
      maxSeq = Math.max(maxSeq, Number(k.slice(2)));
      this.known.add(rec.challengeId);
      if (rec.status === 'sent') this.totals.sent++;
      else if (rec.status === 'failed') this.totals.failed++;
      else if (rec.status === 'expired') this.totals.expired++;
      else resumed.push(rec);
    }
    // The journal may know of a Ctrl-Z that the entry's own (background) write did not keep.
    const marks = this.journal?.readAll() ?? new Map<number, number>();
    // Never reuse a sequence number the journal has a mark for: once the sweep has removed the
    // highest entries, a new entry with that number would inherit the old mark and look like an
    // unknown outcome after the next restart (a false resend audit).
    for (const seq of marks.keys()) maxSeq = Math.max(maxSeq, seq);
    this.nextSeq = maxSeq + 1;
    for (const rec of resumed) {
      const marked = marks.get(Number(rec.seq));
      if (marked !== undefined && marked > rec.submissions) {
        rec.submissions = marked;
        rec.status = 'submitting';
      }
    }

    for (const rec of resumed) {
      if (rec.status === 'submitting') {
        // A power cut between `> ` and the modem's answer: the network may have the message.
        if (rec.resentUnknown) {
          await this.finish(
            this.itemFor(rec),
            'failed',
            { reason: 'outcome unknown after resend' },
            'unknown',
          );
          continue;
        }
        rec.unknownOutcome = true;
        rec.status = 'queued';
        this.log.warn(
          { challengeId: rec.challengeId, to: maskNumber(rec.to), seq: rec.seq },
          'found an SMS in submitting after a restart: outcome unknown, will resend once',
        );
      }
      this.queue.push(this.itemFor(rec));
    }
    this.queue.sort((a, b) => (a.rec.seq < b.rec.seq ? -1 : 1));
    this.unsubscribeHealth = this.sender.onHealth(this.onHealth);
    this.log.info({ queued: this.queue.length, ...this.totals }, 'outbox started');
    this.armSweep(0);
    this.pump();
  }

  prepare(entry: OutboxEntryInput): StoreOp[] {
    if (this.closed) throw new MfaError('the outbox is closed', ErrorCode.OutboxClosed);
    if (this.known.has(entry.challengeId))
      throw new MfaError(
        `challenge ${entry.challengeId} already has an outbox entry`,
        ErrorCode.OutboxDuplicateChallenge,
      );
    const seq = String(this.nextSeq++).padStart(SEQ_DIGITS, '0');
    const rec: OutboxRecord = {
      v: 1,
      seq,
      challengeId: entry.challengeId,
      to: entry.to,
      expiresAt: entry.expiresAt,
      createdAt: this.clock.now(),
      status: 'queued',
      sealed: sealText(this.key, entry.challengeId, entry.text, this.random),
      attempts: 0,
      submissions: 0,
    };
    if (entry.flash) rec.flash = true;
    if (entry.username !== undefined) rec.username = entry.username;
    this.known.add(entry.challengeId);
    this.pending.set(seq, { item: this.itemFor(rec), at: this.clock.monotonic() });
    return [
      this.entries.op({ type: 'put', key: entryKey(seq), value: rec }),
      this.index.op({ type: 'put', key: indexKey(entry.challengeId), value: { seq } }),
    ];
  }

  wake(): void {
    if (this.closed) return;
    void this.ingest();
  }

  async enqueue(entry: OutboxEntryInput): Promise<void> {
    const ops = this.prepare(entry);
    const seq = (ops[0]?.key ?? '').slice(2);
    try {
      await this.store.atomic(ops);
    } catch (e) {
      this.pending.delete(seq);
      this.known.delete(entry.challengeId);
      throw e;
    }
    // Committed by us, so no need to read it back: straight onto the queue.
    const p = this.pending.get(seq);
    if (p) {
      this.pending.delete(seq);
      this.addToQueue(p.item);
      this.tell(p.item.rec, 'queued');
    }
    this.pump();
  }

  ready(): boolean {
    return this.sender.ready();
  }

  expectedWaitMs(): number {
    return this.sender.expectedWaitMs(this.queue.length + this.busySlots);
  }

  async status(challengeId: string): Promise<OutboxStatus | undefined> {
    // In flight, memory knows best: with the journal, `submitting` lives there, not in the entry.
    const live = this.liveByChallenge.get(challengeId) ?? this.unsaved.get(challengeId);
    if (live) return live.rec.status;
    const idx = await this.index.get(indexKey(challengeId));
    if (!idx) return undefined;
    return (await this.entries.get(entryKey(idx.seq)))?.status;
  }

  stats(): OutboxStats {
    let oldest = Infinity;
    // Monotonic: an NTP step must not look like messages stuck for hours.
    for (const it of this.queue) oldest = Math.min(oldest, it.createdMono);
    for (const it of this.liveByChallenge.values())
      if (!FINAL.has(it.rec.status)) oldest = Math.min(oldest, it.createdMono);
    return {
      queued: this.queue.length,
      inFlight: this.inFlight.size,
      ...this.totals,
      oldestQueuedAgeMs: oldest === Infinity ? null : Math.max(0, this.clock.monotonic() - oldest),
    };
  }

  /**
   * Stops picking up work at once, then waits (up to `timeoutMs`, default `closeTimeoutMs`) for
   * the sends already past the modem's prompt to get their final answer and be recorded. A send
   * not yet at the prompt is not waited for: when it gets there `beforeSubmit` refuses, the modem
   * sends ESC, and the entry stays `queued` for the next start. Stop the pool after this.
   */
  async close(timeoutMs = this.opts.closeTimeoutMs): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timers.clearTimeout(this.wakeTimer);
    this.timers.clearTimeout(this.expiryTimer);
    this.timers.clearTimeout(this.sweepTimer);
    this.unsubscribeHealth?.();
    // Sends not at their prompt yet will not reach Ctrl-Z now (beforeSubmit refuses once closed):
    // take back their early marks while the journal is still open (together: one group commit).
    await Promise.all(
      [...this.inFlight.values()]
        .filter((f) => f.it.submitStarted !== true)
        .map((f) => this.revertEarlyMark(f.it, { challengeId: f.it.rec.challengeId, seq: f.it.rec.seq })),
    );
    const submitting = [...this.inFlight.values()].filter((f) => f.it.submitStarted === true);
    if (submitting.length > 0) {
      this.log.info(
        { sends: submitting.length, timeoutMs },
        'outbox closing: waiting for SMS already submitted to the network to settle',
      );
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        Promise.allSettled(submitting.map((f) => f.done)).then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut)
        this.log.warn(
          { timeoutMs },
          'outbox closed before a submitted SMS settled: its outcome is unknown, resent once at the next start',
        );
    }
    this.journal?.close();
  }

  /** Compacts final entries older than the retention period; returns how many were removed. */
  async sweep(): Promise<number> {
    const cutoff = this.clock.now() - this.opts.retentionMs;
    const ops: StoreOp[] = [];
    let removed = 0;
    for await (const [k, rec] of this.entries.entries({ gte: 'q!', lt: 'q"' })) {
      if (!FINAL.has(rec.status) || (rec.finalAt ?? rec.createdAt) > cutoff) continue;
      ops.push(this.entries.op({ type: 'del', key: k }));
      ops.push(this.index.op({ type: 'del', key: indexKey(rec.challengeId) }));
      this.known.delete(rec.challengeId);
      if (rec.status === 'sent') this.totals.sent--;
      else if (rec.status === 'failed') this.totals.failed--;
      else this.totals.expired--;
      removed++;
      if (ops.length >= 500) {
        await this.store.atomic(ops.splice(0));
      }
    }
    if (ops.length > 0) await this.store.atomic(ops);
    if (removed > 0) this.log.info({ removed }, 'compacted final outbox entries');
    return removed;
  }

  // ---- internals -------------------------------------------------------------------------

  /**
   * The wall expiry is read once, here (when the entry is created or loaded at start); from then
   * on the entry's life runs on monotonic time only. A Pi has no battery clock and NTP steps it,
   * often forward by hours at boot: a wall-clock step must neither kill nor revive a passcode.
   */
  private itemFor(rec: OutboxRecord): LiveItem {
    const now = this.clock.now();
    const mono = this.clock.monotonic();
    return {
      rec,
      deadlineMono: mono + (rec.expiresAt - this.opts.expiryMarginMs - now),
      createdMono: mono - Math.max(0, now - rec.createdAt),
      notBefore: 0,
      ownWriteFailures: 0,
      modemWaits: 0,
    };
  }

  private isExpired(it: LiveItem): boolean {
    return this.clock.monotonic() >= it.deadlineMono;
  }

  /** The life the passcode has left, for the sender: monotonic all the way down. */
  private remainingMs(it: LiveItem): number {
    return it.deadlineMono + this.opts.expiryMarginMs - this.clock.monotonic();
  }

  private addToQueue(it: LiveItem): void {
    // Almost always the newest: append, and only search when it arrived out of order.
    const q = this.queue;
    const last = q[q.length - 1];
    if (!last || last.rec.seq < it.rec.seq) q.push(it);
    else {
      const i = q.findIndex((x) => x.rec.seq > it.rec.seq);
      q.splice(i < 0 ? q.length : i, 0, it);
    }
  }

  /** Moves committed prepared entries onto the queue (read back: only committed ones go out). */
  private async ingest(): Promise<void> {
    if (this.ingesting) {
      this.ingestAgain = true;
      return;
    }
    this.ingesting = true;
    try {
      do {
        this.ingestAgain = false;
        const snapshot = [...this.pending.entries()];
        const found = await Promise.all(snapshot.map(([seq]) => this.entries.get(entryKey(seq))));
        const now = this.clock.monotonic();
        snapshot.forEach(([seq, p], i) => {
          if (found[i]) {
            this.pending.delete(seq);
            this.addToQueue(p.item);
            this.tell(p.item.rec, 'queued');
          } else if (now - p.at > PENDING_GIVE_UP_MS) {
            // The caller's commit never landed. If it lands later, the next start picks it up.
            this.pending.delete(seq);
            this.known.delete(p.item.rec.challengeId);
            this.log.warn(
              { challengeId: p.item.rec.challengeId, seq },
              'prepared outbox entry never committed',
            );
          }
        });
        this.pump();
      } while (this.ingestAgain && !this.closed);
    } catch (e) {
      this.log.error({ err: describeError(e) }, 'outbox ingest failed');
    } finally {
      this.ingesting = false;
    }
  }

  /** How many sends the pool can take now: one per modem able to send, plus a lookahead each. */
  private capacity(): number {
    let able = 0;
    for (const h of this.sender.health()) if (h.state === 'registered' || h.state === 'sending') able++;
    if (able === 0 && this.sender.ready()) able = 1;
    return able * (1 + this.opts.lookahead);
  }

  /** Hands eligible entries to the sender, oldest first, up to capacity. Never awaits. */
  private pump(): void {
    if (this.closed) return;
    const now = this.clock.monotonic();
    // Expire first: an expired entry must not wait for a modem to be dropped.
    if (this.queue.some((it) => this.isExpired(it))) {
      const keep: LiveItem[] = [];
      for (const it of this.queue) {
        if (this.isExpired(it)) this.track(it, this.expire(it, 'expired while queued'));
        else keep.push(it);
      }
      this.queue = keep;
    }
    let cap = this.queue.length > 0 ? this.capacity() - this.busySlots : 0;
    let nextRetry = Infinity;
    for (let i = 0; i < this.queue.length && cap > 0;) {
      const it = this.queue[i] as LiveItem;
      if (it.notBefore > now) {
        nextRetry = Math.min(nextRetry, it.notBefore);
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      cap--;
      this.track(it, this.dispatch(it));
    }
    for (const it of this.queue) if (it.notBefore > now) nextRetry = Math.min(nextRetry, it.notBefore);
    const stalled = this.queue.length > 0 && cap <= 0 && this.busySlots === 0;
    // With nothing in flight and no capacity, no completion will call pump again: poll slowly
    // (the pool's 'health' events usually come first).
    if (stalled) nextRetry = Math.min(nextRetry, now + this.opts.idleRecheckMs);
    this.armWake(nextRetry);
    this.armExpiry();
  }

  private track(it: LiveItem, p: Promise<void>): void {
    const seq = it.rec.seq;
    this.liveByChallenge.set(it.rec.challengeId, it);
    const done = p
      .catch((e: unknown) => this.log.error({ err: describeError(e), seq }, 'outbox dispatch failed'))
      .finally(() => {
        this.inFlight.delete(seq);
        if (this.liveByChallenge.get(it.rec.challengeId) === it)
          this.liveByChallenge.delete(it.rec.challengeId);
      });
    this.inFlight.set(seq, { it, done });
  }

  private armWake(atMono: number): void {
    if (atMono === this.wakeAt) return;
    this.timers.clearTimeout(this.wakeTimer);
    this.wakeAt = atMono;
    if (atMono === Infinity) return;
    this.wakeTimer = this.timers.setTimeout(
      () => {
        this.wakeAt = Infinity;
        this.pump();
      },
      Math.max(0, atMono - this.clock.monotonic()),
    );
  }

  private armExpiry(): void {
    let first = Infinity;
    for (const it of this.queue) first = Math.min(first, it.deadlineMono);
    if (first === this.expiryAt) return;
    this.timers.clearTimeout(this.expiryTimer);
    this.expiryAt = first;
    if (first === Infinity) return;
    this.expiryTimer = this.timers.setTimeout(
      () => {
        this.expiryAt = Infinity;
        this.pump();
      },
      Math.max(0, first - this.clock.monotonic()),
    );
  }

  private armSweep(delayMs: number): void {
    if (this.closed) return;
    this.sweepTimer = this.timers.setTimeout(() => {
      this.sweep()
        .catch((e: unknown) => this.log.error({ err: describeError(e) }, 'outbox sweep failed'))
        .finally(() => this.armSweep(this.opts.sweepIntervalMs));
    }, delayMs);
    unrefTimer(this.sweepTimer);
  }

  /**
   * Every dispatcher write. A send can settle after close() gave up waiting for it and the
   * store was closed: that write is skipped (the entry stays as it was on disk, which the next
   * start handles), rather than thrown into a store that is gone.
   */
  private persist(ops: StoreOp[]): Promise<void> {
    if (this.closed && !this.store.writable) {
      this.log.warn({ ops: ops.length }, 'outbox write skipped: the store is closed');
      return Promise.reject(new MfaError('the outbox is closed', ErrorCode.OutboxClosed));
    }
    return this.store.atomic(ops);
  }

  /** One attempt to send one entry, and what follows from its outcome. */
  private async dispatch(it: LiveItem): Promise<void> {
    const rec = it.rec;
    const ctx = { challengeId: rec.challengeId, to: maskNumber(rec.to), seq: rec.seq };
    if (this.isExpired(it)) return this.expire(it, 'expired while queued');
    if (!rec.sealed) return this.finish(it, 'failed', { reason: 'text missing' });
    let text: string;
    try {
      text = openText(this.key, rec.challengeId, rec.sealed);
    } catch (e) {
      return this.finish(it, 'failed', { reason: describeError(e) });
    }

    const isResend = rec.unknownOutcome === true;
    if (isResend && !rec.resentUnknown) {
      rec.resentUnknown = true;
      const audit: SmsResendAudit = {
        t: this.clock.now(),
        kind: 'sms-resend-unknown-outcome',
        challengeId: rec.challengeId,
        to: maskNumber(rec.to),
        outcome: 'pending',
      };
      // Spend the resend durably before it can happen: a second power cut must not allow a third copy.
      try {
        await this.persist([
          this.entries.op({ type: 'put', key: entryKey(rec.seq), value: { ...rec, status: 'queued' } }),
          this.audit.op({ type: 'put', key: auditKey(rec), value: audit }),
        ]);
      } catch (e) {
        rec.resentUnknown = false;
        return this.requeue(it, this.opts.retryMaxMs, describeError(e), ctx);
      }
      this.log.warn(ctx, 'resending an SMS whose first send has an unknown outcome (audited)');
      if (this.closed) return; // the resend stays due: the next start makes it
    }

    rec.attempts++;
    it.submitStarted = false; // a new send: close() waits only once this one reaches its prompt
    let submitted = false;
    this.busySlots++;
    let slotHeld = true;
    const releaseSlot = (): void => {
      if (slotHeld) {
        slotHeld = false;
        this.busySlots--;
      }
    };
    let result: SmsSendResult;
    // The journal mark starts when AT+CMGS goes out, so its fdatasync overlaps the modem's way to
    // the prompt instead of keeping the modem at it (an SD card's fsync can take many ms). If no
    // Ctrl-Z follows, the mark is taken back (see revertEarlyMark).
    let early: Promise<void> | undefined;
    const journal = this.journal;
    const startMark = (): Promise<void> | undefined => {
      if (!journal) return undefined;
      if (!early) {
        it.earlyMarkRevertTo = rec.submissions;
        early = journal.mark(Number(rec.seq), rec.submissions + 1);
        early.catch(() => undefined);
      }
      return early;
    };
    try {
      result = await this.sender.send(rec.to, text, {
        remainingMs: this.remainingMs(it),
        ...(rec.flash ? { flash: true } : {}),
        ...(this.opts.statusReport ? { statusReport: true } : {}),
        onCommand: () => {
          if (!this.closed && !this.isExpired(it)) void startMark();
        },
        beforeSubmit: async () => {
          // Closing: a send that has not reached Ctrl-Z yet is abandoned (ESC) and stays queued.
          if (this.closed) throw new MfaError('the outbox is closing', ErrorCode.OutboxClosed);
          it.submitStarted = true;
          if (this.isExpired(it)) throw sendFailure('expired', 'passcode expired before submit');
          const n = rec.submissions + 1;
          if (this.journal) {
            // Durable before Ctrl-Z via the journal. The entry itself is not rewritten here:
            // a second fsync per SMS would compete with the journal's for the disk. Its next
            // write (final, or back to queued) carries the new submission count.
            await startMark();
            it.earlyMarkRevertTo = undefined; // Ctrl-Z follows: the mark is now the truth
            rec.status = 'submitting';
            rec.submittingAt = this.clock.now();
            rec.submissions = n;
          } else {
            await this.persist([
              this.entries.op({
                type: 'put',
                key: entryKey(rec.seq),
                value: { ...rec, status: 'submitting', submittingAt: this.clock.now(), submissions: n },
              }),
            ]);
            rec.status = 'submitting';
            rec.submittingAt = this.clock.now();
            rec.submissions = n;
          }
          submitted = true;
        },
      });
      // Free the slot before the durable write, so the next message starts at once.
      releaseSlot();
      this.pump();
      this.log.info({ ...ctx, modem: result.modem, refs: result.messageRefs }, 'SMS sent');
    } catch (e) {
      releaseSlot();
      if (!submitted) await this.revertEarlyMark(it, ctx);
      if (this.closed && !submitted) {
        // Nothing went out (refused at the prompt, or the pool stopped first): the entry is
        // `queued` on disk and goes out at the next start, as a first send, not a resend.
        this.log.info(ctx, 'SMS not sent: the outbox closed before it was submitted; stays queued');
        return;
      }
      await this.afterFailure(it, e, submitted, ctx);
      this.pump();
      return;
    }
    // Outside the send's try: the SMS is with the network whatever happens to this write.
    await this.finishSent(it, { messageRefs: result.messageRefs, modem: result.modem }, ctx);
  }

  /**
   * No Ctrl-Z followed an early journal mark (no prompt, or beforeSubmit refused): the slot goes
   * back to the entry's own count, or a restart would take the entry for an unknown outcome and
   * audit a "resend" of a message that never went out. If this write fails, that is what happens:
   * the safe side, at most one extra copy.
   */
  private async revertEarlyMark(it: LiveItem, ctx: Record<string, string>): Promise<void> {
    const to = it.earlyMarkRevertTo;
    if (to === undefined) return;
    it.earlyMarkRevertTo = undefined;
    try {
      await this.journal?.mark(Number(it.rec.seq), to);
    } catch (e) {
      this.log.warn(
        { ...ctx, err: describeError(e) },
        'could not take back an early submitting mark: a restart will treat this SMS as an unknown outcome',
      );
    }
  }

  /**
   * Records a sent SMS. A failed write here is not a send failure: the entry stays `sent` in
   * memory (status() says so, so the engine reuses the code instead of texting a new one) and
   * the write is retried a few times. If every retry fails the disk still holds the entry as it
   * was before Ctrl-Z, which the next start treats as an unknown outcome: at most one more copy.
   */
  private async finishSent(
    it: LiveItem,
    extra: Pick<OutboxRecord, 'messageRefs' | 'modem'>,
    ctx: Record<string, string>,
  ): Promise<void> {
    const { final, ops } = await this.finalOps(it, 'sent', extra, 'sent');
    it.rec = final;
    for (let i = 0; ; i++) {
      try {
        await this.persist(ops);
        if (i > 0) this.log.info({ ...ctx, writes: i + 1 }, 'sent SMS recorded after a retried write');
        return;
      } catch (e) {
        const last = i >= FINAL_WRITE_RETRY_MS.length || (this.closed && !this.store.writable);
        this.log.error(
          { ...ctx, code: ErrorCode[ErrorCode.StoreWriteFailed], err: describeError(e), write: i + 1 },
          last
            ? 'could not record a sent SMS: kept as sent in memory only; not resent now'
            : 'could not record a sent SMS: retrying the write (never the send)',
        );
        if (last) {
          this.unsaved.set(it.rec.challengeId, it);
          return;
        }
        await new Promise<void>((r) => this.timers.setTimeout(r, FINAL_WRITE_RETRY_MS[i] ?? 0));
      }
    }
  }

  private async afterFailure(
    it: LiveItem,
    e: unknown,
    submitted: boolean,
    ctx: Record<string, string>,
  ): Promise<void> {
    const rec = it.rec;
    const f = classifySendFailure(e, submitted);
    const wasResend = rec.resentUnknown === true;
    switch (f.kind) {
      case 'expired':
        return this.expire(it, f.reason);
      case 'failed':
        this.log.warn({ ...ctx, reason: f.reason }, 'SMS failed (the modem pool has spent its retries)');
        return this.finish(it, 'failed', { reason: f.reason }, wasResend ? 'failed' : undefined);
      case 'unknown':
        if (rec.resentUnknown) {
          this.log.error({ ...ctx, reason: f.reason }, 'SMS outcome unknown after its one resend; giving up');
          return this.finish(it, 'failed', { reason: `outcome unknown: ${f.reason}` }, 'unknown');
        }
        rec.unknownOutcome = true;
        return this.requeue(it, 0, f.reason, ctx);
      case 'wait-modem':
        // Not a failure of this message: wait (while it lives) for a modem, woken by health events.
        it.modemWaits++;
        return this.requeue(
          it,
          Math.min(
            this.opts.idleRecheckMs,
            backoffMs(it.modemWaits, this.opts.retryBaseMs, this.opts.retryMaxMs),
          ),
          f.reason,
          ctx,
        );
      case 'retry-own-write':
        it.ownWriteFailures++;
        if (it.ownWriteFailures >= this.opts.maxAttempts) {
          this.log.warn(
            { ...ctx, reason: f.reason, failures: String(it.ownWriteFailures) },
            'SMS not sent: the submitting mark could not be written',
          );
          return this.finish(it, 'failed', { reason: f.reason }, wasResend ? 'failed' : undefined);
        }
        return this.requeue(
          it,
          backoffMs(it.ownWriteFailures, this.opts.retryBaseMs, this.opts.retryMaxMs),
          f.reason,
          ctx,
        );
    }
  }

  /** Back to the queue (durably back to `queued` if it had reached `submitting`). */
  private async requeue(
    it: LiveItem,
    delayMs: number,
    reason: string,
    ctx: Record<string, string>,
  ): Promise<void> {
    const rec = it.rec;
    if (this.isExpired(it)) return this.expire(it, reason);
    this.log.info(
      { ...ctx, reason, retryInMs: delayMs, unknownOutcome: rec.unknownOutcome === true },
      'SMS will be retried',
    );
    if (rec.status === 'submitting') {
      rec.status = 'queued';
      // With unknownOutcome set, a power cut from here on still yields at most one resend.
      // If this write fails the entry still goes back on the queue: after a restart the journal
      // (or the stored `submitting`) makes it an unknown outcome, the safe side.
      try {
        await this.persist([this.entries.op({ type: 'put', key: entryKey(rec.seq), value: rec })]);
      } catch (e) {
        this.log.error({ ...ctx, err: describeError(e) }, 'outbox requeue write failed');
      }
    }
    it.notBefore = this.clock.monotonic() + delayMs;
    if (!this.closed) this.addToQueue(it);
  }

  private expire(it: LiveItem, reason: string): Promise<void> {
    this.log.warn(
      { challengeId: it.rec.challengeId, to: maskNumber(it.rec.to), seq: it.rec.seq, reason },
      'passcode SMS expired before it could be sent: dropped',
    );
    return this.finish(it, 'expired', { reason }, it.rec.resentUnknown ? 'expired' : undefined);
  }

  /** Final state: durable, text removed, number masked; the audit record settled if this was a resend. */
  private async finish(
    it: LiveItem,
    status: 'sent' | 'failed' | 'expired',
    extra: Pick<OutboxRecord, 'messageRefs' | 'modem' | 'reason'>,
    auditOutcome?: SmsResendAudit['outcome'],
  ): Promise<void> {
    const { final, ops } = await this.finalOps(it, status, extra, auditOutcome);
    try {
      await this.persist(ops);
    } finally {
      it.rec = final;
    }
  }

  /**
   * Notes a status report on the entry. A report can arrive before the entry's final write has
   * landed: it waits for that dispatch to settle, and notes run one at a time, so a note never
   * rewrites an entry from a stale read (a stale `submitting` record would mean a resend after a
   * restart). The write is synced like every other write to an entry, for the same reason.
   */
  noteDelivery(challengeId: string, delivery: NonNullable<OutboxRecord['delivery']>): Promise<void> {
    return this.deliveryNotes.run(async () => {
      const live = this.liveByChallenge.get(challengeId);
      if (live) await this.inFlight.get(live.rec.seq)?.done;
      const row = await this.index.get(indexKey(challengeId));
      if (!row) return;
      const rec = await this.entries.get(entryKey(row.seq));
      if (!rec) return;
      await this.entries.put(entryKey(row.seq), { ...rec, delivery });
    });
  }

  private tell(rec: OutboxRecord, status: OutboxEvent['status']): void {
    if (!this.onEvent) return;
    // A final record's number is masked already.
    const to = status === 'queued' ? maskNumber(rec.to) : rec.to;
    const e: OutboxEvent = { status, challengeId: rec.challengeId, to };
    if (rec.username !== undefined) e.username = rec.username;
    if (e.status !== 'queued') {
      if (rec.modem !== undefined) e.modem = rec.modem;
      if (rec.messageRefs) e.messageRefs = rec.messageRefs;
      if (rec.reason !== undefined) e.reason = rec.reason;
    }
    try {
      this.onEvent(e);
    } catch (err) {
      this.log.error({ err: describeError(err) }, 'outbox onEvent hook failed');
    }
  }

  /** The final record (counted in the totals) and the writes that record it. */
  private async finalOps(
    it: LiveItem,
    status: 'sent' | 'failed' | 'expired',
    extra: Pick<OutboxRecord, 'messageRefs' | 'modem' | 'reason'>,
    auditOutcome?: SmsResendAudit['outcome'],
  ): Promise<{ final: OutboxRecord; ops: StoreOp[] }> {
    const rec = it.rec;
    const final: OutboxRecord = {
      ...rec,
      ...extra,
      status,
      to: maskNumber(rec.to),
      finalAt: this.clock.now(),
    };
    delete final.sealed;
    this.tell(final, status);
    const ops = [this.entries.op({ type: 'put', key: entryKey(rec.seq), value: final })];
    if (auditOutcome && rec.resentUnknown) {
      const prev = await this.audit.get(auditKey(rec)).catch(() => undefined);
      const audit: SmsResendAudit = {
        t: prev?.t ?? this.clock.now(),
        kind: 'sms-resend-unknown-outcome',
        challengeId: rec.challengeId,
        to: maskNumber(rec.to),
        outcome: auditOutcome,
      };
      if (extra.modem !== undefined) audit.modem = extra.modem;
      if (extra.messageRefs) audit.messageRefs = extra.messageRefs;
      if (extra.reason !== undefined) audit.reason = extra.reason;
      ops.push(this.audit.op({ type: 'put', key: auditKey(rec), value: audit }));
    }
    this.totals[status]++;
    return { final, ops };
  }
}

/** One audit key per resend, sortable by the entry's arrival. */
function auditKey(rec: OutboxRecord): string {
  return `sms-resend!${rec.seq}!${rec.challengeId}`;
}

/** Builds and starts an outbox over the store and the sender. */
export async function openOutbox(deps: OutboxDeps): Promise<DurableOutbox> {
  const outbox = new DurableOutbox(deps);
  await outbox.start();
  return outbox;
}
