import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockoutSchema } from '../../../firmware/src/config/auth-schema.ts';
import {
  Lockout,
  MAX_ROWS,
  decideFailure,
  lockState,
  type LockRecord,
} from '../../../firmware/src/auth/lockout.ts';
import { FakeClock } from './doubles.ts';
import { TempStore } from './policy-store.ts';
import type { Table } from '../../../firmware/src/store/store.ts';

const cfg = lockoutSchema.parse({});
const MIN = 60_000;

/** `n` wrong codes, `gapMs` apart, starting at `t0`; returns the record and each lock that fired. */
function fail(n: number, t0: number, gapMs: number, rec?: LockRecord) {
  const locks: { at: number; step: number; until: number | undefined }[] = [];
  let r = rec;
  for (let i = 0; i < n; i++) {
    const at = t0 + i * gapMs;
    const d = decideFailure(r, at, cfg);
    r = d.record;
    if (d.locked) locks.push({ at, ...d.locked });
  }
  return { rec: r!, locks };
}

describe('lockout escalation (pure)', () => {
  it('defaults: 5 wrong in 15 min → 5 min, 10 → 30 min, 15 → until an admin unlocks', () => {
    const t0 = Date.UTC(2026, 0, 1);
    const a = fail(5, t0, MIN);
    expect(a.locks).toEqual([{ at: t0 + 4 * MIN, step: 0, until: t0 + 4 * MIN + 5 * MIN }]);
    expect(lockState(a.rec, t0 + 5 * MIN, cfg)).toMatchObject({ locked: true, count: 5 });
    // Waiting out the lock does not reset the count.
    const after = t0 + 10 * MIN;
    expect(lockState(a.rec, after, cfg)).toEqual({ locked: false, count: 5 });
    const b = fail(5, after, MIN, a.rec);
    expect(b.locks).toEqual([{ at: after + 4 * MIN, step: 1, until: after + 4 * MIN + 30 * MIN }]);
    const later = after + 60 * MIN;
    const c = fail(5, later, MIN, b.rec);
    expect(c.locks).toEqual([{ at: later + 4 * MIN, step: 2, until: undefined }]);
    // Until an admin unlocks: still locked a week later.
    expect(lockState(c.rec, later + 7 * 86_400_000, cfg)).toMatchObject({ locked: true, until: undefined });
  });

  it('the first step needs its wrong codes inside the window', () => {
    const t0 = 0;
    const slow = fail(5, t0, 4 * MIN); // 5 wrong over 16 min: never 5 inside 15 min
    expect(slow.locks).toEqual([]);
    expect(slow.rec.count).toBe(5);
  });

  it('a slow guesser still reaches the later steps: they count every wrong code since the last reset', () => {
    const { locks } = fail(15, 0, 10 * MIN); // one every 10 min: never 5 in 15 min
    expect(locks.map((l) => l.step)).toEqual([1, 2]);
    expect(locks[0]!.at).toBe(9 * 10 * MIN);
    expect(locks[1]!.until).toBeUndefined();
  });

  it('forgets the count after a quiet day, but never while a lock is in force', () => {
    const a = fail(4, 0, MIN);
    expect(lockState(a.rec, 3 * MIN + 24 * 60 * MIN - 1, cfg).count).toBe(4);
    expect(lockState(a.rec, 3 * MIN + 24 * 60 * MIN, cfg)).toEqual({ locked: false, count: 0 });
    const forever = fail(15, 0, 10 * MIN);
    expect(lockState(forever.rec, 365 * 86_400_000, cfg).locked).toBe(true);
  });

  it('honours configured steps and forgetAfterHours 0 (never forget)', () => {
    const c = lockoutSchema.parse({ steps: [{ failures: 2, minutes: 1 }], forgetAfterHours: 0 });
    let r = decideFailure(undefined, 0, c).record;
    const d = decideFailure(r, 1000, c);
    expect(d.locked).toEqual({ step: 0, until: 1000 + MIN });
    r = d.record;
    expect(lockState(r, 1000 + MIN, c)).toEqual({ locked: false, count: 2 });
    expect(lockState(r, 10 * 365 * 86_400_000, c).count).toBe(2);
  });

  it('refuses steps that do not go up', () => {
    const r = lockoutSchema.safeParse({
      steps: [
        { failures: 5, minutes: 5 },
        { failures: 5, minutes: 30 },
      ],
    });
    expect(r.success).toBe(false);
  });
});

/** Counts the table's synchronous reads (the ones a passcode check makes). */
function countReads(table: Table<LockRecord>): { n: number } {
  const reads = { n: 0 };
  const getSync = table.getSync.bind(table);
  table.getSync = (k: string) => {
    reads.n++;
    return getSync(k);
  };
  return reads;
}

/**
 * `lockout.unlock(user)` with `overlap` run between its delete's queueing and its settling: the
 * delete is in the store's group commit, so a write `overlap` queues lands after it, and the
 * unlock learns of it only then.
 */
async function unlockOverlapped(
  lockout: Lockout,
  table: Table<LockRecord>,
  user: string,
  overlap: () => Promise<unknown>,
): Promise<void> {
  const realDel = table.del.bind(table);
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let signal!: () => void;
  const queued = new Promise<void>((r) => (signal = r));
  table.del = async (k: string) => {
    const done = realDel(k);
    signal();
    await done;
    await held;
  };
  const unlocking = lockout.unlock(user);
  await queued;
  await overlap();
  release();
  await unlocking;
}

/** Resolves once a put is queued: its group commit runs on a later turn, so it is not on disk yet. */
function putQueued(table: Table<LockRecord>): Promise<void> {
  const realPut = table.put.bind(table);
  return new Promise<void>((queued) => {
    table.put = (k: string, v: LockRecord) => {
      const p = realPut(k, v);
      queued();
      return p;
    };
  });
}

describe('Lockout (store)', () => {
  const tmp = new TempStore();
  let clock: FakeClock;
  beforeEach(async () => {
    clock = new FakeClock();
    await tmp.open();
  });
  afterEach(() => tmp.dispose());

  it('a lock survives a restart; unlock clears it and the count', async () => {
    let lockout = new Lockout(tmp.store, clock, () => cfg);
    for (let i = 0; i < 4; i++) expect((await lockout.failure('alice')).lockedNow).toBe(false);
    const fifth = await lockout.failure('alice');
    expect(fifth.lockedNow).toBe(true);
    expect(fifth.state).toMatchObject({ locked: true, count: 5, until: clock.now() + 5 * MIN });

    await tmp.reopen();
    lockout = new Lockout(tmp.store, clock, () => cfg);
    expect(await lockout.state('alice')).toMatchObject({ locked: true, count: 5 });
    expect(await lockout.state('bob')).toEqual({ locked: false, count: 0 });

    expect(await lockout.unlock('alice')).toMatchObject({ locked: true });
    expect(await lockout.state('alice')).toEqual({ locked: false, count: 0 });
  });

  it('a good login resets the count', async () => {
    const lockout = new Lockout(tmp.store, clock, () => cfg);
    for (let i = 0; i < 4; i++) await lockout.failure('alice');
    await lockout.success('alice');
    expect((await lockout.failure('alice')).state.count).toBe(1);
  });

  it('a success after check reads nothing again when there was no row, yet still resets a count written since', async () => {
    const lockout = new Lockout(tmp.store, clock, () => cfg);
    const reads = countReads(tmp.store.table<LockRecord>('lockout'));
    // Nothing to reset: one read in all (the check), no write.
    const first = await lockout.check('alice');
    expect(first.read).toMatchObject({ user: 'alice', row: false });
    await lockout.success('alice', first.read);
    expect(reads.n).toBe(1);
    // A wrong code of another login of the same user, queued after the check: the success reads
    // the row again (under the user's queue) and resets it.
    const second = await lockout.check('alice');
    const wrong = lockout.failure('alice');
    await lockout.success('alice', second.read);
    await wrong;
    expect(await lockout.state('alice')).toEqual({ locked: false, count: 0 });
    // A read for another user, or a read that saw a row, is not trusted either.
    await lockout.failure('alice');
    const bobs = await lockout.check('bob');
    await lockout.success('alice', bobs.read);
    expect(await lockout.state('alice')).toEqual({ locked: false, count: 0 });
  });

  it('once loaded, answers users with no row without a read, and never past a write', async () => {
    const lockout = new Lockout(tmp.store, clock, () => cfg);
    const table = tmp.store.table<LockRecord>('lockout');
    // A row a previous run left: load must find it.
    await table.put('erin', decideFailure(undefined, clock.now(), cfg).record);
    const reads = countReads(table);
    // Not loaded yet: every check reads.
    for (let i = 0; i < 3; i++) await lockout.check('dave');
    expect(reads.n).toBe(3);
    await lockout.load();
    for (let i = 0; i < 5; i++)
      expect((await lockout.check('dave')).state).toEqual({ locked: false, count: 0 });
    expect(reads.n).toBe(3);
    expect((await lockout.check('erin')).state.count).toBe(1);
    expect(reads.n).toBe(4);
    // A check while a wrong code is still on its way (its job has not reached the write) sees no row...
    const wrong = lockout.failure('dave');
    expect((await lockout.check('dave')).state.count).toBe(0);
    await wrong;
    // ...so once the write landed the row is seen, from any Lockout on the same table.
    expect((await lockout.check('dave')).state.count).toBe(1);
    expect((await new Lockout(tmp.store, clock, () => cfg).check('dave')).state.count).toBe(1);
    // Four more lock the user: the lock is seen at once, however many checks came before.
    for (let i = 0; i < 4; i++) await lockout.check('dave');
    for (let i = 0; i < 4; i++) await lockout.failure('dave');
    expect((await lockout.check('dave')).state).toMatchObject({ locked: true, count: 5 });
    // An unlock deletes the row and takes dave out of the index: no read after it.
    await lockout.unlock('dave');
    const before = reads.n;
    for (let i = 0; i < 3; i++) expect((await lockout.check('dave')).state.locked).toBe(false);
    expect(reads.n).toBe(before);
    // So does a good login after a wrong code.
    await lockout.failure('erin');
    await lockout.success('erin');
    const after = reads.n;
    expect((await lockout.check('erin')).state.count).toBe(0);
    expect(reads.n).toBe(after);
  });

  it('a delete that a wrong code overtook (another Lockout on the table) leaves the user indexed', async () => {
    const a = new Lockout(tmp.store, clock, () => cfg);
    const b = new Lockout(tmp.store, clock, () => cfg);
    const table = tmp.store.table<LockRecord>('lockout');
    await a.load();
    await a.failure('gus');
    // The unlock's delete is queued, and held from resolving until b's wrong code is on disk after it.
    await unlockOverlapped(a, table, 'gus', () => b.failure('gus'));
    // b's row is on disk (the unlock's delete came first), and a sees it.
    const onDisk = (await table.get('gus'))?.count;
    expect(onDisk).toBeGreaterThan(0);
    expect((await a.check('gus')).state.count).toBe(onDisk);
  });

  it('a stale index entry (its delete overlapped another write) is read once, then dropped', async () => {
    const lockout = new Lockout(tmp.store, clock, () => cfg);
    const table = tmp.store.table<LockRecord>('lockout');
    await lockout.load();
    await lockout.failure('ivy');
    // Another user's wrong code overlaps the delete: ivy stays indexed, though her row is gone.
    await unlockOverlapped(lockout, table, 'ivy', () => lockout.failure('jack'));
    expect(await table.get('ivy')).toBeUndefined();
    const reads = countReads(table);
    expect((await lockout.check('ivy')).state.count).toBe(0);
    expect(reads.n).toBe(1);
    expect((await lockout.check('ivy')).state.count).toBe(0);
    expect(reads.n).toBe(1);
    expect((await lockout.check('jack')).state.count).toBe(1);
  });

  it('a check between a wrong code queued and on disk keeps the user indexed', async () => {
    const lockout = new Lockout(tmp.store, clock, () => cfg);
    const table = tmp.store.table<LockRecord>('lockout');
    await lockout.load();
    const isQueued = putQueued(table);
    const wrong = lockout.failure('kim');
    await isQueued;
    // Not on disk yet: the read finds nothing, and must not take kim out of the index for it.
    expect((await lockout.check('kim')).state.count).toBe(0);
    await wrong;
    expect((await lockout.check('kim')).state.count).toBe(1);
  });

  it('a wrong code queued but not yet on disk when the table loads is in the index', async () => {
    const lockout = new Lockout(tmp.store, clock, () => cfg);
    const table = tmp.store.table<LockRecord>('lockout');
    const isQueued = putQueued(table);
    const wrong = lockout.failure('hank');
    // The put is queued; the group commit runs on a later turn, so the load's snapshot misses it.
    await isQueued;
    await Promise.all([lockout.load(), wrong]);
    expect((await lockout.check('hank')).state.count).toBe(1);
  });

  it('a wrong code written while the table loads is in the index', async () => {
    const lockout = new Lockout(tmp.store, clock, () => cfg);
    const table = tmp.store.table<LockRecord>('lockout');
    await table.batch(
      Array.from({ length: 200 }, (_, i) => ({
        type: 'put' as const,
        key: `u${i}`,
        value: decideFailure(undefined, clock.now(), cfg).record,
      })),
    );
    await Promise.all([lockout.load(), lockout.failure('frank'), lockout.failure('u7')]);
    expect((await lockout.check('frank')).state.count).toBe(1);
    expect((await lockout.check('u7')).state.count).toBe(2);
    expect((await lockout.check('u199')).state.count).toBe(1);
  });

  it(`past ${MAX_ROWS} rows the table is read on each check`, async () => {
    const lockout = new Lockout(tmp.store, clock, () => cfg);
    const table = tmp.store.table<LockRecord>('lockout');
    const row = decideFailure(undefined, clock.now(), cfg).record;
    await table.batch(
      Array.from({ length: MAX_ROWS + 1 }, (_, i) => ({ type: 'put' as const, key: `u${i}`, value: row })),
    );
    await lockout.load();
    const reads = countReads(table);
    expect((await lockout.check('nobody')).state.count).toBe(0);
    expect(reads.n).toBe(1);
    expect((await lockout.check(`u${MAX_ROWS}`)).state.count).toBe(1);
  });

  it('counts concurrent wrong codes exactly once each', async () => {
    const lockout = new Lockout(tmp.store, clock, () => cfg);
    const r = await Promise.all(Array.from({ length: 7 }, () => lockout.failure('carol')));
    expect(r.filter((x) => x.lockedNow)).toHaveLength(1);
    expect((await lockout.state('carol')).count).toBe(7);
  });

  it('a wall-clock step neither lifts a lock early nor stretches it: the lock runs on monotonic time', async () => {
    const lockout = new Lockout(tmp.store, clock, () => cfg);
    for (let i = 0; i < 5; i++) await lockout.failure('erin');
    clock.wall += 60 * MIN; // NTP steps the clock an hour ahead; one real minute passes
    clock.advance(MIN);
    expect(await lockout.state('erin')).toMatchObject({ locked: true });
    clock.wall -= 120 * MIN; // and two hours back; the 5 real minutes run out all the same
    clock.advance(4 * MIN + 1);
    expect(await lockout.state('erin')).toMatchObject({ locked: false, count: 5 });
  });

  it('after a restart the remaining lock time is read from the wall clock once, then runs monotonic', async () => {
    let lockout = new Lockout(tmp.store, clock, () => cfg);
    for (let i = 0; i < 5; i++) await lockout.failure('fay');
    await tmp.reopen();
    clock.advance(2 * MIN);
    lockout = new Lockout(tmp.store, clock, () => cfg);
    expect(await lockout.state('fay')).toMatchObject({ locked: true }); // 3 min left, read from the wall
    clock.wall += 60 * MIN;
    expect(await lockout.state('fay')).toMatchObject({ locked: true });
    clock.advance(3 * MIN + 1);
    expect(await lockout.state('fay')).toMatchObject({ locked: false });
  });

  it('does nothing when disabled', async () => {
    const off = lockoutSchema.parse({ enabled: false });
    const lockout = new Lockout(tmp.store, clock, () => off);
    for (let i = 0; i < 20; i++) await lockout.failure('dave');
    expect(await lockout.state('dave')).toEqual({ locked: false, count: 0 });
  });
});
