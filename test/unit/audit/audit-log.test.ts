import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../firmware/src/audit/audit-log.ts';
import type { AuditInput, AuditRecord } from '../../../firmware/src/audit/records.ts';
import type { Clock } from '../../../firmware/src/clock.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';

const T0 = Date.parse('2026-12-06T08:00:00Z');

function decision(user: string, outcome: 'accept' | 'reject' = 'reject', t?: number): AuditInput {
  return {
    kind: 'radius',
    ...(t === undefined ? {} : { t }),
    user,
    client: 'netscaler',
    outcome,
    reason: outcome === 'accept' ? 'passcode-ok' : 'bad-password',
  };
}

async function all(log: AuditLog, order: 'asc' | 'desc' = 'asc'): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const e of log.query({}, { order })) out.push(e.record);
  return out;
}

describe('AuditLog', () => {
  let dir: string;
  let store: Store;
  let now = T0;
  const clock: Clock = { now: () => now, monotonic: () => now };
  beforeEach(async () => {
    now = T0;
    dir = await mkdtemp(join(tmpdir(), 'mfabox-audit-'));
    store = await openStore(dir);
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('batches a storm into a few writes and never fsyncs for it', async () => {
    const log = new AuditLog(store, clock, { flushIntervalMs: 50, maxBatch: 1000 });
    const syncs = store.syncCount;
    for (let i = 0; i < 5000; i++) log.record(decision(`u${i}`));
    // record() returned for all 5000 without waiting; nothing is fsynced for them.
    await log.flush();
    expect(store.syncCount).toBe(syncs);
    expect(log.stats()).toMatchObject({ written: 5000, buffered: 0, dropped: 0 });
    const rows = await all(log);
    expect(rows).toHaveLength(5000);
    expect(rows[0]).toMatchObject({ user: 'u0', t: T0 });
    expect(rows[4999]).toMatchObject({ user: 'u4999' });
    await log.stop();
  });

  it('writes waiting records on the flush timer', async () => {
    const log = new AuditLog(store, clock, { flushIntervalMs: 20 });
    log.record(decision('alice'));
    await new Promise((r) => setTimeout(r, 200));
    expect(log.stats().written).toBe(1);
    await log.stop();
  });

  it('fsyncs admin records before recordDurable resolves', async () => {
    const log = new AuditLog(store, clock);
    const syncs = store.syncCount;
    await log.recordDurable({ kind: 'admin', action: 'unlock', actor: 'admin', user: 'bob', outcome: 'ok' });
    expect(store.syncCount).toBe(syncs + 1);
    expect(await all(log)).toEqual([
      { kind: 'admin', t: T0, action: 'unlock', actor: 'admin', user: 'bob', outcome: 'ok' },
    ]);
    await log.stop();
  });

  it('reads newest first with desc, and pages with the key cursor', async () => {
    const log = new AuditLog(store, clock);
    for (let i = 0; i < 5; i++) log.record(decision(`u${i}`, 'reject', T0 + i * 1000));
    const page1: string[] = [];
    let cursor = '';
    for await (const e of log.query({}, { order: 'desc', limit: 2 })) {
      page1.push((e.record as { user: string }).user);
      cursor = e.key;
    }
    const page2: string[] = [];
    for await (const e of log.query({}, { order: 'desc', limit: 2, after: cursor }))
      page2.push((e.record as { user: string }).user);
    expect(page1).toEqual(['u4', 'u3']);
    expect(page2).toEqual(['u2', 'u1']);
    const asc: string[] = [];
    for await (const e of log.query({ since: T0 + 1000, until: T0 + 3000 }))
      asc.push((e.record as { user: string }).user);
    expect(asc).toEqual(['u1', 'u2']);
    await log.stop();
  });

  it('drops records past their age and the oldest beyond the count cap', async () => {
    const log = new AuditLog(store, clock, { maxAgeDays: 30, maxRecords: 1500 });
    for (let i = 0; i < 10; i++) log.record(decision(`old${i}`));
    await log.flush();
    now += 31 * 86_400_000;
    for (let i = 0; i < 2000; i++) log.record(decision(`new${i}`));
    await log.flush();
    expect(await log.sweep()).toBe(10 + 500);
    const kept = await all(log);
    expect(kept).toHaveLength(1500);
    expect(kept[0]).toMatchObject({ user: 'new500' });
    expect(kept.at(-1)).toMatchObject({ user: 'new1999' });
    expect(log.stats().stored).toBe(1500);
    await log.stop();
  });

  it('keeps the count near the cap during a storm, without waiting for the hourly sweep', async () => {
    const log = new AuditLog(store, clock, { maxRecords: 2000, maxBatch: 500, flushIntervalMs: 10 });
    log.start();
    await log.sweep();
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 500; i++) log.record(decision(`s${burst}-${i}`));
      await log.flush();
      await new Promise((r) => setImmediate(r));
    }
    await log.flush();
    await log.sweep();
    const kept = await all(log);
    expect(kept).toHaveLength(2000);
    expect(kept.at(-1)).toMatchObject({ user: 's19-499' });
    expect(log.stats().pruned).toBe(8000);
    await log.stop();
  });

  it('holds records while the store refuses writes, then writes them; drops the oldest beyond the cap', async () => {
    const log = new AuditLog(store, clock, { maxBuffered: 1000, flushIntervalMs: 10 });
    await store.close();
    for (let i = 0; i < 1500; i++) log.record(decision(`u${i}`));
    await log.flush();
    expect(log.stats()).toMatchObject({ written: 0, buffered: 1000, dropped: 500 });
    store = await openStore(dir);
    const again = new AuditLog(store, clock);
    expect(await all(again)).toEqual([]);
    await log.stop();
  });

  it('tells subscribers of each record at once', async () => {
    const log = new AuditLog(store, clock);
    const seen: string[] = [];
    log.subscribe((r) => seen.push(r.kind));
    log.subscribe(() => {
      throw new Error('a broken listener');
    });
    log.record(decision('a'));
    log.record({ kind: 'sms', event: 'sent', challengeId: 'c1', modem: 'm0', messageRefs: [7], parts: 1 });
    expect(seen).toEqual(['radius', 'sms']);
    await log.stop();
  });
});
