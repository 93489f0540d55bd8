/**
 * The audit log: every authentication decision and every unusual SMS event, in the store
 * (table 'audit', keyed by time so it reads in order). Records hold no secret: no password,
 * passcode, shared secret or SMS text; phone numbers are masked.
 */
import type { Clock } from '../clock.ts';
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

export class AuditLog {
  private readonly table: Table<AuditRecord>;
  private seq = 0;

  constructor(
    store: Store,
    private readonly clock: Clock,
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
}
