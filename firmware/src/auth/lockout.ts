/**
 * Lockout after wrong second-factor codes (SMS passcode, token code, override code), escalating,
 * durable. The rules (defaults; `lockout` in the config):
 *
 *   - 5 wrong codes within 15 min lock the user for 5 min;
 *   - 10 wrong codes lock for 30 min, 15 until an admin unlocks;
 *   - the count runs from the last good login or admin unlock. Waiting out a lock does not reset
 *     it; only a long quiet spell does (24 h without a wrong code and no lock in force).
 *
 * Steps after the first count every wrong code since the last reset, not only recent ones, so a
 * slow guesser (4 per window, forever) still reaches the 30-minute and the admin lock.
 *
 * `decideFailure` and `lockState` are pure; `Lockout` keeps one row per user in the store's
 * 'lockout' table, written durably: a lock must survive a power cut as well as a restart.
 */
import type { Clock } from '../clock.ts';
import type { LockoutConfig } from '../config/auth-schema.ts';
import type { Store, Table } from '../store/store.ts';
import { KeyedSerialQueue } from '../queue.ts';

export interface LockRecord {
  /** Wrong codes since the last good login, unlock or forget. */
  count: number;
  /** Wall ms of the wrong codes inside the first step's window (newest last). */
  recent: number[];
  /** Steps already applied (0 = never locked since the last reset). */
  level: number;
  /** Wall ms the current lock ends; absent when not locked; `null` = until an admin unlocks. */
  lockedUntil?: number | null;
  lockedAt?: number;
  lastFailureAt: number;
}

export type LockState =
  | { locked: false; count: number }
  /** `until` undefined: locked until an admin unlocks. */
  | { locked: true; count: number; level: number; until: number | undefined; since: number | undefined };

export function lockState(rec: LockRecord | undefined, now: number, cfg: LockoutConfig): LockState {
  const r = live(rec, now, cfg);
  if (!r) return { locked: false, count: 0 };
  if (r.lockedUntil === null)
    return { locked: true, count: r.count, level: r.level, until: undefined, since: r.lockedAt };
  if (r.lockedUntil !== undefined && now < r.lockedUntil)
    return { locked: true, count: r.count, level: r.level, until: r.lockedUntil, since: r.lockedAt };
  return { locked: false, count: r.count };
}

/** The record as it stands now: undefined once forgotten (a quiet spell with no lock in force). */
function live(rec: LockRecord | undefined, now: number, cfg: LockoutConfig): LockRecord | undefined {
  if (!rec) return undefined;
  const forgetMs = cfg.forgetAfterHours * 3_600_000;
  const lockInForce = rec.lockedUntil === null || (rec.lockedUntil !== undefined && now < rec.lockedUntil);
  if (forgetMs > 0 && !lockInForce) {
    // Measured from the last wrong code or the end of the last lock, whichever is later.
    const quietSince = Math.max(rec.lastFailureAt, rec.lockedUntil ?? 0);
    if (now - quietSince >= forgetMs) return undefined;
  }
  return rec;
}

/** One more wrong code at `now`: the new record, and the step it triggered (if any). */
export function decideFailure(
  rec: LockRecord | undefined,
  now: number,
  cfg: LockoutConfig,
): { record: LockRecord; locked?: { step: number; until: number | undefined } } {
  const r = live(rec, now, cfg);
  const windowMs = cfg.windowMinutes * 60_000;
  const first = cfg.steps[0];
  const recent = [...(r?.recent ?? []).filter((t) => now - t < windowMs), now].slice(-(first?.failures ?? 1));
  const count = (r?.count ?? 0) + 1;
  let level = r?.level ?? 0;
  const next: LockRecord = {
    count,
    recent,
    level,
    lastFailureAt: now,
    ...(r?.lockedUntil === undefined ? {} : { lockedUntil: r.lockedUntil }),
    ...(r?.lockedAt === undefined ? {} : { lockedAt: r.lockedAt }),
  };
  // The highest step this failure reaches that was not applied yet.
  let fire: number | undefined;
  cfg.steps.forEach((s, i) => {
    if (i < level) return;
    const reached = i === 0 ? recent.length >= s.failures : count >= s.failures;
    if (reached) fire = i;
  });
  if (fire === undefined) return { record: next };
  const step = cfg.steps[fire];
  if (!step) return { record: next };
  level = fire + 1;
  const until = step.minutes === 0 ? undefined : now + step.minutes * 60_000;
  return {
    record: { ...next, level, lockedUntil: until ?? null, lockedAt: now, recent: [] },
    locked: { step: fire, until },
  };
}

/**
 * What `check` read for a user, so that `success` right after it need not read the row again
 * (the passcode step's hot path: one read per check, and no queue when there is nothing to reset).
 */
export interface LockRead {
  readonly user: string;
  /** A row was there. */
  readonly row: boolean;
  /** The table's write count when it was read. */
  readonly writes: number;
}

/**
 * Per lockout table (per store), shared by every Lockout on it.
 *  - n: writes started; a read is stale once this moved. Counted when a write is queued, not when
 *    it lands, so a queued failure makes a later success read the row again.
 *  - rows: every user that may have a row, once `load` has read the table's keys; undefined
 *    before that, or past MAX_ROWS. Nearly every passcode check is for a user with no row, and
 *    nearly every user logs in once a day, so a cache of reads would rarely hit; a user missing
 *    here is answered without reading LevelDB. A read of an absent key costs microseconds on the
 *    event loop, and each one that looks into more than one table file is charged to LevelDB's
 *    seek budget: a burst of logins set off compactions with the reads alone (measured: 1,700
 *    absent reads compacted a 1 MB table).
 *  - building: the set `load` fills; writes started meanwhile go in it too.
 *  - inFlight: users with a put queued and not yet settled (a count each). `load` starts from them:
 *    its scan reads a snapshot, which a put queued before it and not yet on disk is not in.
 * It errs one way only: a user is added before their row is written, and dropped only after a
 * delete that no other write overlapped. A stale entry costs one read; a missing one would skip a
 * lock, so there are none.
 */
interface TableState {
  n: number;
  rows: Set<string> | undefined;
  building: Set<string> | undefined;
  inFlight: Map<string, number>;
}
const tableStates = new WeakMap<Table<LockRecord>, TableState>();

/**
 * Users with a row kept in memory at most (~60 bytes each). Rows are only written for users
 * who reached step 2 and typed a wrong code; past this many, reads go to LevelDB again.
 */
export const MAX_ROWS = 50_000;

export class Lockout {
  private readonly table: Table<LockRecord>;
  private readonly writes: TableState;
  private readonly serial = new KeyedSerialQueue();
  /**
   * The monotonic end of each timed lock this process has seen. A Pi has no battery clock and
   * NTP steps the wall clock at boot: an hour's step forward must not lift a 5-minute lock, nor
   * one back stretch it. The remaining time is read from the wall clock once (at the lock, or at
   * the first look after a restart) and then runs on monotonic time, as the outbox's expiries do.
   */
  private readonly monoEnds = new Map<string, { wallUntil: number; monoEnd: number }>();

  constructor(
    store: Store,
    private readonly clock: Clock,
    private readonly config: () => LockoutConfig,
  ) {
    this.table = store.table<LockRecord>('lockout');
    let w = tableStates.get(this.table);
    if (!w) {
      w = { n: 0, rows: undefined, building: undefined, inFlight: new Map() };
      tableStates.set(this.table, w);
    }
    this.writes = w;
  }

  /** Runs a write of the user's row, counted as started (n). */
  private writing<T>(job: () => Promise<T>): Promise<T> {
    this.writes.n++;
    return job();
  }

  /**
   * Writes the user's row; they are in `rows` before it can be on disk. Counted in n as it is
   * queued, so a delete queued earlier (which this put then overrides on disk) keeps them in.
   */
  private async putRow(user: string, rec: LockRecord): Promise<void> {
    const w = this.writes;
    w.n++;
    w.building?.add(user);
    if (w.rows) {
      w.rows.add(user);
      if (w.rows.size > MAX_ROWS) w.rows = undefined;
    }
    w.inFlight.set(user, (w.inFlight.get(user) ?? 0) + 1);
    try {
      await this.table.put(user, rec);
    } finally {
      const left = (w.inFlight.get(user) ?? 1) - 1;
      if (left > 0) w.inFlight.set(user, left);
      else w.inFlight.delete(user);
    }
  }

  /** Deletes the user's row; they leave `rows` only if no other write started meanwhile. */
  private async deleteRow(user: string): Promise<void> {
    const w = this.writes;
    const n = ++w.n;
    await this.table.del(user);
    if (w.n === n) w.rows?.delete(user);
  }

  /**
   * Reads which users have a row, so a check for anyone else reads nothing (TableState). Once per
   * table; until it is done, and if it fails, every check reads LevelDB as before.
   */
  async load(): Promise<void> {
    const w = this.writes;
    if (w.rows || w.building) return;
    const building = (w.building = new Set(w.inFlight.keys()));
    try {
      for await (const user of this.table.keys()) {
        building.add(user);
        if (building.size > MAX_ROWS) return;
      }
      if (building.size <= MAX_ROWS) w.rows = building;
    } finally {
      w.building = undefined;
    }
  }

  /** The user's row, unless they are known to have none (TableState). */
  private read(user: string): LockRecord | undefined {
    const w = this.writes;
    const rows = w.rows;
    if (rows && !rows.has(user)) return undefined;
    const rec = this.table.getSync(user);
    // A stale entry (its delete overlapped another write) heals here: the disk says no row, and
    // no put of theirs is queued, so none can land after this read.
    if (rec === undefined && rows && !w.inFlight.has(user)) rows.delete(user);
    return rec;
  }

  /**
   * Read on every passcode check, and almost always absent: answered from `rows` once loaded, else
   * by a synchronous read (memtable, bloom filter, page cache: microseconds, where an async get
   * is a threadpool hop queued behind the group commit's fsync).
   */
  async state(user: string): Promise<LockState> {
    return (await this.check(user)).state;
  }

  /** The state, and what was read for `success` (undefined while lockout is off). */
  // eslint-disable-next-line @typescript-eslint/require-await -- async so a corrupt row rejects, not throws
  async check(user: string): Promise<{ state: LockState; read: LockRead | undefined }> {
    const cfg = this.config();
    if (!cfg.enabled) return { state: { locked: false, count: 0 }, read: undefined };
    const writes = this.writes.n;
    const rec = this.read(user);
    return {
      state: lockState(rec, this.now(user, rec), cfg),
      read: { user, row: rec !== undefined, writes },
    };
  }

  /** Wall time as seen by a timed lock: its end minus the monotonic time it still has to run. */
  private now(user: string, rec: LockRecord | undefined): number {
    const wall = this.clock.now();
    const until = rec?.lockedUntil;
    if (typeof until !== 'number') {
      this.monoEnds.delete(user);
      return wall;
    }
    const mono = this.clock.monotonic();
    let e = this.monoEnds.get(user);
    if (!e || e.wallUntil !== until) {
      e = { wallUntil: until, monoEnd: mono + (until - wall) };
      this.monoEnds.set(user, e);
    }
    return until - (e.monoEnd - mono);
  }

  /** Counts a wrong code; says whether it locked the user now. */
  failure(user: string): Promise<{ state: LockState; lockedNow: boolean }> {
    return this.writing(() =>
      this.serial.run(user, async () => {
        const cfg = this.config();
        if (!cfg.enabled) return { state: { locked: false, count: 0 }, lockedNow: false };
        const now = this.clock.now();
        const d = decideFailure(await this.table.get(user), now, cfg);
        await this.putRow(user, d.record);
        return {
          state: lockState(d.record, this.now(user, d.record), cfg),
          lockedNow: d.locked !== undefined,
        };
      }),
    );
  }

  /**
   * A completed login resets the count. Cheap when there is nothing to reset (no write); free
   * when `read` (from `check`) saw no row and no write was queued since: nothing is read again.
   */
  success(user: string, read?: LockRead): Promise<void> {
    if (read?.user === user && !read.row && read.writes === this.writes.n && !this.serial.busy(user)) {
      this.monoEnds.delete(user);
      return Promise.resolve();
    }
    return this.serial.run(user, async () => {
      this.monoEnds.delete(user);
      if (this.read(user) !== undefined) await this.deleteRow(user);
    });
  }

  /** Admin unlock: clears the lock and the count. Returns the state it cleared. */
  unlock(user: string): Promise<LockState> {
    return this.writing(() =>
      this.serial.run(user, async () => {
        const rec = await this.table.get(user);
        const before = lockState(rec, this.now(user, rec), this.config());
        this.monoEnds.delete(user);
        await this.deleteRow(user);
        return before;
      }),
    );
  }
}
