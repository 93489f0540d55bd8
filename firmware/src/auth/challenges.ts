/**
 * Challenge records in the store's 'challenges' table. Three kinds of key share the table:
 *   c:<id>     the challenge (hashed passcode, expiry, attempts, …)
 *   s:<state>  a State handed to the NAS → its challenge; several States may share one challenge
 *              (a user who logs in again while the code is pending gets a new State, same code)
 *   u:<user>   the user's latest challenge, to find a pending one on re-login
 * Every write that a reply depends on is durable (fsync) before the reply leaves.
 */
import type { Clock } from '../clock.ts';
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

export type ChallengeCondition = 'live' | 'used' | 'exhausted' | 'expired' | 'superseded';

export class ChallengeStore {
  private readonly records: Table<ChallengeRecord>;
  private readonly refs: Table<StateRef>;
  /**
   * In-process deadlines on the monotonic clock. A Pi has no battery clock and NTP may step wall
   * time by hours after boot; while the process lives, a challenge's life is measured
   * monotonically. After a restart only the persisted wall-time expiry is left.
   */
  private readonly monoDeadline = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
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
    this.monoDeadline.set(r.id, this.clock.monotonic() + (r.expiresAt - this.clock.now()));
    return [
      this.records.op({ type: 'put', key: C + r.id, value: r }),
      ...r.stateIds.map((s) => this.refs.op({ type: 'put', key: S + s, value: { challengeId: r.id } })),
      this.refs.op({ type: 'put', key: U + r.user, value: { challengeId: r.id } }),
    ];
  }

  /** Binds one more State to a live challenge, durably; drops the oldest past the cap. */
  async addState(r: ChallengeRecord, state: string): Promise<ChallengeRecord> {
    const stateIds = [...r.stateIds, state];
    const dropped = stateIds.length > MAX_STATES_PER_CHALLENGE ? stateIds.splice(0, 1) : [];
    const next = { ...r, stateIds };
    await this.store.atomic([
      this.records.op({ type: 'put', key: C + r.id, value: next }),
      this.refs.op({ type: 'put', key: S + state, value: { challengeId: r.id } }),
      ...dropped.map((s) => this.refs.op({ type: 'del', key: S + s })),
    ]);
    return next;
  }

  /** Ops that retire a challenge for good; commit with its replacement's. */
  supersedeOps(r: ChallengeRecord): StoreOp[] {
    return [this.records.op({ type: 'put', key: C + r.id, value: { ...r, superseded: true } })];
  }

  /** Durable update of a record (attempts, used, superseded). */
  async save(r: ChallengeRecord): Promise<void> {
    await this.records.put(C + r.id, r);
  }

  async get(id: string): Promise<ChallengeRecord | undefined> {
    return this.records.get(C + id);
  }

  async byState(state: string): Promise<ChallengeRecord | undefined> {
    const ref = await this.refs.get(S + state);
    if (!ref) return undefined;
    const r = await this.get(ref.challengeId);
    // A State that the record no longer lists (evicted past the cap) is as good as unknown.
    return r?.stateIds.includes(state) ? r : undefined;
  }

  async latestForUser(user: string): Promise<ChallengeRecord | undefined> {
    const ref = await this.refs.get(U + user);
    return ref ? this.get(ref.challengeId) : undefined;
  }

  /**
   * Deletes challenges that expired more than `graceMs` ago (wall time), with their States and
   * user index. The grace keeps a just-expired State answering "expired" rather than "unknown".
   */
  async sweep(graceMs: number): Promise<number> {
    const cutoff = this.clock.now() - graceMs;
    const ops: StoreOp[] = [];
    let removed = 0;
    for await (const [key, r] of this.records.entries({ gte: C, lt: 'c;' })) {
      if (r.expiresAt > cutoff) continue;
      removed++;
      ops.push(this.records.op({ type: 'del', key }));
      for (const s of r.stateIds) ops.push(this.refs.op({ type: 'del', key: S + s }));
      const latest = await this.refs.get(U + r.user);
      if (latest?.challengeId === r.id) ops.push(this.refs.op({ type: 'del', key: U + r.user }));
      this.monoDeadline.delete(r.id);
    }
    if (ops.length > 0) await this.store.atomic(ops);
    return removed;
  }
}
