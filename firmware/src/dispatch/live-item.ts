/**
 * An outbox entry not yet final, as the dispatcher holds it in memory: the record plus its life
 * on monotonic time, its backoff and the counts that decide its retries.
 */
import type { Clock } from '../clock.ts';
import type { OutboxRecord } from './outbox-records.ts';

export interface LiveItem {
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

/**
 * The wall expiry is read once, here (when the entry is created or loaded at start); from then
 * on the entry's life runs on monotonic time only. A Pi has no battery clock and NTP steps it,
 * often forward by hours at boot: a wall-clock step must neither kill nor revive a passcode.
 */
export function liveItem(rec: OutboxRecord, clock: Clock, expiryMarginMs: number): LiveItem {
  const now = clock.now();
  const mono = clock.monotonic();
  return {
    rec,
    deadlineMono: mono + (rec.expiresAt - expiryMarginMs - now),
    createdMono: mono - Math.max(0, now - rec.createdAt),
    notBefore: 0,
    ownWriteFailures: 0,
    modemWaits: 0,
  };
}

export function isExpired(it: LiveItem, clock: Clock): boolean {
  return clock.monotonic() >= it.deadlineMono;
}

/** The life the passcode has left, for the sender: monotonic all the way down. */
export function remainingMs(it: LiveItem, clock: Clock, expiryMarginMs: number): number {
  return it.deadlineMono + expiryMarginMs - clock.monotonic();
}

/** Puts an item into a queue kept in arrival (seq) order. */
export function insertBySeq(q: LiveItem[], it: LiveItem): void {
  // Almost always the newest: append, and only search when it arrived out of order.
  const last = q[q.length - 1];
  if (!last || last.rec.seq < it.rec.seq) q.push(it);
  else {
    const i = q.findIndex((x) => x.rec.seq > it.rec.seq);
    q.splice(i < 0 ? q.length : i, 0, it);
  }
}
