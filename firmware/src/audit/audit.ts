/**
 * The audit log: every authentication decision and every unusual SMS event, in the store
 * (table 'audit', keyed by time so it reads in order). Records hold no secret: no password,
 * passcode, shared secret or SMS text; phone numbers are masked.
 *
 * Logins from the internet reach it through the NetScaler page, so it must not grow without
 * bound on an SD card: a sweep drops records past their age and beyond a count cap.
 */
import type { Clock } from '../clock.ts';
import { describeError } from '../errors.ts';
import { logger } from '../log.ts';
import type { Store, Table } from '../store/store.ts';

export interface AuditRecord {
  /** ISO time. */
  t: string;
  kind: string;
  user?: string;
  client?: string;
  outcome?: string;
  reason?: string;
  /** Free-form, secret-free details. */
  detail?: Record<string, string | number | boolean>;
}

export interface AuditRetention {
  /** [1...3650] days, default 90. */
  maxAgeDays: number;
  /** [1000...10,000,000] records, default 1,000,000 (about 300 MB at worst). */
  maxRecords: number;
  /** [1 min...1 day] ms, default 1 hour. */
  sweepIntervalMs: number;
}

export const DEFAULT_AUDIT_RETENTION: AuditRetention = {
  maxAgeDays: 90,
  maxRecords: 1_000_000,
  sweepIntervalMs: 3_600_000,
};

const log = logger('audit');
const DELETE_CHUNK = 1000;

export class AuditLog {
  private readonly table: Table<AuditRecord>;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(
    store: Store,
    private readonly clock: Clock,
    private readonly retention: AuditRetention = DEFAULT_AUDIT_RETENTION,
  ) {
    this.table = store.table<AuditRecord>('audit');
  }

  private key(now: number): string {
    this.seq = (this.seq + 1) % 1_000_000;
    return `${new Date(now).toISOString()}-${String(this.seq).padStart(6, '0')}`;
  }

  /** Durable: for events an admin must be able to reconstruct after a power cut. */
  async record(r: Omit<AuditRecord, 't'>): Promise<void> {
    const now = this.clock.now();
    await this.table.put(this.key(now), { t: new Date(now).toISOString(), ...r });
  }

  /** Newest first. */
  async recent(limit = 100): Promise<AuditRecord[]> {
    const out: AuditRecord[] = [];
    for await (const [, v] of this.table.entries({ reverse: true, limit })) out.push(v);
    return out;
  }

  /** Deletes records older than the age limit, then the oldest beyond the count cap; returns how many. */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<number> {
    const cutoff = new Date(this.clock.now() - this.retention.maxAgeDays * 86_400_000).toISOString();
    let deleted = await this.deleteKeys(this.table.keys({ lt: cutoff }), Infinity);
    let count = 0;
    for await (const _ of this.table.keys()) count++;
    if (count > this.retention.maxRecords)
      deleted += await this.deleteKeys(this.table.keys(), count - this.retention.maxRecords);
    if (deleted > 0) log.info({ deleted, kept: Math.min(count, this.retention.maxRecords) }, 'audit sweep');
    return deleted;
  }

  private async deleteKeys(keys: AsyncIterable<string>, max: number): Promise<number> {
    let chunk: string[] = [];
    let n = 0;
    for await (const k of keys) {
      if (n + chunk.length >= max) break;
      chunk.push(k);
      if (chunk.length === DELETE_CHUNK) {
        await this.table.batch(chunk.map((key) => ({ type: 'del', key })));
        n += chunk.length;
        chunk = [];
      }
    }
    if (chunk.length > 0) await this.table.batch(chunk.map((key) => ({ type: 'del', key })));
    return n + chunk.length;
  }

  /** Sweeps now and then every `sweepIntervalMs` until `stop()`. */
  start(): void {
    if (this.timer) return;
    const run = (): void => {
      this.sweep().catch((e: unknown) => log.warn({ err: describeError(e) }, 'audit sweep failed'));
    };
    this.timer = setInterval(run, this.retention.sweepIntervalMs);
    this.timer.unref();
    run();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping?.catch(() => undefined);
  }
}
