/**
 * Group sync: the members of the MFA group, with their numbers in E.164, into the 'users' table.
 *
 * Safety rules, because a wrong base DN or a flaky DC must never lock the whole company out:
 * - removals follow only a complete answer: a failure mid-way removes no one (members already read
 *   are stored or updated, which is true data);
 * - an empty answer never removes anyone, even with confirmation;
 * - removing more than maxRemovalPercent of the users waits for a confirmed run (adds and updates
 *   still apply);
 * - fields not owned by the directory (overrides, OATH tokens, others' fields) are kept;
 * - a member still in the group is never removed: one who is disabled or has no usable directory
 *   number keeps the record (directory numbers cleared, the reason set) and is reported; one with
 *   only a number entered on the box keeps using it. Only users who left the group are removed.
 */
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { ErrorCode, MfaError, describeError } from '../errors.ts';
import { logger, type Logger } from '../log.ts';
import { normaliseNumber, type PhoneResult } from '../phone.ts';
import type { Store, StoreOp, Table } from '../store/store.ts';
import type { Directory, DirectoryUser } from './directory.ts';
import { USERS_TABLE, userKey, type UserRecord } from './users.ts';

export type SkipReason = 'no-number' | 'invalid-number' | 'disabled' | 'duplicate';

export interface SyncNote {
  username: string;
  reason: SkipReason;
  detail?: string;
}

export interface SyncStatus {
  /** never run | running | ok | needs-confirmation (removals held back) | failed (no one removed). */
  state: 'never' | 'running' | 'ok' | 'needs-confirmation' | 'failed';
  group: string;
  /** Wall ms. */
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  /** Members the directory returned. */
  seen: number;
  added: number;
  updated: number;
  removed: number;
  unchanged: number;
  /**
   * Members without a usable directory number, or disabled, with the reason each (the first
   * MAX_NOTES; skippedCount has them all). A new one is not stored; one already on the box keeps
   * the record without directory numbers (the detail says "record kept").
   */
  skipped: SyncNote[];
  skippedCount: number;
  /**
   * Stored, but something was wrong (e.g. an invalid primary number, secondary used instead; no
   * directory number, the one entered on the box used).
   */
  warnings: SyncNote[];
  warningCount: number;
  /** Set when state is needs-confirmation: what a confirmed run would remove. */
  pendingRemovals?: { count: number; percent: number; limitPercent: number; sample: string[] };
  /** Set when state is failed. */
  error?: string;
  confirmed: boolean;
}

export const SYNC_STATUS_KEY = 'directory-sync-status';

export type Normaliser = (raw: string, defaultCountry: string) => PhoneResult;

export interface PlanOptions {
  defaultCountry: string;
  /** Number normalisation (default: normaliseNumber, valid numbers only); DirectorySync passes a memoised one. */
  normalise?: Normaliser;
  maxRemovalPercent: number;
  confirm: boolean;
  now: number;
  /**
   * Keep every record to write in `plan.puts` (default). The incremental sync writes each chunk
   * as it goes and turns this off, so 10,000 records are not held (and copied by the GC) to the end.
   */
  collectPuts?: boolean;
}

export interface SyncPlan {
  /** Records to write; left empty when the planner was told not to collect them. */
  puts: UserRecord[];
  removals: string[];
  /** Removals held back by the guard. */
  held: string[];
  added: number;
  updated: number;
  unchanged: number;
  skipped: SyncNote[];
  warnings: SyncNote[];
  removalPercent: number;
  /** The plan refuses to run at all (empty answer). */
  refusal?: string;
}

interface Numbers {
  mobile?: string;
  secondaryMobile?: string;
  invalid: string[];
}

/** The first number of `list` that normalises, noting the ones that do not in `invalid`. */
function firstValid(
  list: readonly string[],
  country: string,
  normalise: Normaliser,
  invalid: string[],
): string | undefined {
  for (const raw of list) {
    const r = normalise(raw, country);
    if (r.ok) return r.e164;
    invalid.push(`${raw} (${r.reason})`);
  }
  return undefined;
}

function pickNumbers(u: DirectoryUser, country: string, normalise: Normaliser): Numbers {
  const secondaryRaw = u.secondaryMobiles ?? u.mobiles.slice(1);
  const primaryRaw =
    u.secondaryMobiles === undefined
      ? u.mobiles.slice(0, 1)
      : secondaryRaw.length === 0
        ? u.mobiles
        : u.mobiles.filter((m) => !secondaryRaw.includes(m));
  const invalid: string[] = [];
  const primary = firstValid(primaryRaw, country, normalise, invalid);
  const secondary =
    secondaryRaw.length === 0 ? undefined : firstValid(secondaryRaw, country, normalise, invalid);
  const out: Numbers = { invalid };
  if (primary !== undefined) out.mobile = primary;
  if (secondary !== undefined && secondary !== primary) {
    if (out.mobile === undefined) out.mobile = secondary;
    else out.secondaryMobile = secondary;
  }
  return out;
}

type DirectoryFields = Omit<UserRecord, 'syncedAt' | 'source'>;

/** Optional fields the directory owns: absent from a fresh directory part means gone from the record. */
const OPTIONAL_DIRECTORY_FIELDS = [
  'displayName',
  'mobile',
  'secondaryMobile',
  'email',
  'numberProblem',
  'disabled',
] as const;

/** The directory-owned part of a record; numbers only for an enabled member who has a usable one. */
function directoryPart(
  u: DirectoryUser,
  n: Numbers | undefined,
  problem: SkipReason | undefined,
): DirectoryFields {
  const d: DirectoryFields = { username: u.username, dn: u.dn, groups: [] };
  if (u.displayName !== undefined) d.displayName = u.displayName;
  if (n?.mobile !== undefined) d.mobile = n.mobile;
  if (n?.secondaryMobile !== undefined) d.secondaryMobile = n.secondaryMobile;
  if (u.email !== undefined && problem !== 'disabled') d.email = u.email;
  if (problem === 'disabled') d.disabled = true;
  else if (problem === 'no-number' || problem === 'invalid-number') d.numberProblem = problem;
  d.groups = u.groups.length === 1 ? [u.groups[0] ?? ''] : [...u.groups].sort();
  return d;
}

function sameDirectoryFields(a: UserRecord, b: DirectoryFields): boolean {
  return (
    a.username === b.username &&
    a.dn === b.dn &&
    a.displayName === b.displayName &&
    a.mobile === b.mobile &&
    a.secondaryMobile === b.secondaryMobile &&
    a.email === b.email &&
    a.numberProblem === b.numberProblem &&
    a.disabled === b.disabled &&
    a.source === 'directory' &&
    a.groups.length === b.groups.length &&
    a.groups.every((g, i) => g === b.groups[i])
  );
}

/**
 * Pure, incremental planning: members arrive in chunks (`add` returns the records to write now),
 * and `finish` decides removals once the answer is complete. Adds and updates can thus be written
 * while the next page is still on the wire; removals only ever follow a complete answer.
 */
export class SyncPlanner {
  readonly plan: SyncPlan = {
    puts: [],
    removals: [],
    held: [],
    added: 0,
    updated: 0,
    unchanged: 0,
    skipped: [],
    warnings: [],
    removalPercent: 0,
  };
  /** Every member seen (stored or not): no one still in the group is removed. */
  private readonly members = new Set<string>();
  private seen = 0;

  constructor(
    private readonly existing: ReadonlyMap<string, UserRecord>,
    private readonly o: PlanOptions,
  ) {}

  add(members: readonly DirectoryUser[]): UserRecord[] {
    const out: UserRecord[] = [];
    const { plan, o } = this;
    for (const u of members) {
      this.seen++;
      const key = userKey(u.username);
      if (this.members.has(key)) {
        plan.skipped.push({ username: u.username, reason: 'duplicate', detail: u.dn });
        continue;
      }
      this.members.add(key);
      const old = this.existing.get(key);
      let n: Numbers | undefined;
      let skip: SyncNote | undefined;
      if (u.disabled) skip = { username: u.username, reason: 'disabled' };
      else {
        n = pickNumbers(u, o.defaultCountry, o.normalise ?? normaliseNumber);
        if (n.mobile === undefined)
          skip =
            n.invalid.length === 0
              ? { username: u.username, reason: 'no-number' }
              : { username: u.username, reason: 'invalid-number', detail: n.invalid.join('; ') };
        else if (n.invalid.length > 0)
          plan.warnings.push({
            username: u.username,
            reason: 'invalid-number',
            detail: n.invalid.join('; '),
          });
      }
      if (skip) {
        const synced = old?.source === 'directory';
        if (synced && skip.reason !== 'disabled' && old.overrides?.secondaryMobile !== undefined) {
          // The box has a number for this member: a stored, working user, not a skipped one.
          plan.warnings.push(withDetail(skip, 'using the number entered on the box'));
        } else {
          plan.skipped.push(synced ? withDetail(skip, 'record kept') : skip);
          // A member new to the box is not stored without a number; a local user is left alone.
          if (!synced) continue;
        }
      }
      if (old && old.source === 'local') {
        // A user created on the box keeps its record; the directory does not take it over silently.
        plan.unchanged++;
        continue;
      }
      const dir = directoryPart(u, n, skip?.reason);
      if (old && sameDirectoryFields(old, dir)) {
        plan.unchanged++;
        continue;
      }
      let merged: UserRecord;
      if (old) {
        // Keep every field the directory does not own; drop directory fields it no longer has.
        merged = { ...old, ...dir, source: 'directory', syncedAt: o.now };
        for (const f of OPTIONAL_DIRECTORY_FIELDS) if (dir[f] === undefined) delete merged[f];
      } else {
        merged = dir as UserRecord;
        merged.source = 'directory';
        merged.syncedAt = o.now;
      }
      out.push(merged);
      if (old) plan.updated++;
      else plan.added++;
    }
    if (o.collectPuts !== false) for (const r of out) plan.puts.push(r);
    return out;
  }

  /** Call once the directory answer is complete. */
  finish(): SyncPlan {
    const { plan, o } = this;
    const fromDirectory = [...this.existing.values()].filter((r) => r.source === 'directory').length;
    if (this.seen === 0 && fromDirectory > 0) {
      plan.refusal = `the directory returned no members; refusing to remove all ${fromDirectory} users (check baseDn and group)`;
      return plan;
    }
    const gone = [...this.existing.entries()]
      .filter(([k, r]) => r.source === 'directory' && !this.members.has(k))
      .map(([k]) => k);
    plan.removalPercent = fromDirectory === 0 ? 0 : (gone.length / fromDirectory) * 100;
    if (gone.length > 0 && plan.removalPercent > o.maxRemovalPercent && !o.confirm) plan.held = gone;
    else plan.removals = gone;
    return plan;
  }
}

function withDetail(note: SyncNote, more: string): SyncNote {
  return { ...note, detail: note.detail === undefined ? more : `${note.detail}; ${more}` };
}

/** Pure: what a sync would do, given the stored users and a complete directory answer. */
export function planSync(
  existing: ReadonlyMap<string, UserRecord>,
  members: readonly DirectoryUser[],
  o: PlanOptions,
): SyncPlan {
  const p = new SyncPlanner(existing, o);
  p.add(members);
  return p.finish();
}

/** Per-user notes kept in the status; the counts are always complete. */
export const MAX_NOTES = 1000;

/** The first scheduled sync runs this long after start, once the DC connection is warm. */
const FIRST_RUN_MS = 10_000;

/** Members per write while the next page is fetched. */
const WRITE_CHUNK = 1000;

export interface SyncDeps {
  directory: Directory;
  store: Store;
  group: string;
  defaultCountry: string;
  maxRemovalPercent: number;
  /** Accept numbers that are possible but not valid (labs, the demo); default true (as in the config). */
  acceptPossibleNumbers?: boolean;
  clock?: Clock;
  log?: Logger;
}

export class DirectorySync {
  private readonly users: Table<UserRecord>;
  private readonly meta: Table<SyncStatus>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private running: Promise<SyncStatus> | undefined;
  /**
   * Normalised numbers from earlier runs, by country: a scheduled sync sees the same numbers every
   * 15 min, and libphonenumber costs 3-6 µs each. Bounded; cleared when full.
   */
  private numbers = new Map<string, PhoneResult>();
  private numbersCountry = '';
  private readonly normalise: Normaliser = (raw, country) => {
    if (country !== this.numbersCountry) {
      this.numbers = new Map();
      this.numbersCountry = country;
    }
    let r = this.numbers.get(raw);
    if (r === undefined) {
      if (this.numbers.size >= 200_000) this.numbers.clear();
      r = normaliseNumber(raw, country, { acceptPossible: this.deps.acceptPossibleNumbers !== false });
      this.numbers.set(raw, r);
    }
    return r;
  };
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SyncDeps) {
    this.users = deps.store.table<UserRecord>(USERS_TABLE);
    this.meta = deps.store.table<SyncStatus>('meta');
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log ?? logger('directory:sync');
  }

  async status(): Promise<SyncStatus> {
    const s = (await this.meta.get(SYNC_STATUS_KEY)) ?? emptyStatus(this.deps.group, 'never');
    // A 'running' left by a process that died mid-sync is not running any more.
    if (s.state === 'running' && !this.running)
      return { ...s, state: 'failed', error: 'interrupted (restart or power cut)' };
    return s;
  }

  /** One sync; concurrent calls share a run (a confirmed call waits and then runs confirmed). */
  run(opts: { confirm?: boolean } = {}): Promise<SyncStatus> {
    const current = this.running;
    if (current) {
      if (!opts.confirm) return current;
      return current.catch(() => undefined).then(() => this.run(opts));
    }
    const p = this.runOnce(opts.confirm === true).finally(() => {
      this.running = undefined;
    });
    this.running = p;
    return p;
  }

  /**
   * Runs every `minutes` (0: never), and once `firstRunMs` after the start, so a box that was off
   * for a while does not wait a whole interval for fresh numbers. The timers keep no process alive.
   */
  /** Told of each scheduled run's result (the audit hook); runs asked for by a caller are theirs to report. */
  onScheduledRun: ((r: SyncStatus) => void) | undefined;

  startSchedule(minutes: number, firstRunMs = FIRST_RUN_MS): void {
    this.stopSchedule();
    if (minutes <= 0) return;
    const tick = () => {
      this.run().then(
        (r) => this.onScheduledRun?.(r),
        (e: unknown) => this.log.error({ err: describeError(e) }, 'scheduled sync failed'),
      );
    };
    this.first = setTimeout(tick, firstRunMs);
    this.first.unref();
    this.timer = setInterval(tick, minutes * 60_000);
    this.timer.unref();
  }

  stopSchedule(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.first) clearTimeout(this.first);
    this.timer = undefined;
    this.first = undefined;
  }

  /** Waits for a sync in progress, e.g. before closing the store. */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async fetchMembers(): Promise<DirectoryUser[]> {
    const members: DirectoryUser[] = [];
    for await (const u of this.deps.directory.listGroupMembers(this.deps.group)) members.push(u);
    return members;
  }

  private async readUsers(): Promise<Map<string, UserRecord>> {
    const existing = new Map<string, UserRecord>();
    for await (const [k, v] of this.users.entries()) existing.set(k, v);
    return existing;
  }

  private async runOnce(confirm: boolean): Promise<SyncStatus> {
    const startedAt = this.clock.now();
    const t0 = this.clock.monotonic();
    const status = emptyStatus(this.deps.group, 'running');
    status.startedAt = startedAt;
    status.confirmed = confirm;
    await this.meta.putFast(SYNC_STATUS_KEY, status);
    const finish = async (s: SyncStatus, ops: StoreOp[] = []): Promise<SyncStatus> => {
      s.finishedAt = this.clock.now();
      s.durationMs = Math.round(this.clock.monotonic() - t0);
      await this.deps.store.atomic([...ops, this.meta.op({ type: 'put', key: SYNC_STATUS_KEY, value: s })]);
      this.log.info(
        {
          state: s.state,
          seen: s.seen,
          added: s.added,
          updated: s.updated,
          removed: s.removed,
          skipped: s.skippedCount,
          ms: s.durationMs,
        },
        'directory sync finished',
      );
      return s;
    };
    try {
      // The stored list is read while the first page is on the wire; each chunk of adds and
      // updates is written while the next one is fetched. Removals wait for the complete answer.
      const existingP = this.readUsers();
      existingP.catch(() => undefined);
      let made: SyncPlanner | undefined;
      const planner = async (): Promise<SyncPlanner> =>
        (made ??= new SyncPlanner(await existingP, {
          defaultCountry: this.deps.defaultCountry,
          maxRemovalPercent: this.deps.maxRemovalPercent,
          confirm,
          now: startedAt,
          normalise: this.normalise,
          collectPuts: false,
        }));
      // Chunks are not chained: writes issued while the store's fsync runs share the next one
      // (group commit), so a slow disk costs a few fsyncs per sync, not one per chunk.
      const writes: Promise<void>[] = [];
      let seen = 0;
      const flush = async (members: readonly DirectoryUser[]) => {
        const puts = (await planner()).add(members);
        if (puts.length === 0) return;
        const ops = puts.map((r) => this.users.op({ type: 'put', key: userKey(r.username), value: r }));
        const w = this.deps.store.atomic(ops);
        w.catch(() => undefined);
        writes.push(w);
      };
      const { directory, group } = this.deps;
      if (directory.listGroupMemberPages) {
        // A directory page is a write chunk already (AD pages hold at most 1000 entries).
        for await (const page of directory.listGroupMemberPages(group)) {
          seen += page.length;
          await flush(page);
        }
      } else {
        let buf: DirectoryUser[] = [];
        for await (const u of directory.listGroupMembers(group)) {
          seen++;
          buf.push(u);
          if (buf.length >= WRITE_CHUNK) {
            await flush(buf);
            buf = [];
          }
        }
        await flush(buf);
      }
      await Promise.all(writes);
      const plan = (await planner()).finish();
      status.seen = seen;
      // The status is one store record read by the dashboard: keep it bounded on a big domain.
      status.skipped = plan.skipped.slice(0, MAX_NOTES);
      status.skippedCount = plan.skipped.length;
      status.warnings = plan.warnings.slice(0, MAX_NOTES);
      status.warningCount = plan.warnings.length;
      if (plan.refusal !== undefined) {
        status.state = 'failed';
        status.error = `${ErrorCode[ErrorCode.DirectorySyncAborted]}: ${plan.refusal}`;
        return await finish(status);
      }
      status.added = plan.added;
      status.updated = plan.updated;
      status.unchanged = plan.unchanged;
      status.removed = plan.removals.length;
      status.state = plan.held.length > 0 ? 'needs-confirmation' : 'ok';
      if (plan.held.length > 0)
        status.pendingRemovals = {
          count: plan.held.length,
          percent: Math.round(plan.removalPercent * 10) / 10,
          limitPercent: this.deps.maxRemovalPercent,
          sample: plan.held.slice(0, 20),
        };
      const ops: StoreOp[] = plan.removals.map((k) => this.users.op({ type: 'del', key: k }));
      return await finish(status, ops);
    } catch (e) {
      status.state = 'failed';
      status.error = describeError(e);
      await finish(status).catch(() => undefined);
      throw e instanceof MfaError
        ? e
        : new MfaError(`directory sync failed: ${describeError(e)}`, ErrorCode.DirectorySyncAborted, {
            cause: e,
          });
    }
  }
}

/** A status with every count zero, for a group in the given state. */
export function emptyStatus(group: string, state: SyncStatus['state']): SyncStatus {
  return {
    state,
    group,
    seen: 0,
    added: 0,
    updated: 0,
    removed: 0,
    unchanged: 0,
    skipped: [],
    skippedCount: 0,
    warnings: [],
    warningCount: 0,
    confirmed: false,
  };
}
