/**
 * The persistent outbox: LevelDB table 'outbox' → the modem pool. Entries go
 * queued → submitting (written durably before Ctrl-Z, from the modem's `beforeSubmit`) →
 * sent | failed | expired. One send per challenge. Retries of network errors belong to the
 * modem pool alone (see classify.ts); the outbox waits for a modem when none can send, retries
 * its own `submitting` write, and resends an unknown outcome (a power cut in `submitting`, or a
 * failure after Ctrl-Z) at most once, with the same text, audited.
 *
 * This module holds the queue and its timers, the one-entry-per-challenge rule, start (recovery
 * after a power cut) and close. The records and their writes are in outbox-records.ts, one send
 * and its outcome in send-attempt.ts.
 */
import type { Clock, Random } from '../clock.ts';
import { cryptoRandom, realTimers, systemClock, unrefTimer, type Timers } from '../clock.ts';
import { describeError, ErrorCode, MfaError } from '../errors.ts';
import { logger } from '../log.ts';
import type { Logger } from '../log.ts';
import type { SmsSender } from '../modem/types.ts';
import { maskNumber } from '../phone.ts';
import type { StoreOp } from '../store/store.ts';
import { deriveSubkey } from '../store/device-key.ts';
import { insertBySeq, isExpired, liveItem, type LiveItem } from './live-item.ts';
import { DEFAULT_OUTBOX_OPTIONS, type OutboxDeps, type OutboxOptions } from './outbox-options.ts';
import {
  FINAL,
  OutboxRecords,
  seqString,
  type FinalExtra,
  type FinalStatus,
  type OutboxRecord,
  type SmsResendAudit,
} from './outbox-records.ts';
import { sealText } from './sealed-text.ts';
import { revertEarlyMark, sendAttempt, type SendHost } from './send-attempt.ts';
import { SubmitJournal } from './submit-journal.ts';
import { SerialQueue } from '../queue.ts';
import type {
  Outbox,
  OutboxEntryInput,
  OutboxEvent,
  OutboxStats,
  OutboxStatus,
  PreparedEntry,
} from './types.ts';

export { DEFAULT_OUTBOX_OPTIONS, type OutboxDeps, type OutboxOptions } from './outbox-options.ts';
export type { OutboxRecord, SmsResendAudit } from './outbox-records.ts';

const PENDING_GIVE_UP_MS = 60_000;

export class DurableOutbox implements Outbox {
  private readonly sender: SmsSender;
  private readonly key: Buffer;
  private readonly legacyKey: Buffer;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly timers: Timers;
  private readonly opts: OutboxOptions;
  private readonly log: Logger;
  private readonly records: OutboxRecords;
  private readonly journal: SubmitJournal | undefined;
  /** What a send attempt sees of this outbox (send-attempt.ts). */
  private readonly host: SendHost;

  private nextSeq = 1;
  /** Challenge ids with an entry (live or retained): refuses a second entry per challenge. */
  private readonly known = new Set<string>();
  /** Prepared, not yet committed or abandoned: seq → its challenge and when (monotonic). */
  private readonly pending = new Map<string, { challengeId: string; at: number }>();
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
    this.sender = deps.sender;
    // Its own subkey, never the device key itself (store/device-key.ts).
    this.key = deriveSubkey(deps.deviceKey, 'outbox-text');
    this.legacyKey = deps.deviceKey;
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? cryptoRandom;
    this.timers = deps.timers ?? realTimers;
    this.opts = { ...DEFAULT_OUTBOX_OPTIONS, ...deps.options };
    this.log = deps.log ?? logger('dispatch:outbox');
    this.records = new OutboxRecords(deps.store, this.clock, this.log, () => this.closed);
    this.journal = deps.dataDir === undefined ? undefined : SubmitJournal.open(deps.dataDir);
    this.onEvent = deps.onEvent;
    this.host = {
      sender: this.sender,
      key: this.key,
      legacyKey: this.legacyKey,
      clock: this.clock,
      timers: this.timers,
      opts: this.opts,
      log: this.log,
      records: this.records,
      journal: this.journal,
      unsaved: this.unsaved,
      closed: () => this.closed,
      takeSlot: () => {
        this.busySlots++;
        let held = true;
        return () => {
          if (held) {
            held = false;
            this.busySlots--;
          }
        };
      },
      pump: () => this.pump(),
      requeue: (it) => {
        if (!this.closed) insertBySeq(this.queue, it);
      },
      tellResend: (rec) => this.tell(rec, 'resend'),
      finish: (it, status, extra, auditOutcome) => this.finish(it, status, extra, auditOutcome),
      expire: (it, reason) => this.expire(it, reason),
      finalOps: (it, status, extra, auditOutcome) => this.finalOps(it, status, extra, auditOutcome),
    };
  }

  /** Loads the table (recovering from a power cut), then starts dispatching. */
  async start(): Promise<void> {
    const resumed: OutboxRecord[] = [];
    let maxSeq = 0;
    for await (const [seq, rec] of this.records.all()) {
      maxSeq = Math.max(maxSeq, seq);
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

  prepare(entry: OutboxEntryInput): PreparedEntry {
    if (this.closed) throw new MfaError('the outbox is closed', ErrorCode.OutboxClosed);
    this.forgetStalePrepared();
    if (this.known.has(entry.challengeId))
      throw new MfaError(
        `challenge ${entry.challengeId} already has an outbox entry`,
        ErrorCode.OutboxDuplicateChallenge,
      );
    const seq = seqString(this.nextSeq++);
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
    const item = this.itemFor(rec);
    this.pending.set(seq, { challengeId: rec.challengeId, at: this.clock.monotonic() });
    let settled = false;
    return {
      ops: this.records.createOps(rec),
      committed: () => {
        if (settled) return;
        settled = true;
        this.pending.delete(seq);
        // Durable now, whatever the pending table thought: a late answer still counts.
        this.known.add(rec.challengeId);
        insertBySeq(this.queue, item);
        this.tell(rec, 'queued');
        this.pump();
      },
      abandoned: () => {
        if (settled) return;
        settled = true;
        if (this.pending.delete(seq)) this.known.delete(rec.challengeId);
      },
    };
  }

  async enqueue(entry: OutboxEntryInput): Promise<void> {
    const prepared = this.prepare(entry);
    try {
      await this.records.commit(prepared.ops);
    } catch (e) {
      prepared.abandoned();
      throw e;
    }
    prepared.committed();
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
    return this.records.statusOf(challengeId);
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
        .map((f) =>
          revertEarlyMark(this.host, f.it, { challengeId: f.it.rec.challengeId, seq: f.it.rec.seq }),
        ),
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
    const removed = await this.records.sweep(this.clock.now() - this.opts.retentionMs, (rec) => {
      this.known.delete(rec.challengeId);
      if (rec.status === 'sent') this.totals.sent--;
      else if (rec.status === 'failed') this.totals.failed--;
      else this.totals.expired--;
    });
    if (removed > 0) this.log.info({ removed }, 'compacted final outbox entries');
    return removed;
  }

  /** Notes a status report on the entry, once the entry's own final write has landed. */
  noteDelivery(challengeId: string, delivery: NonNullable<OutboxRecord['delivery']>): Promise<void> {
    // A report can arrive before the entry's final write has landed: wait for that dispatch, and
    // take notes one at a time, so a note never rewrites the entry from a stale read (a stale
    // `submitting` record would mean a resend after a restart).
    return this.deliveryNotes.run(async () => {
      const live = this.liveByChallenge.get(challengeId);
      if (live) await this.inFlight.get(live.rec.seq)?.done;
      await this.records.noteDelivery(challengeId, delivery);
    });
  }

  // ---- internals -------------------------------------------------------------------------

  private itemFor(rec: OutboxRecord): LiveItem {
    return liveItem(rec, this.clock, this.opts.expiryMarginMs);
  }

  /**
   * Forgets handles whose caller never said how its batch went (a bug, not a path): the
   * challenge may then be given another entry. If that batch did land, the next start finds it.
   */
  private forgetStalePrepared(): void {
    const now = this.clock.monotonic();
    // A Map keeps insertion order: the oldest come first.
    for (const [seq, p] of this.pending) {
      if (now - p.at <= PENDING_GIVE_UP_MS) break;
      this.pending.delete(seq);
      this.known.delete(p.challengeId);
      this.log.warn({ challengeId: p.challengeId, seq }, 'prepared outbox entry never settled: forgotten');
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
    if (this.queue.some((it) => isExpired(it, this.clock))) {
      const keep: LiveItem[] = [];
      for (const it of this.queue) {
        if (isExpired(it, this.clock)) this.track(it, this.expire(it, 'expired while queued'));
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
      this.track(it, sendAttempt(this.host, it));
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
    status: FinalStatus,
    extra: FinalExtra,
    auditOutcome?: SmsResendAudit['outcome'],
  ): Promise<void> {
    const { final, ops } = await this.finalOps(it, status, extra, auditOutcome);
    try {
      await this.records.persist(ops);
    } finally {
      it.rec = final;
    }
  }

  private tell(rec: OutboxRecord, status: OutboxEvent['status']): void {
    if (!this.onEvent) return;
    // A final record's number is masked already.
    const to = status === 'queued' || status === 'resend' ? maskNumber(rec.to) : rec.to;
    const e: OutboxEvent = { status, challengeId: rec.challengeId, to };
    if (rec.username !== undefined) e.username = rec.username;
    if (e.status !== 'queued' && e.status !== 'resend') {
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

  /** The final record (counted in the totals, told to the audit) and the writes that record it. */
  private async finalOps(
    it: LiveItem,
    status: FinalStatus,
    extra: FinalExtra,
    auditOutcome?: SmsResendAudit['outcome'],
  ): Promise<{ final: OutboxRecord; ops: StoreOp[] }> {
    const rec = it.rec;
    const final = this.records.finalRecord(rec, status, extra);
    this.tell(final, status);
    const ops = await this.records.finalOps(rec, final, extra, auditOutcome);
    this.totals[status]++;
    return { final, ops };
  }
}

/** Builds and starts an outbox over the store and the sender. */
export async function openOutbox(deps: OutboxDeps): Promise<DurableOutbox> {
  const outbox = new DurableOutbox(deps);
  await outbox.start();
  return outbox;
}
