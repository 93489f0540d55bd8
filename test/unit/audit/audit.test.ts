import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../firmware/src/audit/audit.ts';
import type { Clock } from '../../../firmware/src/clock.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';

describe('AuditLog', () => {
  let dir: string;
  let store: Store;
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock: Clock = { now: () => now, monotonic: () => now };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-audit-'));
    store = await openStore(dir);
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads newest first', async () => {
    const a = new AuditLog(store, clock);
    await a.record({ kind: 'auth', user: 'alice', outcome: 'reject' });
    now += 1000;
    await a.record({ kind: 'auth', user: 'bob', outcome: 'accept' });
    expect((await a.recent(10)).map((r) => r.user)).toEqual(['bob', 'alice']);
  });

  it('drops records past their age and the oldest beyond the count cap', async () => {
    const a = new AuditLog(store, clock, { maxAgeDays: 30, maxRecords: 1500, sweepIntervalMs: 60_000 });
    for (let i = 0; i < 10; i++) await a.record({ kind: 'old', user: `o${i}` });
    now += 31 * 86_400_000;
    await Promise.all(Array.from({ length: 2000 }, (_, i) => a.record({ kind: 'new', user: `n${i}` })));
    expect(await a.sweep()).toBe(10 + 500);
    const kept = await a.recent(5000);
    expect(kept).toHaveLength(1500);
    expect(kept.every((r) => r.kind === 'new')).toBe(true);
    // The newest survive the cap.
    expect(kept.some((r) => r.user === 'n1999')).toBe(true);
    expect(await a.sweep()).toBe(0);
  });
});
