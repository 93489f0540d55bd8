/** Test doubles for the auth engine: a settable clock, seeded randomness, an in-memory-ready outbox. */
import { createHash } from 'node:crypto';
import type { Clock, Random } from '../../../firmware/src/clock.ts';
import type {
  Outbox,
  OutboxEntryInput,
  OutboxStats,
  OutboxStatus,
  PreparedEntry,
} from '../../../firmware/src/dispatch/types.ts';
import type { Store } from '../../../firmware/src/store/store.ts';
import { preparedWith } from '../../helpers/outbox.ts';

export class FakeClock implements Clock {
  constructor(
    public wall = Date.UTC(2026, 0, 1),
    public mono = 1_000,
  ) {}
  now(): number {
    return this.wall;
  }
  monotonic(): number {
    return this.mono;
  }
  advance(ms: number): void {
    this.wall += ms;
    this.mono += ms;
  }
}

/** Deterministic but well-spread bytes (a hash chain), so States and ids never collide. */
export class SeededRandom implements Random {
  private n = 0;
  /** Bytes handed out, in order, before falling back to the hash chain (to script a passcode). */
  readonly scripted: Buffer[] = [];
  constructor(private readonly seed = 'seed') {}
  bytes(n: number): Buffer {
    const next = this.scripted.shift();
    if (next) return next;
    const out = Buffer.alloc(n);
    let filled = 0;
    while (filled < n) {
      filled += createHash('sha256').update(`${this.seed}:${this.n++}`).digest().copy(out, filled);
    }
    return out;
  }
  int(max: number): number {
    return this.bytes(6).readUIntBE(0, 6) % max;
  }
}

/** Six bytes whose 48-bit value is `code` (below the rejection limit), to script generatePasscode. */
export function codeBytes(code: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(code, 0, 6);
  return b;
}

export interface StoredEntry extends OutboxEntryInput {
  status: OutboxStatus;
}

/** Writes entries into the real store's 'outbox' table through prepare(), like the real one. */
export class FakeOutbox implements Outbox {
  isReady = true;
  waitMs = 0;
  /** Prepared entries whose batch the engine reported committed, and abandoned. */
  commits = 0;
  abandons = 0;
  statuses = new Map<string, OutboxStatus>();
  constructor(public store: Store) {}
  prepare(entry: OutboxEntryInput): PreparedEntry {
    const value: StoredEntry = { ...entry, status: 'queued' };
    return preparedWith(
      [this.store.table<StoredEntry>('outbox').op({ type: 'put', key: entry.challengeId, value })],
      {
        committed: () => this.commits++,
        abandoned: () => this.abandons++,
      },
    );
  }
  async enqueue(entry: OutboxEntryInput): Promise<void> {
    const p = this.prepare(entry);
    await this.store.atomic(p.ops);
    p.committed();
  }
  ready(): boolean {
    return this.isReady;
  }
  expectedWaitMs(): number {
    return this.waitMs;
  }
  status(challengeId: string): Promise<OutboxStatus | undefined> {
    return Promise.resolve(this.statuses.get(challengeId) ?? 'queued');
  }
  stats(): OutboxStats {
    return { queued: 0, inFlight: 0, sent: 0, failed: 0, expired: 0, oldestQueuedAgeMs: null };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  async entries(): Promise<StoredEntry[]> {
    const out: StoredEntry[] = [];
    for await (const [, v] of this.store.table<StoredEntry>('outbox').entries()) out.push(v);
    return out;
  }
}
