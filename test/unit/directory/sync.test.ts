import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Directory, DirectoryUser } from '../../../firmware/src/directory/directory.ts';
import { DemoDirectory } from '../../../firmware/src/directory/demo.ts';
import {
  DirectorySync,
  MAX_NOTES,
  emptyStatus,
  planSync,
  type SyncStatus,
} from '../../../firmware/src/directory/sync.ts';
import type { UserRecord } from '../../../firmware/src/directory/users.ts';
import type { AuditInput } from '../../../firmware/src/audit/records.ts';
import { syncAuditRecord } from '../../../firmware/src/directory/sync-audit.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';

function member(username: string, mobiles: string[], extra: Partial<DirectoryUser> = {}): DirectoryUser {
  return { username, dn: `CN=${username},DC=x`, mobiles, groups: ['MFA Users'], disabled: false, ...extra };
}

/** A fake directory whose member list each test sets; it can also fail mid-way. */
class FakeDirectory implements Directory {
  members: DirectoryUser[] = [];
  failAfter: number | undefined;
  verifyPassword(): never {
    throw new Error('not used');
  }
  findUser(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  async *listGroupMembers(): AsyncIterable<DirectoryUser> {
    let n = 0;
    for (const m of this.members) {
      if (this.failAfter !== undefined && n++ >= this.failAfter) throw new Error('DC went away');
      yield await Promise.resolve(m);
    }
  }
  health() {
    return { state: 'up' as const };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const opts = { defaultCountry: 'DE', maxRemovalPercent: 10, confirm: false, now: 1000 };

describe('planSync (pure)', () => {
  it('normalises to E.164, maps secondary, and skips disabled, number-less and invalid users with reasons', () => {
    const plan = planSync(
      new Map(),
      [
        member('alice', ['0151 12345678', '+49 30 1234567'], { secondaryMobiles: ['+49 30 1234567'] }),
        member('bob', ['12'], { secondaryMobiles: [] }),
        member('carol', ['+4915100000003'], { disabled: true }),
        member('dave', []),
        member('erin', ['+49 30 7654321'], { secondaryMobiles: ['+49 30 7654321'] }),
        member('ALICE', ['+4915100000009']),
      ],
      opts,
    );
    expect(plan.puts.map((p) => [p.username, p.mobile, p.secondaryMobile])).toEqual([
      ['alice', '+4915112345678', '+49301234567'],
      ['erin', '+49307654321', undefined],
    ]);
    expect(plan.skipped).toEqual([
      { username: 'bob', reason: 'invalid-number', detail: '12 (not a possible number)' },
      { username: 'carol', reason: 'disabled' },
      { username: 'dave', reason: 'no-number' },
      { username: 'ALICE', reason: 'duplicate', detail: 'CN=ALICE,DC=x' },
    ]);
    expect(plan.added).toBe(2);
  });

  it('keeps the email address (the email method), drops it when the directory does, and not for a disabled user', () => {
    const first = planSync(
      new Map(),
      [
        member('alice', ['+4915112345678'], { email: 'alice@corp.example' }),
        member('carol', ['+4915100000003'], { disabled: true, email: 'carol@corp.example' }),
      ],
      opts,
    );
    expect(first.puts.map((p) => [p.username, p.email])).toEqual([['alice', 'alice@corp.example']]);
    const stored = new Map(first.puts.map((p) => [p.username, p]));
    const next = planSync(stored, [member('alice', ['+4915112345678'])], opts);
    expect(next.puts.map((p) => [p.username, p.email])).toEqual([['alice', undefined]]);
  });

  it('skips a number that is possible but not valid, as invalid-number, by default', () => {
    const members = [member('ann', ['0151 1234567']), member('ben', ['0151 1234567', '0151 12345678'])];
    const plan = planSync(new Map(), members, opts);
    expect(plan.skipped).toEqual([
      { username: 'ann', reason: 'invalid-number', detail: '0151 1234567 (not a valid number)' },
    ]);
    expect(plan.puts.map((p) => [p.username, p.mobile])).toEqual([['ben', '+4915112345678']]);
    expect(plan.warnings).toEqual([
      { username: 'ben', reason: 'invalid-number', detail: '0151 1234567 (not a valid number)' },
    ]);
  });

  it('holds removals above the limit unless confirmed, and never wipes on an empty answer', () => {
    const existing = new Map<string, UserRecord>();
    for (let i = 0; i < 10; i++)
      existing.set(`u${i}`, {
        username: `u${i}`,
        dn: `CN=u${i}`,
        mobile: '+4915100000000',
        groups: [],
        source: 'directory',
        syncedAt: 0,
      });
    const nine = Array.from({ length: 9 }, (_, i) => member(`u${i}`, ['+4915100000000']));
    expect(planSync(existing, nine, opts).removals).toEqual(['u9']); // 10 % is allowed
    const eight = nine.slice(0, 8);
    const held = planSync(existing, eight, opts);
    expect(held.removals).toEqual([]);
    expect(held.held).toEqual(['u8', 'u9']);
    expect(planSync(existing, eight, { ...opts, confirm: true }).removals).toEqual(['u8', 'u9']);
    const empty = planSync(existing, [], { ...opts, confirm: true });
    expect(empty.refusal).toMatch(/refusing to remove all 10 users/);
    expect(empty.removals).toEqual([]);
  });
  it('counts only members who left the group as removals: skipped members stay', () => {
    const existing = new Map<string, UserRecord>();
    for (let i = 0; i < 10; i++)
      existing.set(`u${i}`, {
        username: `u${i}`,
        dn: `CN=u${i}`,
        mobile: '+4915100000000',
        groups: [],
        source: 'directory',
        syncedAt: 0,
      });
    // u0..u4 lost their number, u5 is disabled, u6 has a bad one; only u9 left the group.
    const members = [
      ...Array.from({ length: 5 }, (_, i) => member(`u${i}`, [])),
      member('u5', ['+4915100000000'], { disabled: true }),
      member('u6', ['12']),
      member('u7', ['+4915100000000']),
      member('u8', ['+4915100000000']),
    ];
    const plan = planSync(existing, members, opts);
    expect(plan.removals).toEqual(['u9']);
    expect(plan.held).toEqual([]);
    expect(plan.skipped.map((k) => [k.username, k.reason, k.detail])).toEqual([
      ...Array.from({ length: 5 }, (_, i) => [`u${i}`, 'no-number', 'record kept']),
      ['u5', 'disabled', 'record kept'],
      ['u6', 'invalid-number', '12 (not a possible number); record kept'],
    ]);
    expect(plan.puts.find((p) => p.username === 'u0')).toEqual({
      username: 'u0',
      dn: 'CN=u0,DC=x',
      groups: ['MFA Users'],
      numberProblem: 'no-number',
      source: 'directory',
      syncedAt: 1000,
    });
    expect(plan.puts.find((p) => p.username === 'u5')).toMatchObject({ disabled: true });
    expect(plan.puts.find((p) => p.username === 'u5')?.mobile).toBeUndefined();
  });
});

describe('DirectorySync with LevelDB', () => {
  let dir: string;
  let store: Store;
  const fake = new FakeDirectory();
  let now = 1_000_000;
  const clock = { now: () => now, monotonic: () => performance.now() };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mfabox-sync-'));
    store = await openStore(dir);
    fake.members = [];
    fake.failAfter = undefined;
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const sync = () =>
    new DirectorySync({
      directory: fake,
      store,
      group: 'MFA Users',
      defaultCountry: 'DE',
      maxRemovalPercent: 10,
      clock,
    });
  async function users(): Promise<Map<string, UserRecord>> {
    const m = new Map<string, UserRecord>();
    for await (const [k, v] of store.table<UserRecord>('users').entries()) m.set(k, v);
    return m;
  }

  it('adds, updates, keeps local overrides and OATH tokens, and records the status', async () => {
    fake.members = [member('Alice', ['0151 12345678']), member('bob', ['0151 22222222'])];
    let s = await sync().run();
    expect(s).toMatchObject({ state: 'ok', seen: 2, added: 2, updated: 0, removed: 0 });
    const t = store.table<UserRecord>('users');
    const alice = await t.get('alice');
    expect(alice?.mobile).toBe('+4915112345678');
    await t.put('alice', {
      ...alice!,
      overrides: { secondaryMobile: '+4917000000001' },
      oath: [{ id: 'tok1' }],
    });

    now += 60_000;
    fake.members = [member('Alice', ['0151 99999999']), member('bob', ['0151 22222222'])];
    s = await sync().run();
    expect(s).toMatchObject({ state: 'ok', added: 0, updated: 1, unchanged: 1 });
    const after = await t.get('alice');
    expect(after).toMatchObject({
      mobile: '+4915199999999',
      overrides: { secondaryMobile: '+4917000000001' },
      oath: [{ id: 'tok1' }],
      syncedAt: now,
    });
    expect(await sync().status()).toMatchObject({ state: 'ok', updated: 1 });
  });

  it('a member still in the group keeps the record and box-side fields while disabled or without a usable number', async () => {
    fake.members = ['alice', 'bob', 'carol', 'erin'].map((u, i) => member(u, [`+49151000000${10 + i}`]));
    await sync().run();
    const t = store.table<UserRecord>('users');
    for (const k of ['alice', 'bob', 'carol']) {
      const r = await t.get(k);
      await t.put(k, { ...r!, oath: [{ id: `tok-${k}` }] });
    }

    now += 60_000;
    fake.members = [
      member('alice', []),
      member('bob', ['12']),
      member('carol', ['+4915100000012'], { disabled: true }),
      member('erin', ['+4915100000013']),
    ];
    const s = await sync().run();
    expect(s).toMatchObject({ state: 'ok', removed: 0, updated: 3, unchanged: 1, skippedCount: 3 });
    expect(s.skipped.map((k) => `${k.username}:${k.reason}:${k.detail}`)).toEqual([
      'alice:no-number:record kept',
      'bob:invalid-number:12 (not a possible number); record kept',
      'carol:disabled:record kept',
    ]);
    let u = await users();
    expect([...u.keys()]).toEqual(['alice', 'bob', 'carol', 'erin']);
    expect(u.get('alice')).toEqual({
      username: 'alice',
      dn: 'CN=alice,DC=x',
      groups: ['MFA Users'],
      numberProblem: 'no-number',
      source: 'directory',
      syncedAt: now,
      oath: [{ id: 'tok-alice' }],
    });
    expect(u.get('bob')).toMatchObject({ numberProblem: 'invalid-number', oath: [{ id: 'tok-bob' }] });
    expect(u.get('bob')?.mobile).toBeUndefined();
    expect(u.get('carol')).toMatchObject({ disabled: true, oath: [{ id: 'tok-carol' }] });
    expect(u.get('carol')?.mobile).toBeUndefined();

    // Numbers back, account enabled: the markers go, the tokens stay.
    now += 60_000;
    fake.members = ['alice', 'bob', 'carol', 'erin'].map((u, i) => member(u, [`+49151000000${20 + i}`]));
    expect(await sync().run()).toMatchObject({ updated: 4, skippedCount: 0 });
    u = await users();
    expect(u.get('alice')).toEqual({
      username: 'alice',
      dn: 'CN=alice,DC=x',
      mobile: '+4915100000020',
      groups: ['MFA Users'],
      source: 'directory',
      syncedAt: now,
      oath: [{ id: 'tok-alice' }],
    });
    expect(u.get('carol')).toMatchObject({ mobile: '+4915100000022', oath: [{ id: 'tok-carol' }] });
    expect(u.get('carol')?.disabled).toBeUndefined();

    // Leaving the group still removes, under the guard (1 of 4 needs a confirmed run).
    fake.members = fake.members.filter((m) => m.username !== 'carol');
    expect(await sync().run()).toMatchObject({ state: 'needs-confirmation', removed: 0 });
    expect(await sync().run({ confirm: true })).toMatchObject({ state: 'ok', removed: 1 });
    expect([...(await users()).keys()]).toEqual(['alice', 'bob', 'erin']);
  });

  it('a member with only a number entered on the box is kept, not skipped', async () => {
    fake.members = [member('alice', ['+4915100000010']), member('bob', ['+4915100000011'])];
    await sync().run();
    const t = store.table<UserRecord>('users');
    const alice = await t.get('alice');
    await t.put('alice', { ...alice!, overrides: { secondaryMobile: '+4917000000001' } });

    now += 60_000;
    fake.members = [member('alice', []), member('bob', ['+4915100000011']), member('new', [])];
    const s = await sync().run();
    expect(s).toMatchObject({ state: 'ok', removed: 0, updated: 1, skippedCount: 1 });
    expect(s.skipped).toEqual([{ username: 'new', reason: 'no-number' }]);
    expect(s.warnings).toEqual([
      { username: 'alice', reason: 'no-number', detail: 'using the number entered on the box' },
    ]);
    const after = await t.get('alice');
    expect(after).toMatchObject({
      numberProblem: 'no-number',
      overrides: { secondaryMobile: '+4917000000001' },
    });
    expect(after?.mobile).toBeUndefined();
    expect(await t.get('new')).toBeUndefined();
  });

  it('a sync that would remove too many stops for confirmation; --confirm proceeds', async () => {
    fake.members = Array.from({ length: 10 }, (_, i) => member(`u${i}`, ['+4915100000000']));
    await sync().run();
    fake.members = fake.members.slice(0, 5);
    const s = await sync().run();
    expect(s.state).toBe('needs-confirmation');
    expect(s.pendingRemovals).toMatchObject({ count: 5, percent: 50, limitPercent: 10 });
    expect((await users()).size).toBe(10);
    const c = await sync().run({ confirm: true });
    expect(c).toMatchObject({ state: 'ok', removed: 5, confirmed: true });
    expect([...(await users()).keys()]).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
  });

  it('an empty answer or a failure mid-way removes no one', async () => {
    fake.members = [member('a', ['+4915100000001']), member('b', ['+4915100000002'])];
    await sync().run();
    fake.members = [];
    const s = await sync().run({ confirm: true });
    expect(s.state).toBe('failed');
    expect(s.error).toMatch(/DirectorySyncAborted/);
    expect((await users()).size).toBe(2);

    fake.members = [member('c', ['+4915100000003']), member('d', ['+4915100000004'])];
    fake.failAfter = 1;
    await expect(sync().run({ confirm: true })).rejects.toThrow(/DC went away/);
    expect([...(await users()).keys()]).toEqual(['a', 'b']);
    expect((await sync().status()).state).toBe('failed');
  });

  it('shares one run between concurrent callers; a confirmed call runs after it, confirmed', async () => {
    fake.members = [member('a', ['+4915100000001'])];
    const s = sync();
    const [r1, r2] = [s.run(), s.run()];
    expect(r1).toBe(r2);
    const r3 = s.run({ confirm: true });
    expect((await r1).confirmed).toBe(false);
    expect((await r3).confirmed).toBe(true);
  });

  it('runs soon after start, then on its schedule, and not at all with 0 minutes', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    try {
      const s = sync();
      let runs = 0;
      s.run = () => {
        runs++;
        return Promise.resolve(emptyStatus('MFA Users', 'ok'));
      };
      s.startSchedule(0);
      vi.advanceTimersByTime(60 * 60_000);
      expect(runs).toBe(0);
      s.startSchedule(15, 10_000);
      vi.advanceTimersByTime(10_000);
      expect(runs).toBe(1);
      vi.advanceTimersByTime(45 * 60_000 - 10_000);
      expect(runs).toBe(4);
      s.stopSchedule();
      vi.advanceTimersByTime(60 * 60_000);
      expect(runs).toBe(4);
    } finally {
      vi.useRealTimers();
    }
  });

  it('tells the audit hook of each scheduled run, with a record that names the schedule', async () => {
    const told: AuditInput[] = [];
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    try {
      const s = sync();
      s.run = () => Promise.resolve({ ...emptyStatus('MFA Users', 'ok'), added: 2, skippedCount: 1 });
      s.onScheduledRun = (r) => told.push(syncAuditRecord(r, { confirm: false, actor: 'schedule' }));
      s.startSchedule(15, 10_000);
      vi.advanceTimersByTime(10_000);
      s.stopSchedule();
    } finally {
      vi.useRealTimers();
    }
    await vi.waitFor(() => expect(told).toHaveLength(1));
    expect(told[0]).toEqual({
      kind: 'admin',
      action: 'directory-sync',
      actor: 'schedule',
      outcome: 'ok',
      detail: 'ok: 2 added, 0 updated, 0 removed, 1 skipped',
    });
  });

  it('a run left "running" by a dead process reads as failed (interrupted)', async () => {
    await store
      .table('meta')
      .put('directory-sync-status', { ...emptyStatus('MFA Users', 'ok'), state: 'running' });
    expect(await sync().status()).toMatchObject({
      state: 'failed',
      error: expect.stringMatching(/interrupted/),
    });
  });

  it('keeps the status bounded: at most MAX_NOTES notes, the counts complete', async () => {
    fake.members = Array.from({ length: MAX_NOTES + 5 }, (_, i) => member(`n${i}`, []));
    fake.members.push(member('ok', ['+4915100000001']));
    const s = await sync().run();
    expect(s.skipped).toHaveLength(MAX_NOTES);
    expect(s.skippedCount).toBe(MAX_NOTES + 5);
    expect(s.added).toBe(1);
  });

  it('works with the demo directory (npm run demo), whose fictional numbers need acceptPossibleNumbers', async () => {
    const demoSync = (acceptPossibleNumbers: boolean) =>
      new DirectorySync({
        directory: new DemoDirectory(),
        store,
        group: 'MFA Users',
        defaultCountry: 'US',
        maxRemovalPercent: 10,
        acceptPossibleNumbers,
        clock,
      }).run();
    const strict = await demoSync(false);
    expect(strict.added).toBe(0);
    expect(strict.skipped.map((k) => `${k.username}:${k.reason}:${k.detail ?? ''}`).sort()).toEqual([
      'alice:invalid-number:+15550000001 (not a valid number)',
      'bob:invalid-number:+15550000002 (not a valid number); +15550000012 (not a valid number)',
      'carol:no-number:',
      'dave:disabled:',
    ]);
    const s = await demoSync(true);
    expect(s.added).toBe(2);
    expect(s.skipped.map((k) => `${k.username}:${k.reason}`).sort()).toEqual([
      'carol:no-number',
      'dave:disabled',
    ]);
    expect((await users()).get('bob')).toMatchObject({
      mobile: '+15550000002',
      secondaryMobile: '+15550000012',
    });
  });
});

/** The same fake, answering a page at a time as the LDAP directory does for the sync. */
class PagedFakeDirectory extends FakeDirectory {
  pageSize = 3;
  async *listGroupMemberPages(): AsyncIterable<readonly DirectoryUser[]> {
    let n = 0;
    for (let i = 0; i < this.members.length; i += this.pageSize) {
      const page = this.members.slice(i, i + this.pageSize);
      n += page.length;
      if (this.failAfter !== undefined && n > this.failAfter) throw new Error('DC went away');
      yield await Promise.resolve(page);
    }
  }
}

describe('DirectorySync reading pages', () => {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  async function run(directory: Directory, members: DirectoryUser[][]) {
    const d = mkdtempSync(join(tmpdir(), 'mfabox-sync-pages-'));
    dirs.push(d);
    const store = await openStore(d);
    stores.push(store);
    let now = 5_000_000;
    const sync = new DirectorySync({
      directory,
      store,
      group: 'MFA Users',
      defaultCountry: 'DE',
      maxRemovalPercent: 10,
      clock: { now: () => now, monotonic: () => 0 },
    });
    const statuses: SyncStatus[] = [];
    for (const list of members) {
      (directory as FakeDirectory).members = list;
      now += 60_000;
      statuses.push(await sync.run().catch(() => sync.status()));
    }
    const users: [string, UserRecord][] = [];
    for await (const e of store.table<UserRecord>('users').entries()) users.push(e);
    return { statuses, users };
  }

  it('stores and reports exactly what the per-entry read does (skips, duplicates, updates, guard)', async () => {
    const first = [
      member('alice', ['0151 12345678', '+49 30 1234567'], { secondaryMobiles: ['+49 30 1234567'] }),
      member('bob', ['12'], { secondaryMobiles: [] }),
      member('carol', ['+4915100000003'], { disabled: true }),
      member('dave', []),
      member('ALICE', ['+4915100000009']),
      ...Array.from({ length: 20 }, (_, i) => member(`u${i}`, [`0151 ${10000000 + i}`])),
    ];
    const second = [member('alice', ['0151 99999999']), ...first.slice(5, 18)];
    const third = first.slice(0, 2);
    const lists = [first, second, third, []];
    const a = await run(new FakeDirectory(), lists);
    const b = await run(new PagedFakeDirectory(), lists);
    expect(b).toStrictEqual(a);
    expect(a.statuses.map((s) => s.state)).toEqual([
      'ok',
      'needs-confirmation',
      'needs-confirmation',
      'failed',
    ]);
    expect(a.statuses[0]).toMatchObject({ seen: 25, added: 21, skippedCount: 4 });
  });

  it('a failure on a later page removes no one and keeps what was read', async () => {
    const fake = new PagedFakeDirectory();
    const all = Array.from({ length: 9 }, (_, i) => member(`u${i}`, [`+49151000000${10 + i}`]));
    const { statuses, users } = await run(fake, [all.slice(0, 3)]);
    expect(statuses[0]).toMatchObject({ state: 'ok', added: 3 });
    fake.failAfter = 6;
    const d = await run(fake, [all.slice(0, 3), all]);
    expect(users.map(([k]) => k)).toEqual(['u0', 'u1', 'u2']);
    expect(d.statuses[1]).toMatchObject({ state: 'failed' });
    // u3..u5 arrived on the pages before the failure and are stored; no one was removed.
    expect(d.users.map(([k]) => k)).toEqual(['u0', 'u1', 'u2', 'u3', 'u4', 'u5']);
  });
});
