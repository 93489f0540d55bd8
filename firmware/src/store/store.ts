import { Level } from 'level';
import type { AbstractSublevel } from 'abstract-level';
import { mkdir } from 'node:fs/promises';
import { ErrorCode, MfaError } from '../errors.ts';
import { logger } from '../log.ts';

const log = logger('store');

/** Every sublevel the firmware uses; one place so names never drift. */
export const SUBLEVELS = [
  'config',
  'users',
  'challenges',
  'outbox',
  'audit',
  'ip-history',
  'counters',
  'modem-state',
  'radius-state',
  'meta',
  // auth policy: lock state, OATH tokens (sealed), override codes (hashed)
  'lockout',
  'tokens',
  'override-codes',
] as const;
export type SublevelName = (typeof SUBLEVELS)[number];

type RootDb = Level<string, string>;
type Sub = AbstractSublevel<RootDb, string | Buffer | Uint8Array, string, string>;

export type TableOp<V> = { type: 'put'; key: string; value: V } | { type: 'del'; key: string };

export interface RangeOptions {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
  limit?: number;
  reverse?: boolean;
}

/** A typed, JSON-encoded sublevel. */
export interface Table<V> {
  readonly name: SublevelName;
  get(key: string): Promise<V | undefined>;
  /**
   * A read on the calling thread: no threadpool hop and no promise, for small keys on a hot
   * path. It blocks the event loop for the read itself, microseconds while the key is in the
   * memtable or the OS page cache; use `get` for anything that may be cold or large.
   */
  getSync(key: string): V | undefined;
  /** Durable: resolves only after the write reached disk (fsync), shared with concurrent writers. */
  put(key: string, value: V): Promise<void>;
  del(key: string): Promise<void>;
  /** Several writes to this table, atomically and durably. */
  batch(ops: TableOp<V>[]): Promise<void>;
  /** A fast write that may be lost on power cut: for counters, caches, history. */
  putFast(key: string, value: V): Promise<void>;
  /** Several fast writes in one atomic batch, without fsync (the audit's write-behind). */
  batchFast(ops: TableOp<V>[]): Promise<void>;
  entries(range?: RangeOptions): AsyncIterable<[string, V]>;
  /**
   * The entries whose stored JSON passes `keep`, parsed; the others are skipped unparsed. For a
   * periodic scan that acts on few of many rows (the challenge sweep): parsing every row of a
   * busy table costs ~10 µs each, blocking the event loop a batch of rows at a time.
   */
  entriesWhere(keep: (raw: string) => boolean, range?: RangeOptions): AsyncIterable<[string, V]>;
  /** Keys only: for sweeps and counts that need no values. */
  keys(range?: RangeOptions): AsyncIterable<string>;
  /** A put for `Store.atomic`, to write several tables in one durable batch. */
  op(op: TableOp<V>): StoreOp;
}

/** An operation already bound to its sublevel, ready for `Store.atomic`. */
export interface StoreOp {
  readonly sublevel: SublevelName;
  readonly type: 'put' | 'del';
  readonly key: string;
  readonly value?: string;
}

export interface Store {
  table<V>(name: SublevelName): Table<V>;
  /** Writes ops across tables atomically and durably. */
  atomic(ops: StoreOp[]): Promise<void>;
  /** Number of fsyncs issued so far (for tests and benchmarks of group commit). */
  readonly syncCount: number;
  /** True while the last write succeeded: feeds health ("store writable"). */
  readonly writable: boolean;
  /** LevelDB's own estimate of its RAM (memtables and block cache), in bytes. */
  readonly memoryBytes: number;
  close(): Promise<void>;
}

/**
 * Group commit. `level` does not fsync unless asked, and a power cut would lose a challenge
 * or an outbox entry that the NAS was already told about. Every durable write goes through
 * here: writes that arrive while an fsync is in progress share the next one.
 *
 * A group starts one event-loop turn after its first write (setImmediate), not at once: the
 * RADIUS requests read in the same turn (a burst of datagrams) then share its fsync instead of
 * the first one paying for an fsync alone. An fsync costs ~150–300 µs of CPU here (kernel time
 * in this process's stime), a passcode check ~100 µs, so the group size is the CPU per request.
 */
class DurableWriter {
  private pending: { ops: StoreOp[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;
  syncs = 0;
  ok = true;

  private readonly subs = new Map<SublevelName, Sub>();

  constructor(private readonly db: RootDb) {}

  sublevel(name: SublevelName): Sub {
    let s = this.subs.get(name);
    if (!s) {
      s = this.db.sublevel<string, string>(name, { valueEncoding: 'utf8', keyEncoding: 'utf8' });
      this.subs.set(name, s);
    }
    return s;
  }

  write(ops: StoreOp[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ ops, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const group = this.pending;
        this.pending = [];
        try {
          // Built inside the try: on a closing database `batch()` throws at once, and every
          // writer in the group must still hear about it rather than wait forever.
          const batch = this.db.batch();
          for (const w of group)
            for (const op of w.ops) {
              // The root batch with the sublevel's own prefix is the same record on disk as a
              // `{ sublevel }` op, at a third of the cost: abstract-level re-resolves the
              // sublevel's ancestry and encodings for every delegated op (10k users: 35 ms → 10 ms).
              const key = this.sublevel(op.sublevel).prefixKey(op.key, 'utf8');
              if (op.type === 'put') batch.put(key, op.value ?? '');
              else batch.del(key);
            }
          await batch.write({ sync: true });
          this.syncs++;
          this.ok = true;
          for (const w of group) w.resolve();
        } catch (e) {
          this.ok = false;
          const err = new MfaError('durable store write failed', ErrorCode.StoreWriteFailed, { cause: e });
          for (const w of group) w.reject(err);
        }
        // A turn for the writers just released (their replies leave) and for the requests read
        // meanwhile, which then join the next group.
        if (this.pending.length > 0) await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      this.flushing = false;
    }
  }
}

/** Rows per iterator read in a scan: few promises, and a short stretch of the event loop each. */
const SCAN_BATCH = 256;

class JsonTable<V> implements Table<V> {
  private readonly sub;

  constructor(
    readonly name: SublevelName,
    private readonly writer: DurableWriter,
  ) {
    this.sub = writer.sublevel(name);
  }

  async get(key: string): Promise<V | undefined> {
    return this.parse(key, await this.sub.get(key));
  }

  getSync(key: string): V | undefined {
    return this.parse(key, this.sub.getSync(key));
  }

  private parse(key: string, raw: string | undefined): V | undefined {
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw) as V;
    } catch (e) {
      throw new MfaError(`store entry ${this.name}/${key} is not valid JSON`, ErrorCode.StoreCorrupt, {
        cause: e,
      });
    }
  }

  op(op: TableOp<V>): StoreOp {
    return op.type === 'put'
      ? { sublevel: this.name, type: 'put', key: op.key, value: JSON.stringify(op.value) }
      : { sublevel: this.name, type: 'del', key: op.key };
  }

  put(key: string, value: V): Promise<void> {
    return this.writer.write([this.op({ type: 'put', key, value })]);
  }

  del(key: string): Promise<void> {
    return this.writer.write([this.op({ type: 'del', key })]);
  }

  batch(ops: TableOp<V>[]): Promise<void> {
    return this.writer.write(ops.map((o) => this.op(o)));
  }

  putFast(key: string, value: V): Promise<void> {
    return this.sub.put(key, JSON.stringify(value));
  }

  batchFast(ops: TableOp<V>[]): Promise<void> {
    return this.sub.batch(
      ops.map((o) =>
        o.type === 'put'
          ? { type: 'put' as const, key: o.key, value: JSON.stringify(o.value) }
          : { type: 'del' as const, key: o.key },
      ),
    );
  }

  async *keys(range: RangeOptions = {}): AsyncIterable<string> {
    for await (const k of this.sub.keys(range)) yield k;
  }

  entries(range: RangeOptions = {}): AsyncIterable<[string, V]> {
    return this.entriesWhere(() => true, range);
  }

  /** Skips (and logs) a row that is not valid JSON: one bad row must not stop a start-up scan. */
  async *entriesWhere(keep: (raw: string) => boolean, range: RangeOptions = {}): AsyncIterable<[string, V]> {
    // Rows in batches: a promise per row through abstract-level's iterator was half of a scan's CPU.
    const it = this.sub.iterator(range);
    try {
      for (let rows = await it.nextv(SCAN_BATCH); rows.length > 0; rows = await it.nextv(SCAN_BATCH)) {
        for (const [k, raw] of rows) {
          if (!keep(raw)) continue;
          let value: V;
          try {
            value = JSON.parse(raw) as V;
          } catch {
            log.error(
              { table: this.name, key: k, code: ErrorCode[ErrorCode.StoreCorrupt] },
              'skipped a corrupt store row',
            );
            continue;
          }
          yield [k, value];
        }
      }
    } finally {
      await it.close();
    }
  }
}

// LevelDB's defaults (an 8 MB block cache, a 4 MB memtable, two while one flushes) are sized for a
// server, and fill slowly: under a steady login load the box's RSS climbed about 0.5 MB a minute
// for half an hour. The box's hot rows (challenges, counters, lockout) were written minutes ago and
// sit in the memtable; older table blocks are read through mmap from the page cache, so a larger
// cache buys little here. 1 MB each keeps the store's share of RAM small and reached in minutes.
const BLOCK_CACHE_BYTES = 1 << 20;
const WRITE_BUFFER_BYTES = 1 << 20;

export async function openStore(dir: string): Promise<Store> {
  try {
    await mkdir(dir, { recursive: true });
    const db: RootDb = new Level<string, string>(dir, {
      valueEncoding: 'utf8',
      keyEncoding: 'utf8',
      cacheSize: BLOCK_CACHE_BYTES,
      writeBufferSize: WRITE_BUFFER_BYTES,
    });
    await db.open();
    const writer = new DurableWriter(db);
    // Sublevels open asynchronously once created; getSync() needs them open already.
    await Promise.all(SUBLEVELS.map((name) => writer.sublevel(name).open()));
    const tables = new Map<SublevelName, JsonTable<unknown>>();
    return {
      table<V>(name: SublevelName): Table<V> {
        let t = tables.get(name);
        if (!t) {
          t = new JsonTable<unknown>(name, writer);
          tables.set(name, t);
        }
        return t as Table<V>;
      },
      atomic: (ops) => writer.write(ops),
      get syncCount() {
        return writer.syncs;
      },
      get writable() {
        return writer.ok && db.status === 'open';
      },
      get memoryBytes() {
        // `level` is classic-level on Node; its type does not re-export classic-level's getProperty.
        const props = db as unknown as { getProperty?: (name: string) => string };
        if (db.status !== 'open' || !props.getProperty) return 0;
        return Number(props.getProperty.call(db, 'leveldb.approximate-memory-usage'));
      },
      close: () => db.close(),
    };
  } catch (e) {
    if (e instanceof MfaError) throw e;
    throw new MfaError(`cannot open the store at ${dir}`, ErrorCode.StoreOpenFailed, { cause: e });
  }
}
