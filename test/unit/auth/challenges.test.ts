import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChallengeStore, storedExpiry, type ChallengeRecord } from '../../../firmware/src/auth/challenges.ts';
import { openStore, type Store, type StoreOp, type Table } from '../../../firmware/src/store/store.ts';
import { FakeClock } from './doubles.ts';

function record(id: string, over: Partial<ChallengeRecord> = {}): ChallengeRecord {
  return {
    id,
    user: `user-${id}`,
    login: `user-${id}`,
    stateIds: [`${id}-s1`],
    passcodeHash: 'ab'.repeat(32),
    salt: 'cd'.repeat(16),
    expiresAt: Date.UTC(2026, 0, 1) + 300_000,
    attempts: 0,
    maxAttempts: 3,
    nas: 'nas',
    createdAt: Date.UTC(2026, 0, 1),
    to: '+15550000001',
    used: false,
    ...over,
  };
}

/** The store's raw record, read past any cache. */
async function onDisk(store: Store, id: string): Promise<ChallengeRecord | undefined> {
  return store.table<ChallengeRecord>('challenges').get(`c:${id}`);
}

describe('ChallengeStore cache (write-through, never ahead of the disk)', () => {
  let dir: string;
  let store: Store;
  let clock: FakeClock;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-challenges-'));
    store = await openStore(dir);
    clock = new FakeClock();
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a created and then updated record from memory, and the disk holds the same', async () => {
    const cs = new ChallengeStore(store, clock);
    await cs.create(record('a'), []);
    await cs.save({ ...record('a'), attempts: 2 });
    // Write behind the cache's back: a cached read must not see it.
    await store.table<ChallengeRecord>('challenges').put('c:a', record('a', { attempts: 9 }));
    expect((await cs.get('a'))?.attempts).toBe(2);
    expect(await cs.idForState('a-s1')).toBe('a');
    expect((await cs.byState('a-s1'))?.id).toBe('a');
    // A fresh instance (a restart) reads the disk.
    expect((await new ChallengeStore(store, clock).get('a'))?.attempts).toBe(9);
  });

  it('a failed durable write leaves the cache holding nothing newer than the disk', async () => {
    const cs0 = new ChallengeStore(store, clock);
    await cs0.create(record('a'), []);
    let fail = false;
    const flaky: Store = {
      table: <V>(n: Parameters<Store['table']>[0]): Table<V> => {
        const t = store.table<V>(n);
        return {
          ...t,
          name: t.name,
          get: (k: string) => t.get(k),
          getSync: (k: string) => t.getSync(k),
          op: (o) => t.op(o),
          entries: (r) => t.entries(r),
          put: (k: string, v: V) => (fail ? Promise.reject(new Error('disk full')) : t.put(k, v)),
        };
      },
      atomic: (ops: StoreOp[]) => (fail ? Promise.reject(new Error('disk full')) : store.atomic(ops)),
      get syncCount() {
        return store.syncCount;
      },
      get writable() {
        return !fail;
      },
      get memoryBytes() {
        return store.memoryBytes;
      },
      close: () => store.close(),
    };
    const cs = new ChallengeStore(flaky, clock);
    expect((await cs.get('a'))?.used).toBe(false);
    fail = true;
    await expect(cs.save({ ...record('a'), used: true })).rejects.toThrow('disk full');
    fail = false;
    // What the disk says, not what the failed write wanted.
    expect((await cs.get('a'))?.used).toBe(false);
    expect((await onDisk(store, 'a'))?.used).toBe(false);
  });

  it('a disk read that began before a write does not put the older record back', async () => {
    const cs0 = new ChallengeStore(store, clock);
    await cs0.create(record('a'), []);
    const cs = new ChallengeStore(store, clock);
    const slowRead = cs.get('a'); // misses the cache, reads the disk
    await cs.save({ ...record('a'), used: true });
    await slowRead;
    expect((await cs.get('a'))?.used).toBe(true);
  });

  it('holds at most its cap; an evicted record is read from disk again, unchanged', async () => {
    const cs = new ChallengeStore(store, clock, 2);
    for (const id of ['a', 'b', 'c']) await cs.create(record(id), []);
    await store.table<ChallengeRecord>('challenges').put('c:c', record('c', { attempts: 1 }));
    await store.table<ChallengeRecord>('challenges').put('c:a', record('a', { attempts: 1 }));
    // 'c' is cached (the write behind its back is not seen); 'a' was evicted and comes from disk.
    expect((await cs.get('c'))?.attempts).toBe(0);
    expect((await cs.get('a'))?.attempts).toBe(1);
    // Its State is found through the disk's State key once its record left the cache.
    expect(await cs.idForState('b-s1')).toBe('b');
  });

  it('warm() loads live challenges only, and not over a write made while it ran', async () => {
    const cs0 = new ChallengeStore(store, clock);
    await cs0.create(record('live'), []);
    await cs0.create(record('used', { used: true }), []);
    await cs0.create(record('old', { expiresAt: clock.now() - 1 }), []);
    await cs0.create(record('raced'), []);
    const cs = new ChallengeStore(store, clock);
    const warming = cs.warm();
    await cs.save({ ...record('raced'), attempts: 1 });
    await store.table<ChallengeRecord>('challenges').put('c:live', record('live', { attempts: 2 }));
    expect(await warming).toBeGreaterThanOrEqual(1);
    expect((await cs.get('raced'))?.attempts).toBe(1);
  });

  it('warm() fills the cache so a State of a live challenge needs no disk read', async () => {
    const cs0 = new ChallengeStore(store, clock);
    await cs0.create(record('live'), []);
    await cs0.create(record('used', { used: true }), []);
    const cs = new ChallengeStore(store, clock);
    expect(await cs.warm()).toBe(1);
    // Changed on disk behind the cache: the warmed copy is what a read returns.
    await store.table<ChallengeRecord>('challenges').del('s:live-s1');
    expect(await cs.idForState('live-s1')).toBe('live');
    expect(await cs.idForState('used-s1')).toBe('used');
  });

  it('a record that can never pass again leaves memory once durable; its State still resolves from disk', async () => {
    const cs = new ChallengeStore(store, clock);
    await cs.create(record('a'), []);
    await cs.save({ ...record('a'), used: true });
    // Not cached: a write behind its back is what a read returns.
    await store.table<ChallengeRecord>('challenges').put('c:a', record('a', { used: true, attempts: 1 }));
    expect(await cs.get('a')).toMatchObject({ used: true, attempts: 1 });
    expect((await cs.byState('a-s1'))?.used).toBe(true);
  });

  it('use() keeps the spent form: the replay answer and the sweep have what they need, the passcode hash is gone', async () => {
    const cs = new ChallengeStore(store, clock);
    const live = record('a', {
      groups: ['VPN Users'],
      callingStationId: '203.0.113.9',
      method: 'sms',
      chain: ['sms', 'email'],
      step: 0,
      numbers: { primary: '+15550000001', secondary: '+15550000002' },
      email: 'a@example.com',
    });
    await cs.create(live, []);
    const extra = store.table<{ n: number }>('ip-history').op({ type: 'put', key: 'k', value: { n: 1 } });
    await cs.use(live, 1234, [extra]);
    const kept = await onDisk(store, 'a');
    expect(kept).toEqual({
      id: 'a',
      user: 'user-a',
      login: 'user-a',
      stateIds: ['a-s1'],
      passcodeHash: '',
      salt: '',
      expiresAt: live.expiresAt,
      attempts: 0,
      maxAttempts: 3,
      nas: 'nas',
      callingStationId: '203.0.113.9',
      createdAt: live.createdAt,
      to: '+15550000001',
      email: 'a@example.com',
      used: true,
      usedAt: 1234,
    });
    expect(JSON.stringify(kept).length).toBeLessThan(JSON.stringify(live).length * 0.75);
    expect(await store.table<{ n: number }>('ip-history').get('k')).toEqual({ n: 1 });
    // A replay of its State finds it used.
    const again = await cs.byState('a-s1');
    expect(again && cs.condition(again)).toBe('used');
    // And the sweep still removes it with its State.
    clock.advance(live.expiresAt - clock.now() + 10_000);
    expect(await cs.sweep(0)).toBe(1);
    expect(await cs.idForState('a-s1')).toBeUndefined();
  });

  it('sweep() reads expiry off the stored JSON: user-supplied text cannot fake it, odd rows are parsed', async () => {
    const at = Date.UTC(2026, 0, 1) + 300_000;
    expect(storedExpiry(JSON.stringify(record('a')))).toBe(at);
    // A login that spells the key, quotes and all, is escaped inside its string and never matches.
    const sly = record('b', { user: 'x","expiresAt":1,"y', login: '"expiresAt":2}', expiresAt: at });
    expect(storedExpiry(JSON.stringify(sly))).toBe(at);
    // No plain integer there: undefined, so the sweep parses the row and judges it as before.
    expect(storedExpiry('{"expiresAt":1.5e12,"id":"c"}')).toBeUndefined();
    expect(storedExpiry('{"expiresAt":null}')).toBeUndefined();
    expect(storedExpiry('{"id":"c"}')).toBeUndefined();

    const cs = new ChallengeStore(store, clock);
    await cs.create(sly, []);
    await cs.create(record('c', { expiresAt: at + 600_000 }), []);
    // An old row without a readable expiry is still swept (parsed: its expiresAt is past).
    await store.atomic([
      {
        sublevel: 'challenges',
        type: 'put',
        key: 'c:d',
        value: JSON.stringify(record('d')).replace(`"expiresAt":${at}`, `"expiresAt":${at}.0`),
      },
    ]);
    clock.advance(400_000);
    expect(await cs.sweep(0)).toBe(2);
    expect(await onDisk(store, 'b')).toBeUndefined();
    expect(await onDisk(store, 'd')).toBeUndefined();
    expect((await onDisk(store, 'c'))?.id).toBe('c');
  });

  it('sweep() drops swept records from memory too', async () => {
    const cs = new ChallengeStore(store, clock);
    await cs.create(record('a'), []);
    clock.advance(400_000);
    expect(await cs.sweep(0)).toBe(1);
    expect(await cs.get('a')).toBeUndefined();
    expect(await cs.idForState('a-s1')).toBeUndefined();
  });
});
