/**
 * One attempt to send one outbox entry, and what follows from its outcome: the `submitting` mark
 * before Ctrl-Z, the record of a sent SMS, and the one kind of retry each failure gets (see
 * classify.ts). The outbox (outbox.ts) owns the queue, the slots and the final writes; this
 * module decides, for one entry, which of them happens.
 */
import type { Clock, Timers } from '../clock.ts';
import { describeError, ErrorCode, MfaError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { sendFailure } from '../modem/send-failure.ts';
import type { SmsSendResult, SmsSender } from '../modem/types.ts';
import { maskNumber } from '../phone.ts';
import { backoffMs, classifySendFailure } from './classify.ts';
import { isExpired, remainingMs, type LiveItem } from './live-item.ts';
import type { OutboxOptions } from './outbox-options.ts';
import type {
  FinalExtra,
  FinalStatus,
  OutboxRecord,
  OutboxRecords,
  SmsResendAudit,
} from './outbox-records.ts';
import { openText, type SealedText } from './sealed-text.ts';
import type { StoreOp } from '../store/store.ts';
import type { SubmitJournal } from './submit-journal.ts';

/** What a send attempt needs from the outbox that runs it. */
export interface SendHost {
  readonly sender: SmsSender;
  /** The device key's outbox-text subkey. */
  readonly key: Buffer;
  /** The device key itself: entries sealed by a release before subkeys, still queued at the upgrade. */
  readonly legacyKey?: Buffer;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly opts: OutboxOptions;
  readonly log: Logger;
  readonly records: OutboxRecords;
  readonly journal: SubmitJournal | undefined;
  /** Sent, but the write that records it failed for good: memory is the only record of `sent`. */
  readonly unsaved: Map<string, LiveItem>;
  closed(): boolean;
  /** Takes one of the pool's slots; the returned function gives it back (once). */
  takeSlot(): () => void;
  /** Hands eligible entries to the sender. Never awaits. */
  pump(): void;
  /** Puts an item back on the queue (unless the outbox is closed). */
  requeue(it: LiveItem): void;
  /** Tells the audit hook that an unknown outcome's one resend has been spent. */
  tellResend(rec: OutboxRecord): void;
  finish(
    it: LiveItem,
    status: FinalStatus,
    extra: FinalExtra,
    auditOutcome?: SmsResendAudit['outcome'],
  ): Promise<void>;
  expire(it: LiveItem, reason: string): Promise<void>;
  /** The final record (counted in the totals, told to the audit) and the writes that record it. */
  finalOps(
    it: LiveItem,
    status: FinalStatus,
    extra: FinalExtra,
    auditOutcome?: SmsResendAudit['outcome'],
  ): Promise<{ final: OutboxRecord; ops: StoreOp[] }>;
}

type Ctx = Record<string, string>;

/** Opens with the subkey; an entry queued before the upgrade opens with the device key itself. */
function openSealed(h: SendHost, aad: string, sealed: SealedText): string {
  try {
    return openText(h.key, aad, sealed);
  } catch (e) {
    if (!h.legacyKey) throw e;
    return openText(h.legacyKey, aad, sealed);
  }
}

/** Waits between retries of the write that records a sent SMS (about 50 s in all). */
const FINAL_WRITE_RETRY_MS = [200, 1000, 5000, 15_000, 30_000];

/** One attempt to send one entry, and what follows from its outcome. */
export async function sendAttempt(h: SendHost, it: LiveItem): Promise<void> {
  const rec = it.rec;
  const ctx = { challengeId: rec.challengeId, to: maskNumber(rec.to), seq: rec.seq };
  if (isExpired(it, h.clock)) return h.expire(it, 'expired while queued');
  if (!rec.sealed) return h.finish(it, 'failed', { reason: 'text missing' });
  let text: string;
  try {
    text = openSealed(h, rec.challengeId, rec.sealed);
  } catch (e) {
    return h.finish(it, 'failed', { reason: describeError(e) });
  }

  const isResend = rec.unknownOutcome === true;
  if (isResend && !rec.resentUnknown) {
    rec.resentUnknown = true;
    // Spend the resend durably before it can happen: a second power cut must not allow a third copy.
    try {
      await h.records.persist([h.records.putOp({ ...rec, status: 'queued' }), h.records.resendAuditOp(rec)]);
    } catch (e) {
      rec.resentUnknown = false;
      return requeueAfter(h, it, h.opts.retryMaxMs, describeError(e), ctx);
    }
    h.log.warn(ctx, 'resending an SMS whose first send has an unknown outcome (audited)');
    h.tellResend(rec);
    if (h.closed()) return; // the resend stays due: the next start makes it
  }

  rec.attempts++;
  it.submitStarted = false; // a new send: close() waits only once this one reaches its prompt
  let submitted = false;
  const releaseSlot = h.takeSlot();
  let result: SmsSendResult;
  // The journal mark starts when AT+CMGS goes out, so its fdatasync overlaps the modem's way to
  // the prompt instead of keeping the modem at it (an SD card's fsync can take many ms). If no
  // Ctrl-Z follows, the mark is taken back (see revertEarlyMark).
  let early: Promise<void> | undefined;
  const journal = h.journal;
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
    result = await h.sender.send(rec.to, text, {
      remainingMs: remainingMs(it, h.clock, h.opts.expiryMarginMs),
      ...(rec.flash ? { flash: true } : {}),
      ...(h.opts.statusReport ? { statusReport: true } : {}),
      onCommand: () => {
        if (!h.closed() && !isExpired(it, h.clock)) void startMark();
      },
      beforeSubmit: async () => {
        // Closing: a send that has not reached Ctrl-Z yet is abandoned (ESC) and stays queued.
        if (h.closed()) throw new MfaError('the outbox is closing', ErrorCode.OutboxClosed);
        it.submitStarted = true;
        if (isExpired(it, h.clock)) throw sendFailure('expired', 'passcode expired before submit');
        const n = rec.submissions + 1;
        if (h.journal) {
          // Durable before Ctrl-Z via the journal. The entry itself is not rewritten here:
          // a second fsync per SMS would compete with the journal's for the disk. Its next
          // write (final, or back to queued) carries the new submission count.
          await startMark();
          it.earlyMarkRevertTo = undefined; // Ctrl-Z follows: the mark is now the truth
          rec.status = 'submitting';
          rec.submittingAt = h.clock.now();
          rec.submissions = n;
        } else {
          await h.records.persist([
            h.records.putOp({ ...rec, status: 'submitting', submittingAt: h.clock.now(), submissions: n }),
          ]);
          rec.status = 'submitting';
          rec.submittingAt = h.clock.now();
          rec.submissions = n;
        }
        submitted = true;
      },
    });
    // Free the slot before the durable write, so the next message starts at once.
    releaseSlot();
    h.pump();
    h.log.info({ ...ctx, modem: result.modem, refs: result.messageRefs }, 'SMS sent');
  } catch (e) {
    releaseSlot();
    if (!submitted) await revertEarlyMark(h, it, ctx);
    if (h.closed() && !submitted) {
      // Nothing went out (refused at the prompt, or the pool stopped first): the entry is
      // `queued` on disk and goes out at the next start, as a first send, not a resend.
      h.log.info(ctx, 'SMS not sent: the outbox closed before it was submitted; stays queued');
      return;
    }
    await afterFailure(h, it, e, submitted, ctx);
    h.pump();
    return;
  }
  // Outside the send's try: the SMS is with the network whatever happens to this write.
  await finishSent(h, it, { messageRefs: result.messageRefs, modem: result.modem }, ctx);
}

/**
 * No Ctrl-Z followed an early journal mark (no prompt, or beforeSubmit refused): the slot goes
 * back to the entry's own count, or a restart would take the entry for an unknown outcome and
 * audit a "resend" of a message that never went out. If this write fails, that is what happens:
 * the safe side, at most one extra copy.
 */
export async function revertEarlyMark(
  h: Pick<SendHost, 'journal' | 'log'>,
  it: LiveItem,
  ctx: Ctx,
): Promise<void> {
  const to = it.earlyMarkRevertTo;
  if (to === undefined) return;
  it.earlyMarkRevertTo = undefined;
  try {
    await h.journal?.mark(Number(it.rec.seq), to);
  } catch (e) {
    h.log.warn(
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
async function finishSent(
  h: SendHost,
  it: LiveItem,
  extra: Pick<OutboxRecord, 'messageRefs' | 'modem'>,
  ctx: Ctx,
): Promise<void> {
  const { final, ops } = await h.finalOps(it, 'sent', extra, 'sent');
  it.rec = final;
  for (let i = 0; ; i++) {
    try {
      await h.records.persist(ops);
      if (i > 0) h.log.info({ ...ctx, writes: i + 1 }, 'sent SMS recorded after a retried write');
      return;
    } catch (e) {
      const last = i >= FINAL_WRITE_RETRY_MS.length || h.records.storeGone();
      h.log.error(
        { ...ctx, code: ErrorCode[ErrorCode.StoreWriteFailed], err: describeError(e), write: i + 1 },
        last
          ? 'could not record a sent SMS: kept as sent in memory only; not resent now'
          : 'could not record a sent SMS: retrying the write (never the send)',
      );
      if (last) {
        h.unsaved.set(it.rec.challengeId, it);
        return;
      }
      await new Promise<void>((r) => h.timers.setTimeout(r, FINAL_WRITE_RETRY_MS[i] ?? 0));
    }
  }
}

async function afterFailure(
  h: SendHost,
  it: LiveItem,
  e: unknown,
  submitted: boolean,
  ctx: Ctx,
): Promise<void> {
  const rec = it.rec;
  const f = classifySendFailure(e, submitted);
  const wasResend = rec.resentUnknown === true;
  switch (f.kind) {
    case 'expired':
      return h.expire(it, f.reason);
    case 'failed':
      h.log.warn({ ...ctx, reason: f.reason }, 'SMS failed (the modem pool has spent its retries)');
      return h.finish(it, 'failed', { reason: f.reason }, wasResend ? 'failed' : undefined);
    case 'unknown':
      if (rec.resentUnknown) {
        h.log.error({ ...ctx, reason: f.reason }, 'SMS outcome unknown after its one resend; giving up');
        return h.finish(it, 'failed', { reason: `outcome unknown: ${f.reason}` }, 'unknown');
      }
      rec.unknownOutcome = true;
      return requeueAfter(h, it, 0, f.reason, ctx);
    case 'wait-modem':
      // Not a failure of this message: wait (while it lives) for a modem, woken by health events.
      it.modemWaits++;
      return requeueAfter(
        h,
        it,
        Math.min(h.opts.idleRecheckMs, backoffMs(it.modemWaits, h.opts.retryBaseMs, h.opts.retryMaxMs)),
        f.reason,
        ctx,
      );
    case 'retry-own-write':
      it.ownWriteFailures++;
      if (it.ownWriteFailures >= h.opts.maxAttempts) {
        h.log.warn(
          { ...ctx, reason: f.reason, failures: String(it.ownWriteFailures) },
          'SMS not sent: the submitting mark could not be written',
        );
        return h.finish(it, 'failed', { reason: f.reason }, wasResend ? 'failed' : undefined);
      }
      return requeueAfter(
        h,
        it,
        backoffMs(it.ownWriteFailures, h.opts.retryBaseMs, h.opts.retryMaxMs),
        f.reason,
        ctx,
      );
  }
}

/** Back to the queue (durably back to `queued` if it had reached `submitting`). */
async function requeueAfter(
  h: SendHost,
  it: LiveItem,
  delayMs: number,
  reason: string,
  ctx: Ctx,
): Promise<void> {
  const rec = it.rec;
  if (isExpired(it, h.clock)) return h.expire(it, reason);
  h.log.info(
    { ...ctx, reason, retryInMs: delayMs, unknownOutcome: rec.unknownOutcome === true },
    'SMS will be retried',
  );
  if (rec.status === 'submitting') {
    rec.status = 'queued';
    // With unknownOutcome set, a power cut from here on still yields at most one resend.
    // If this write fails the entry still goes back on the queue: after a restart the journal
    // (or the stored `submitting`) makes it an unknown outcome, the safe side.
    try {
      await h.records.persist([h.records.putOp(rec)]);
    } catch (e) {
      h.log.error({ ...ctx, err: describeError(e) }, 'outbox requeue write failed');
    }
  }
  it.notBefore = h.clock.monotonic() + delayMs;
  h.requeue(it);
}
