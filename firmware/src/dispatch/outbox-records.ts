/**
 * The outbox's durable records in LevelDB: the entry table, its index by challenge and the audit
 * record of an unknown-outcome resend. It builds the writes; the outbox decides when they happen.
 *
 * Keys in the table: `q!<seq>` holds an entry (seq: 16 zero-padded digits, so key order is
 * arrival order), `c!<challengeId>` → `{ seq }` is the index by challenge. In the audit table,
 * `sms-resend!<seq>!<challengeId>` holds a resend's record.
 */
import type { Clock } from '../clock.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { maskNumber } from '../phone.ts';
import type { Store, StoreOp, Table } from '../store/store.ts';
import type { SealedText } from './sealed-text.ts';
import type { OutboxStatus } from './types.ts';

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

export type FinalStatus = 'sent' | 'failed' | 'expired';
export type FinalExtra = Pick<OutboxRecord, 'messageRefs' | 'modem' | 'reason'>;

interface IndexRow {
  seq: string;
}

const SEQ_DIGITS = 16;
export const FINAL: ReadonlySet<OutboxStatus> = new Set(['sent', 'failed', 'expired']);
const entryKey = (seq: string): string => `q!${seq}`;
const indexKey = (challengeId: string): string => `c!${challengeId}`;
/** One audit key per resend, sortable by the entry's arrival. */
const auditKey = (rec: OutboxRecord): string => `sms-resend!${rec.seq}!${rec.challengeId}`;

/** The sequence number as stored: zero-padded, so key order is arrival order. */
export function seqString(n: number): string {
  return String(n).padStart(SEQ_DIGITS, '0');
}

export class OutboxRecords {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** True once the outbox is closed: a write then needs a store that is still open. */
  private readonly isClosed: () => boolean;
  private readonly entries: Table<OutboxRecord>;
  private readonly index: Table<IndexRow>;
  private readonly audit: Table<SmsResendAudit>;

  constructor(store: Store, clock: Clock, log: Logger, isClosed: () => boolean) {
    this.store = store;
    this.clock = clock;
    this.log = log;
    this.isClosed = isClosed;
    this.entries = store.table<OutboxRecord>('outbox');
    this.index = store.table<IndexRow>('outbox');
    this.audit = store.table<SmsResendAudit>('audit');
  }

  /** Every entry in arrival order, with its sequence number. */
  async *all(): AsyncIterable<[number, OutboxRecord]> {
    for await (const [k, rec] of this.entries.entries({ gte: 'q!', lt: 'q"' }))
      yield [Number(k.slice(2)), rec];
  }

  /** The writes that create an entry and its index row. */
  createOps(rec: OutboxRecord): StoreOp[] {
    return [
      this.putOp(rec),
      this.index.op({ type: 'put', key: indexKey(rec.challengeId), value: { seq: rec.seq } }),
    ];
  }

  /** A write of the entry as given. */
  putOp(rec: OutboxRecord): StoreOp {
    return this.entries.op({ type: 'put', key: entryKey(rec.seq), value: rec });
  }

  /** The write that opens the audit record of an unknown outcome's one resend. */
  resendAuditOp(rec: OutboxRecord): StoreOp {
    const audit: SmsResendAudit = {
      t: this.clock.now(),
      kind: 'sms-resend-unknown-outcome',
      challengeId: rec.challengeId,
      to: maskNumber(rec.to),
      outcome: 'pending',
    };
    return this.audit.op({ type: 'put', key: auditKey(rec), value: audit });
  }

  /** A durable batch, as the caller hands it in (no closed check: used before work starts). */
  commit(ops: StoreOp[]): Promise<void> {
    return this.store.atomic(ops);
  }

  /** Whether a prepared entry's commit has landed. */
  async exists(seq: string): Promise<boolean> {
    return (await this.entries.get(entryKey(seq))) !== undefined;
  }

  /**
   * Every dispatcher write, durable. A send can settle after close() gave up waiting for it and
   * the store was closed: that write is skipped (the entry stays as it was on disk, which the next
   * start handles), rather than thrown into a store that is gone.
   */
  persist(ops: StoreOp[]): Promise<void> {
    if (this.isClosed() && !this.store.writable) {
      this.log.warn({ ops: ops.length }, 'outbox write skipped: the store is closed');
      return Promise.reject(new MfaError('the outbox is closed', ErrorCode.OutboxClosed));
    }
    return this.store.atomic(ops);
  }

  /** True when the store can no longer take writes (closed under us). */
  storeGone(): boolean {
    return this.isClosed() && !this.store.writable;
  }

  async statusOf(challengeId: string): Promise<OutboxStatus | undefined> {
    const idx = await this.index.get(indexKey(challengeId));
    if (!idx) return undefined;
    return (await this.entries.get(entryKey(idx.seq)))?.status;
  }

  /** The final form of an entry: text removed, number masked. */
  finalRecord(rec: OutboxRecord, status: FinalStatus, extra: FinalExtra): OutboxRecord {
    const final: OutboxRecord = {
      ...rec,
      ...extra,
      status,
      to: maskNumber(rec.to),
      finalAt: this.clock.now(),
    };
    delete final.sealed;
    return final;
  }

  /** The writes that record a final entry, and settle its resend audit record if it had one. */
  async finalOps(
    rec: OutboxRecord,
    final: OutboxRecord,
    extra: FinalExtra,
    auditOutcome?: SmsResendAudit['outcome'],
  ): Promise<StoreOp[]> {
    const ops = [this.putOp(final)];
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
    return ops;
  }

  /**
   * Deletes final entries that became final before `cutoff` (wall ms), in durable batches of up
   * to 250 entries; `onRemoved` hears of each. Returns how many were removed.
   */
  async sweep(cutoff: number, onRemoved: (rec: OutboxRecord) => void): Promise<number> {
    const ops: StoreOp[] = [];
    let removed = 0;
    for await (const [k, rec] of this.entries.entries({ gte: 'q!', lt: 'q"' })) {
      if (!FINAL.has(rec.status) || (rec.finalAt ?? rec.createdAt) > cutoff) continue;
      ops.push(this.entries.op({ type: 'del', key: k }));
      ops.push(this.index.op({ type: 'del', key: indexKey(rec.challengeId) }));
      onRemoved(rec);
      removed++;
      if (ops.length >= 500) {
        await this.store.atomic(ops.splice(0));
      }
    }
    if (ops.length > 0) await this.store.atomic(ops);
    return removed;
  }

  /** Notes a status report on the entry; the outbox calls it only once the entry has settled. */
  async noteDelivery(challengeId: string, delivery: NonNullable<OutboxRecord['delivery']>): Promise<void> {
    const row = await this.index.get(indexKey(challengeId));
    if (!row) return;
    const rec = await this.entries.get(entryKey(row.seq));
    if (!rec) return;
    // Synced like every write to an entry: the caller made sure `rec` is not stale.
    await this.entries.put(entryKey(row.seq), { ...rec, delivery });
  }
}
