/**
 * The audit log in the store (table 'audit'). `record()` never waits and never throws: records
 * collect in memory and go to disk as one batch per `flushIntervalMs` (or sooner once `maxBatch`
 * are waiting), written without an fsync of their own. So a login storm costs one LevelDB batch
 * a second rather than one SD-card write per login, and RADIUS never waits on the audit. Such a
 * batch is on disk once the next durable write (a challenge, an outbox entry) fsyncs the same
 * log, or the kernel writes it back; a power cut can lose the last second or so. Admin actions
 * (`recordDurable`) are rare and are fsynced before the call returns.
 *
 * Retention: records older than `maxAgeDays` go hourly; beyond `maxRecords` the oldest go as soon
 * as a flush pushes the count past the cap (plus a small slack, so a storm prunes in chunks
 * rather than one key per flush). The count is kept in memory after one scan at start.
 *
 * Keys are `a!<15-digit UTC ms>!<8-digit sequence>`, so a key range is a time range.
 */
import type { Clock } from '../clock.ts';
import { describeError } from '../errors.ts';
import { logger } from '../log.ts';
import type { Store, Table, TableOp } from '../store/store.ts';
import { matches, type AuditFilter } from './query.ts';
import type { AuditInput, AuditRecord } from './records.ts';

export interface AuditLogOptions {
  /** [1...3650] days, default 90. */
  maxAgeDays: number;
  /** [1000...10,000,000] records, default 1,000,000 (a few hundred MB at worst). */
  maxRecords: number;
  /** [1 min...1 day] ms, default 1 hour: how often records past their age are deleted. */
  sweepIntervalMs: number;
  /** [10...10000] ms, default 1000: how long a record waits in memory before its batch is written. */
  flushIntervalMs: number;
  /** [10...10000] records, default 1000: a batch this big is written at once. */
  maxBatch: number;
  /**
   * [100...1,000,000] records, default 100,000: held in memory while the store refuses writes;
   * beyond this the oldest unwritten are dropped and counted (`stats().dropped`).
   */
  maxBuffered: number;
}

export const DEFAULT_AUDIT_OPTIONS: AuditLogOptions = {
  maxAgeDays: 90,
  maxRecords: 1_000_000,
  sweepIntervalMs: 3_600_000,
  flushIntervalMs: 1000,
  maxBatch: 1000,
  maxBuffered: 100_000,
};

export interface AuditStats {
  /** Records written to the store since start. */
  written: number;
  /** Records lost because the store refused writes for too long. */
  dropped: number;
  /** Records waiting in memory. */
  buffered: number;
  /** Records in the store (undefined until the start-up count finished). */
  stored: number | undefined;
  /** Records deleted by retention since start. */
  pruned: number;
}

export interface AuditEntry {
  /** The store key: a paging cursor. */
  key: string;
  record: AuditRecord;
}

export interface QueryOptions {
  /** 'asc' (oldest first, the default) or 'desc'. */
  order?: 'asc' | 'desc';
  /** Continue after this key (exclusive), in the query's order. */
  after?: string;
  limit?: number;
}

export const KEY_PREFIX = 'a!';
const KEY_END = 'a"';
const DELETE_CHUNK = 1000;

export function keyAt(t: number, seq = 0): string {
  return `${KEY_PREFIX}${String(Math.max(0, Math.floor(t))).padStart(15, '0')}!${String(seq).padStart(8, '0')}`;
}

const log = logger('audit');

export class AuditLog {
  private readonly table: Table<AuditRecord>;
  private readonly opts: AuditLogOptions;
  private seq = 0;
  private buffer: { key: string; record: AuditRecord }[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private pruning: Promise<number> | undefined;
  private counting: Promise<void> | undefined;
  private readonly listeners = new Set<(r: AuditRecord) => void>();
  private stored: number | undefined;
  private writtenWhileCounting = 0;
  private closed = false;
  private readonly counters = { written: 0, dropped: 0, pruned: 0 };

  constructor(
    store: Store,
    private readonly clock: Clock,
    opts: Partial<AuditLogOptions> = {},
  ) {
    this.table = store.table<AuditRecord>('audit');
    this.opts = { ...DEFAULT_AUDIT_OPTIONS, ...opts };
  }

  /** Called with every record as it is recorded (syslog, metrics). A listener that throws is logged, never the caller's problem. */
  subscribe(fn: (r: AuditRecord) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Queues a record; returns at once. Never throws. */
  record(input: AuditInput): void {
    const record: AuditRecord = { ...input, t: input.t ?? this.clock.now() };
    this.seq = (this.seq + 1) % 100_000_000;
    this.buffer.push({ key: keyAt(record.t, this.seq), record });
    this.capBuffer();
    for (const fn of this.listeners) {
      try {
        fn(record);
      } catch (e) {
        log.warn({ err: describeError(e) }, 'audit listener failed');
      }
    }
    if (this.closed) return;
    if (this.buffer.length >= this.opts.maxBatch) void this.flush();
    else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        void this.flush();
      }, this.opts.flushIntervalMs);
      this.flushTimer.unref();
    }
  }

  /** For admin actions: recorded and fsynced (with anything still waiting) before it resolves. */
  async recordDurable(input: AuditInput): Promise<void> {
    this.record(input);
    await this.flush(true);
  }

  /** Writes everything waiting now. Resolves when it is in the store; never rejects. */
  flush(durable = false): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.flushing) await this.flushing;
      if (this.buffer.length === 0) return;
      const batch = this.buffer;
      this.buffer = [];
      const ops: TableOp<AuditRecord>[] = batch.map((b) => ({ type: 'put', key: b.key, value: b.record }));
      try {
        if (durable) await this.table.batch(ops);
        else await this.table.batchFast(ops);
        this.counters.written += batch.length;
        if (this.stored !== undefined) this.stored += batch.length;
        else this.writtenWhileCounting += batch.length;
        this.pruneIfOver();
      } catch (e) {
        // Back at the front, to be retried with the next flush; the cap above bounds memory.
        this.buffer = batch.concat(this.buffer);
        this.capBuffer();
        log.warn({ err: describeError(e), waiting: this.buffer.length }, 'audit write failed; will retry');
        if (!this.closed && !this.flushTimer) {
          this.flushTimer = setTimeout(() => {
            this.flushTimer = undefined;
            void this.flush();
          }, this.opts.flushIntervalMs);
          this.flushTimer.unref();
        }
      }
    };
    const p = run().finally(() => {
      if (this.flushing === p) this.flushing = undefined;
    });
    this.flushing = p;
    return p;
  }

  private capBuffer(): void {
    if (this.buffer.length <= this.opts.maxBuffered) return;
    const over = this.buffer.length - this.opts.maxBuffered;
    this.buffer.splice(0, over);
    this.counters.dropped += over;
  }

  stats(): AuditStats {
    return { ...this.counters, buffered: this.buffer.length, stored: this.stored };
  }

  /** Records matching the filter, in key (time) order; waiting records are flushed first. */
  async *query(filter: AuditFilter, q: QueryOptions = {}): AsyncGenerator<AuditEntry> {
    await this.flush();
    const desc = q.order === 'desc';
    let gte = filter.since === undefined ? KEY_PREFIX : keyAt(filter.since);
    let lt = filter.until === undefined ? KEY_END : keyAt(filter.until);
    if (q.after !== undefined) {
      if (desc) lt = q.after < lt ? q.after : lt;
      else gte = q.after >= gte ? `${q.after}\0` : gte;
    }
    let n = 0;
    const limit = q.limit ?? Infinity;
    if (limit <= 0) return;
    for await (const [key, record] of this.table.entries({ gte, lt, reverse: desc })) {
      if (!matches(filter, record)) continue;
      yield { key, record };
      if (++n >= limit) return;
    }
  }

  /** Deletes records past their age, then the oldest beyond the count cap; returns how many. */
  sweep(): Promise<number> {
    return this.prune(true);
  }

  private pruneIfOver(): void {
    if (this.stored === undefined) return;
    const slack = Math.max(100, Math.floor(this.opts.maxRecords / 1000));
    if (this.stored > this.opts.maxRecords + slack) void this.prune(false);
  }

  private prune(byAge: boolean): Promise<number> {
    if (this.pruning) return byAge ? this.pruning.then(() => this.prune(true)) : this.pruning;
    const p = this.pruneOnce(byAge)
      .catch((e: unknown) => {
        log.warn({ err: describeError(e) }, 'audit pruning failed');
        return 0;
      })
      .finally(() => {
        this.pruning = undefined;
      });
    this.pruning = p;
    return p;
  }

  private async pruneOnce(byAge: boolean): Promise<number> {
    let deleted = 0;
    if (byAge) {
      const cutoff = keyAt(this.clock.now() - this.opts.maxAgeDays * 86_400_000);
      deleted += await this.deleteOldest(this.table.keys({ gte: KEY_PREFIX, lt: cutoff }), Infinity);
    }
    if (this.stored === undefined) await this.countStored();
    const excess = (this.stored ?? 0) - this.opts.maxRecords;
    if (excess > 0)
      deleted += await this.deleteOldest(this.table.keys({ gte: KEY_PREFIX, lt: KEY_END }), excess);
    if (deleted > 0) log.info({ deleted, kept: this.stored }, 'audit records pruned');
    return deleted;
  }

  private async deleteOldest(keys: AsyncIterable<string>, max: number): Promise<number> {
    let chunk: string[] = [];
    let n = 0;
    const del = async (): Promise<void> => {
      await this.table.batchFast(chunk.map((key) => ({ type: 'del', key })));
      n += chunk.length;
      this.counters.pruned += chunk.length;
      if (this.stored !== undefined) this.stored = Math.max(0, this.stored - chunk.length);
      chunk = [];
    };
    for await (const k of keys) {
      if (n + chunk.length >= max) break;
      chunk.push(k);
      if (chunk.length === DELETE_CHUNK) await del();
    }
    if (chunk.length > 0) await del();
    return n;
  }

  /** One scan of the keys (an iterator is a snapshot, so writes during it are added after). */
  private countStored(): Promise<void> {
    this.counting ??= (async () => {
      this.writtenWhileCounting = 0;
      let n = 0;
      for await (const _ of this.table.keys({ gte: KEY_PREFIX, lt: KEY_END })) n++;
      this.stored = n + this.writtenWhileCounting;
    })().finally(() => {
      this.counting = undefined;
    });
    return this.counting;
  }

  /** Counts the stored records, prunes, and sweeps by age every `sweepIntervalMs` until `stop()`. */
  start(): void {
    if (this.sweepTimer) return;
    const run = (): void => void this.sweep();
    this.sweepTimer = setInterval(run, this.opts.sweepIntervalMs);
    this.sweepTimer.unref();
    run();
  }

  /** Writes what is waiting (durably) and stops the timers; records after this are kept in memory only. */
  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.closed = true;
    await this.pruning;
    await this.flush(true);
  }
}
