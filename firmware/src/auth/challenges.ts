/**
 * Challenge records in the store's 'challenges' table. Three kinds of key share the table:
 *   c:<id>     the challenge (hashed passcode, expiry, attempts, …)
 *   s:<state>  a State handed to the NAS → its challenge; several States may share one challenge
 *              (a user who logs in again while the code is pending gets a new State, same code)
 *   u:<user>   the user's latest challenge, to find a pending one on re-login
 * Every write that a reply depends on is durable (fsync) before the reply leaves.
 *
 * Live records are also kept in memory (bounded, write-through): the passcode step then reads
 * nothing from LevelDB when the challenge was made or read by this process, and its State key
 * and record (getSync) when it was not. Durability still comes from the store alone: a record
 * enters the cache only as read from disk or once its write is on disk, and a failed write drops
 * it, so the cache is never ahead of the disk.
 */
import type { Clock } from '../clock.ts';
import type { MethodName } from '../config/auth-schema.ts';
import type { Store, StoreOp, Table } from '../store/store.ts';

export interface ChallengeRecord {
  /** Hex of the first State's bytes: stable across re-logins, and the outbox key. */
  id: string;
  /** Canonical account (the directory's username, lower-cased). */
  user: string;
  /** The account as normalised from the User-Name of step 1; step 2 must name the same. */
  login: string;
  /** Every State (hex) bound to this challenge. */
  stateIds: string[];
  /** HMAC-SHA256(device secret, salt || code), hex. */
  passcodeHash: string;
  salt: string;
  /** Wall ms. */
  expiresAt: number;
  attempts: number;
  maxAttempts: number;
  /** NAS client name. */
  nas: string;
  callingStationId?: string;
  createdAt: number;
  /** E.164 the code went to (for the audit, and to notice a changed number on re-login). */
  to: string;
  /** The user's groups at step 1 (from the live directory result), for the Accept's group attribute. */
  groups?: string[];
  used: boolean;
  usedAt?: number;
  /** Replaced by a newer challenge (the user's number changed, or its SMS failed). */
  superseded?: boolean;
  /** The method asked for; absent means an SMS passcode (records from before chains). */
  method?: MethodName;
  /** The chain this login follows and `method`'s place in it, for moving on. */
  chain?: MethodName[];
  step?: number;
  /** The usable numbers at step 1 (E.164), so step 2 can move on without the directory. */
  numbers?: { primary?: string; secondary?: string };
  /** The user's email address at step 1 (the email method's recipient, and for moving on to it). */
  email?: string;
}

interface StateRef {
  challengeId: string;
}

/** A State must be unguessable; 16 bytes is the floor, 32 leaves room. Longer input is junk. */
export const MIN_STATE_BYTES = 16;
export const MAX_STATE_BYTES = 64;
/** Bound a record's growth if a user restarts the login again and again. */
export const MAX_STATES_PER_CHALLENGE = 16;

const C = 'c:';
const S = 's:';
const U = 'u:';

/**
 * Records kept in memory. A live challenge lives minutes; this covers thousands of logins in
 * flight (~1 KB each), and past it the least recently used ones are read from disk again.
 */
export const MAX_CACHED_CHALLENGES = 8192;

export type ChallengeCondition = 'live' | 'used' | 'exhausted' | 'expired' | 'superseded';

/** Can never pass again, whatever the clock says. */
function finished(r: ChallengeRecord): boolean {
  return r.used || r.superseded === true || r.attempts >= r.maxAttempts;
}

/**
 * A used challenge as it is kept until the sweep: what a replay of one of its States is answered
 * from (the login, the NAS, where the code went) and what the sweep needs (States, expiry). The
 * passcode's hash and salt, the groups and the chain go: they can never be needed again, and a
 * spent hash is one less thing for a stolen disk to hold.
 */
export function spentRecord(r: ChallengeRecord, at: number): ChallengeRecord {
  return {
    id: r.id,
    user: r.user,
    login: r.login,
    stateIds: r.stateIds,
    passcodeHash: '',
    salt: '',
    expiresAt: r.expiresAt,
    attempts: r.attempts,
    maxAttempts: r.maxAttempts,
    nas: r.nas,
    ...(r.callingStationId === undefined ? {} : { callingStationId: r.callingStationId }),
    createdAt: r.createdAt,
    to: r.to,
    ...(r.email === undefined ? {} : { email: r.email }),
    used: true,
    usedAt: at,
  };
}

const EXPIRES_KEY = '"expiresAt":';

/**
 * A record's expiresAt read from its stored JSON without parsing it (a sweep passes over every
 * live challenge each minute). A `"expiresAt":` can only be that key: a quote inside a JSON string
 * value is escaped, so no user-supplied field can hold the sequence. Undefined when it is not a
 * plain non-negative integer there: the row is then parsed and judged as before.
 */
export function storedExpiry(raw: string): number | undefined {
  const i = raw.indexOf(EXPIRES_KEY);
  if (i < 0) return undefined;
  let n = 0;
  let j = i + EXPIRES_KEY.length;
  for (; j < raw.length; j++) {
    const c = raw.charCodeAt(j) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  const end = raw.charCodeAt(j);
  // At least one digit, then the end of the value (',' or '}'); '.', 'e' and the like are parsed.
  return j > i + EXPIRES_KEY.length && (end === 44 || end === 125) ? n : undefined;
}

export class ChallengeStore {
  private readonly records: Table<ChallengeRecord>;
  private readonly refs: Table<StateRef>;
  /**
   * In-process deadlines on the monotonic clock. A Pi has no battery clock and NTP may step wall
   * time by hours after boot; while the process lives, a challenge's life is measured
   * monotonically. After a restart only the persisted wall-time expiry is left.
   */
  private readonly monoDeadline = new Map<string, number>();
  /** id → record as it is on disk; Map order is recency (oldest first). */
  private readonly cache = new Map<string, ChallengeRecord>();
  /** State → id for every State of a cached record: a hint, checked against the record's stateIds. */
  private readonly stateIndex = new Map<string, string>();
  /** Ids written while warm() runs: its snapshot may hold an older version of them. */
  private writtenDuringWarm: Set<string> | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly maxCached = MAX_CACHED_CHALLENGES,
  ) {
    this.records = store.table<ChallengeRecord>('challenges');
    this.refs = store.table<StateRef>('challenges');
  }

  condition(r: ChallengeRecord): ChallengeCondition {
    if (r.used) return 'used';
    if (r.superseded) return 'superseded';
    if (r.attempts >= r.maxAttempts) return 'exhausted';
    return this.remainingMs(r) > 0 ? 'live' : 'expired';
  }

  remainingMs(r: ChallengeRecord): number {
    const mono = this.monoDeadline.get(r.id);
    return mono === undefined ? r.expiresAt - this.clock.now() : mono - this.clock.monotonic();
  }

  /** Ops that create a challenge (record, its State, the user index); commit with the outbox's. */
  createOps(r: ChallengeRecord): StoreOp[] {
    return [
      this.records.op({ type: 'put', key: C + r.id, value: r }),
      ...r.stateIds.map((s) => this.refs.op({ type: 'put', key: S + s, value: { challengeId: r.id } })),
      this.refs.op({ type: 'put', key: U + r.user, value: { challengeId: r.id } }),
    ];
  }

  /** Ops that retire a challenge for good; commit with its replacement's. */
  supersedeOps(r: ChallengeRecord): StoreOp[] {
    return [this.records.op({ type: 'put', key: C + r.id, value: { ...r, superseded: true } })];
  }

  /**
   * Creates `r` durably in one batch with `ops` (the outbox entry) and, when given, retires
   * `supersede`.
   */
  async create(r: ChallengeRecord, ops: StoreOp[], supersede?: ChallengeRecord): Promise<void> {
    const retired = supersede ? { ...supersede, superseded: true } : undefined;
    await this.written([r, ...(retired ? [retired] : [])], () =>
      this.store.atomic([...this.createOps(r), ...(supersede ? this.supersedeOps(supersede) : []), ...ops]),
    );
    this.monoDeadline.set(r.id, this.clock.monotonic() + (r.expiresAt - this.clock.now()));
  }

  /** Binds one more State to a live challenge, durably; drops the oldest past the cap. */
  async addState(r: ChallengeRecord, state: string): Promise<ChallengeRecord> {
    const stateIds = [...r.stateIds, state];
    const dropped = stateIds.length > MAX_STATES_PER_CHALLENGE ? stateIds.splice(0, 1) : [];
    const next = { ...r, stateIds };
    await this.written([next], () =>
      this.store.atomic([
        this.records.op({ type: 'put', key: C + r.id, value: next }),
        this.refs.op({ type: 'put', key: S + state, value: { challengeId: r.id } }),
        ...dropped.map((s) => this.refs.op({ type: 'del', key: S + s })),
      ]),
    );
    return next;
  }

  /**
   * Marks a challenge used, durably, with `ops` in the same batch. What stays on disk is the spent
   * form (spentRecord): the Accept's one write carries half the bytes, and LevelDB compacts them.
   */
  use(r: ChallengeRecord, at: number, ops: readonly StoreOp[] = []): Promise<void> {
    return this.save(spentRecord(r, at), ops);
  }

  /** Durable update of a record (attempts, superseded), with `ops` in the same batch. */
  async save(r: ChallengeRecord, ops: readonly StoreOp[] = []): Promise<void> {
    await this.written([r], () =>
      this.store.atomic([this.records.op({ type: 'put', key: C + r.id, value: r }), ...ops]),
    );
  }

  /**
   * The record, from memory or else from disk. Disk reads here are synchronous (getSync): a
   * small, recently written key, so microseconds from the memtable or page cache, against ~30 µs
   * of CPU and a threadpool hop (queued behind the group commit's fsync) for an async get. Being
   * synchronous, no write can land between the read and its caching: a write in flight either
   * fails (and drops the entry) or succeeds and replaces it.
   */
  get(id: string): Promise<ChallengeRecord | undefined> {
    return Promise.resolve(this.getNow(id));
  }

  private getNow(id: string): ChallengeRecord | undefined {
    const hit = this.cache.get(id);
    if (hit) {
      this.cache.delete(id);
      this.cache.set(id, hit);
      return hit;
    }
    const r = this.records.getSync(C + id);
    if (r && !finished(r)) this.remember(r);
    return r;
  }

  /** The id of the challenge a State belongs to, without reading the record when it is cached. */
  idForState(state: string): Promise<string | undefined> {
    return Promise.resolve(this.stateIndex.get(state) ?? this.refs.getSync(S + state)?.challengeId);
  }

  async byState(state: string): Promise<ChallengeRecord | undefined> {
    const id = await this.idForState(state);
    if (id === undefined) return undefined;
    const r = await this.get(id);
    // A State that the record no longer lists (evicted past the cap) is as good as unknown.
    return r?.stateIds.includes(state) ? r : undefined;
  }

  async latestForUser(user: string): Promise<ChallengeRecord | undefined> {
    const ref = await this.refs.get(U + user);
    return ref ? this.get(ref.challengeId) : undefined;
  }

  /**
   * Loads live challenges into the cache (after a restart, so the logins in flight don't each
   * read the disk). Returns how many.
   */
  async warm(): Promise<number> {
    let n = 0;
    const now = this.clock.now();
    const written = (this.writtenDuringWarm = new Set());
    try {
      for await (const [, r] of this.records.entries({ gte: C, lt: 'c;' })) {
        if (n >= this.maxCached) break;
        if (finished(r) || r.expiresAt <= now) continue;
        if (this.cache.has(r.id) || written.has(r.id)) continue;
        this.remember(r);
        n++;
      }
    } finally {
      this.writtenDuringWarm = undefined;
    }
    return n;
  }

  /**
   * Deletes challenges that expired more than `graceMs` ago (wall time), with their States and
   * user index. The grace keeps a just-expired State answering "expired" rather than "unknown".
   */
  async sweep(graceMs: number): Promise<number> {
    const cutoff = this.clock.now() - graceMs;
    const ops: StoreOp[] = [];
    const gone: string[] = [];
    // Most rows are live: their expiry is read off the stored JSON, and only the others parsed.
    const due = (raw: string): boolean => {
      const at = storedExpiry(raw);
      return at === undefined || at <= cutoff;
    };
    for await (const [key, r] of this.records.entriesWhere(due, { gte: C, lt: 'c;' })) {
      if (r.expiresAt > cutoff) continue;
      gone.push(r.id);
      ops.push(this.records.op({ type: 'del', key }));
      for (const s of r.stateIds) ops.push(this.refs.op({ type: 'del', key: S + s }));
      const latest = await this.refs.get(U + r.user);
      if (latest?.challengeId === r.id) ops.push(this.refs.op({ type: 'del', key: U + r.user }));
    }
    if (ops.length > 0) {
      for (const id of gone) this.forget(id);
      await this.store.atomic(ops);
      for (const id of gone) this.monoDeadline.delete(id);
    }
    return gone.length;
  }

  /**
   * Runs a durable write of `rs` and keeps the cache in step: the new records once the write is
   * on disk; none of them if it failed (what is on disk is then unknown; the next read asks it).
   */
  private async written(rs: ChallengeRecord[], write: () => Promise<void>): Promise<void> {
    for (const r of rs) this.writtenDuringWarm?.add(r.id);
    try {
      await write();
    } catch (e) {
      for (const r of rs) this.forget(r.id);
      throw e;
    }
    // A record that can never pass again (used, superseded, out of tries) leaves memory: the
    // rare replay of its State reads the disk, and the cache keeps room for live logins.
    for (const r of rs)
      if (finished(r)) this.forget(r.id);
      else this.remember(r);
  }

  private remember(r: ChallengeRecord): void {
    const old = this.cache.get(r.id);
    if (old) this.unindex(old);
    this.cache.delete(r.id);
    this.cache.set(r.id, r);
    for (const s of r.stateIds) this.stateIndex.set(s, r.id);
    while (this.cache.size > this.maxCached) {
      const oldest = this.cache.keys().next().value as string;
      this.forget(oldest);
    }
  }

  private forget(id: string): void {
    const r = this.cache.get(id);
    if (!r) return;
    this.cache.delete(id);
    this.unindex(r);
  }

  private unindex(r: ChallengeRecord): void {
    for (const s of r.stateIds) if (this.stateIndex.get(s) === r.id) this.stateIndex.delete(s);
  }
}
