import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';

describe('store', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-store-'));
    store = await openStore(dir);
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips typed values per sublevel and keeps sublevels apart', async () => {
    const a = store.table<{ n: number }>('challenges');
    const b = store.table<{ n: number }>('outbox');
    await a.put('k', { n: 1 });
    await b.put('k', { n: 2 });
    expect(await a.get('k')).toEqual({ n: 1 });
    expect(await b.get('k')).toEqual({ n: 2 });
    await a.del('k');
    expect(await a.get('k')).toBeUndefined();
  });

  it('getSync reads what a durable write left, in its own sublevel, right after a reopen', async () => {
    await store.table<{ n: number }>('challenges').put('k', { n: 1 });
    await store.table<{ n: number }>('outbox').put('k', { n: 2 });
    await store.close();
    store = await openStore(dir);
    const a = store.table<{ n: number }>('challenges');
    expect(a.getSync('k')).toEqual({ n: 1 });
    expect(store.table<{ n: number }>('outbox').getSync('k')).toEqual({ n: 2 });
    expect(a.getSync('missing')).toBeUndefined();
    await a.put('k', { n: 3 });
    expect(a.getSync('k')).toEqual({ n: 3 });
  });

  it('shares one fsync between concurrent durable writes (group commit)', async () => {
    const t = store.table<number>('challenges');
    const before = store.syncCount;
    await Promise.all(Array.from({ length: 100 }, (_, i) => t.put(`k${i}`, i)));
    const used = store.syncCount - before;
    expect(used).toBeGreaterThanOrEqual(1);
    expect(used).toBeLessThanOrEqual(2);
    const got: number[] = [];
    for await (const [, v] of t.entries()) got.push(v);
    expect(got.sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('keeps its own RAM small however much data it holds (the soak measured the defaults climbing)', async () => {
    const t = store.table<string>('audit');
    const row = 'x'.repeat(1000);
    // 8 MB written and read back: with LevelDB's defaults (8 MB cache, 4 MB memtable) this holds
    // 6 MB or more; the box's settings hold a 1 MB memtable (two while one flushes) and a 1 MB cache.
    for (let batch = 0; batch < 80; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          t.putFast(`k${String(batch * 100 + i).padStart(5, '0')}`, `${row}${i}`),
        ),
      );
    }
    let rows = 0;
    for await (const [k, v] of t.entries()) {
      if (v.startsWith(row) && (await t.get(k)) === v) rows++;
    }
    expect(rows).toBe(8000);
    expect(store.memoryBytes).toBeGreaterThan(0);
    expect(store.memoryBytes).toBeLessThanOrEqual(3.5 * 2 ** 20);
  });

  it('survives reopen: durable writes are on disk', async () => {
    await store.table<string>('outbox').put('x', 'queued');
    await store.close();
    store = await openStore(dir);
    expect(await store.table<string>('outbox').get('x')).toBe('queued');
  });

  it('scans past one read batch in order, parses only the rows `keep` passes, and stops early on break', async () => {
    const t = store.table<{ n: number }>('audit');
    // More rows than one iterator batch (256), so the scan crosses batches.
    await t.batch(
      Array.from({ length: 600 }, (_, i) => ({
        type: 'put' as const,
        key: String(i).padStart(4, '0'),
        value: { n: i },
      })),
    );
    const all: number[] = [];
    for await (const [, v] of t.entries()) all.push(v.n);
    expect(all).toEqual(Array.from({ length: 600 }, (_, i) => i));
    const seen: string[] = [];
    const odd: number[] = [];
    for await (const [, v] of t.entriesWhere(
      (raw) => {
        seen.push(raw);
        return raw.endsWith('1}') || raw.endsWith('3}');
      },
      { gte: '0100', lt: '0120' },
    ))
      odd.push(v.n);
    expect(seen).toHaveLength(20);
    expect(odd).toEqual([101, 103, 111, 113]);
    const firstTwo: string[] = [];
    for await (const [k] of t.entries({ reverse: true })) {
      firstTwo.push(k);
      if (firstTwo.length === 2) break;
    }
    expect(firstTwo).toEqual(['0599', '0598']);
    // The broken-off scan closed its iterator: the store still closes cleanly (afterEach).
  });

  it('writes across sublevels atomically', async () => {
    const c = store.table<string>('challenges');
    const o = store.table<string>('outbox');
    await store.atomic([
      c.op({ type: 'put', key: '1', value: 'c' }),
      o.op({ type: 'put', key: '1', value: 'o' }),
    ]);
    expect([await c.get('1'), await o.get('1')]).toEqual(['c', 'o']);
  });

  it('keeps each table to its own rows after a write across tables, including a delete', async () => {
    const c = store.table<string>('challenges');
    const o = store.table<string>('outbox');
    await store.atomic([
      c.op({ type: 'put', key: 'a', value: 'c' }),
      o.op({ type: 'put', key: 'a', value: 'o' }),
      o.op({ type: 'put', key: 'b', value: 'o' }),
    ]);
    await store.atomic([o.op({ type: 'del', key: 'a' })]);
    const rows = async (t: typeof c) => {
      const out: [string, string][] = [];
      for await (const e of t.entries()) out.push(e);
      return out;
    };
    expect(await rows(c)).toEqual([['a', 'c']]);
    expect(await rows(o)).toEqual([['b', 'o']]);
  });
});

describe('store failure paths', () => {
  it('rejects a durable write on a closed store instead of hanging', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mfabox-store-closed-'));
    const store = await openStore(dir);
    await store.close();
    const outcome = await Promise.race([
      store
        .table<number>('outbox')
        .put('k', 1)
        .then(
          () => 'resolved',
          (e: unknown) => (e instanceof Error ? e.message : 'rejected'),
        ),
      new Promise((r) => setTimeout(() => r('hung'), 2000)),
    ]);
    expect(outcome).toBe('durable store write failed');
    expect(store.writable).toBe(false);
    await rm(dir, { recursive: true, force: true });
  });

  it('skips a corrupt row while iterating, keeping the others', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mfabox-store-corrupt-'));
    const store = await openStore(dir);
    const t = store.table<{ n: number }>('outbox');
    await t.put('a', { n: 1 });
    await t.put('c', { n: 3 });
    // A row written by something other than the JSON table (a torn write, a bad restore).
    await store.atomic([{ sublevel: 'outbox', type: 'put', key: 'b', value: '{"n":' }]);
    const got: string[] = [];
    for await (const [k] of t.entries()) got.push(k);
    expect(got).toEqual(['a', 'c']);
    await expect(t.get('b')).rejects.toThrow(/not valid JSON/);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
});
