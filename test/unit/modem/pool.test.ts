import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock, type Clock } from '../../../firmware/src/clock.ts';
import { modemSchema } from '../../../firmware/src/config/schema.ts';
import { ErrorCode, type MfaError } from '../../../firmware/src/errors.ts';
import { decodeSubmit } from '../../../firmware/src/modem/pdu/index.ts';
import { openOutbox } from '../../../firmware/src/dispatch/outbox.ts';
import { ModemPool } from '../../../firmware/src/modem/pool.ts';
import type { ModemHealth } from '../../../firmware/src/modem/types.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import { fakeModem, type FakeModemState } from '../../support/fake-modem.ts';
import type { MemoryTransport } from '../../support/memory-transport.ts';

const TIMEOUTS = { basic: 300, prompt: 300, send: 400, slow: 400, drainQuiet: 20, drainMax: 100 };
const TIMINGS = {
  probe: 200,
  probeTries: 2,
  pollSearching: 50,
  pollRegistered: 500,
  reopenPoll: 20,
  reenumerate: 200,
};

let dir: string;
let store: Store;
const pools: ModemPool[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfabox-pool-'));
  store = await openStore(dir);
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.stop()));
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function pool(
  fakes: { t: MemoryTransport; s: FakeModemState }[],
  maxPerMinute = 60,
  clock: Clock = systemClock,
  timeouts: Partial<typeof TIMEOUTS> = {},
): ModemPool {
  const byPath = new Map(fakes.map((f, i) => [`/fake/${i}`, f.t]));
  const p = new ModemPool(
    fakes.map((_, i) => modemSchema.parse({ name: `m${i}`, path: `/fake/${i}`, maxPerMinute })),
    store,
    clock,
    {
      transportFactory: (o) => byPath.get(o.path) as MemoryTransport,
      timeouts: { ...TIMEOUTS, ...timeouts },
      timings: TIMINGS,
      retryBackoffMs: 20,
    },
  );
  pools.push(p);
  p.start();
  return p;
}

const opts = () => ({ remainingMs: 120_000 });

describe('ModemPool', () => {
  it('health says when each modem last sent (wall clock), and nothing before its first send', async () => {
    const a = fakeModem();
    const b = fakeModem();
    let wall = Date.UTC(2026, 11, 6, 6, 0, 0);
    const p = pool([a, b], 60, { now: () => wall, monotonic: () => performance.now() });
    await p.whenReady(3000);
    expect(p.health().map((h) => h.lastSentAt)).toEqual([undefined, undefined]);
    const r = await p.send('+15550000001', 'one', opts());
    wall += 5000;
    const h = p.health();
    expect(h.find((m) => m.name === r.modem)?.lastSentAt).toBe(Date.UTC(2026, 11, 6, 6, 0, 0));
    expect(h.find((m) => m.name !== r.modem)?.lastSentAt).toBeUndefined();
  });

  it('sends round robin across ready modems and reports health events', async () => {
    const a = fakeModem();
    const b = fakeModem();
    const p = pool([a, b]);
    const events: ModemHealth[][] = [];
    p.on('health', (h: ModemHealth[]) => events.push(h));
    await p.whenReady(3000);
    await new Promise((r) => setTimeout(r, 100));
    const r1 = await p.send('+15550000001', 'one', opts());
    const r2 = await p.send('+15550000001', 'two', opts());
    expect(new Set([r1.modem, r2.modem])).toEqual(new Set(['m0', 'm1']));
    expect(a.s.submits.length + b.s.submits.length).toBe(2);
    expect(events.some((h) => h.some((m) => m.state === 'sending'))).toBe(true);
    expect(p.health().map((h) => h.sentCount)).toEqual([1, 1]);
  });

  it('retries a one-off CMS 512 quickly on another modem', async () => {
    const a = fakeModem({ cmgsFinals: ['+CMS ERROR: 512'] });
    const b = fakeModem({ cmgsFinals: ['+CMS ERROR: 512'] });
    const p = pool([a, b]);
    await p.whenReady(3000);
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    const r = await p.send('+15550000001', 'hi', opts());
    expect(performance.now() - started).toBeLessThan(2000);
    expect(r.messageRefs).toHaveLength(1);
    // Each modem fails once; the second attempt moves to the other modem, the third succeeds.
    expect([a.s.submits.length, b.s.submits.length].sort()).toEqual([1, 2]);
  });

  it('never retries a permanent error, and a CMS 500 before the prompt only once', async () => {
    const a = fakeModem({ cmgsFinals: ['+CMS ERROR: 304'] });
    const p = pool([a]);
    await p.whenReady(3000);
    await expect(p.send('+15550000001', 'hi', opts())).rejects.toMatchObject({
      code: ErrorCode.SmsPermanent,
    });
    expect(a.s.submits).toHaveLength(1);
    a.s.promptFinals = ['+CMS ERROR: 500', '+CMS ERROR: 500'];
    const err = (await p.send('+15550000001', 'hi', opts()).catch((e: unknown) => e)) as MfaError;
    expect(err.code).toBe(ErrorCode.SmsUnknown);
    expect(err.flags.outcomeUnknown).not.toBe(true);
    expect(a.s.promptFinals).toHaveLength(0);
    expect(a.s.submits).toHaveLength(1);
  });

  it.each(['+CMS ERROR: 332', '+CMS ERROR: 500', 'ERROR', '+CMS ERROR: 111', '+CMS ERROR: network timeout'])(
    'an ambiguous %s after Ctrl-Z is outcome-unknown and sent exactly once',
    async (final) => {
      const a = fakeModem({ cmgsAlways: final });
      const b = fakeModem({ cmgsAlways: final });
      const p = pool([a, b]);
      await p.whenReady(3000);
      await new Promise((r) => setTimeout(r, 100));
      const err = (await p.send('+15550000001', 'hi', opts()).catch((e: unknown) => e)) as MfaError;
      expect(err.code).toBe(ErrorCode.SmsUnknown);
      expect(err.flags.outcomeUnknown).toBe(true);
      expect(err.flags.retryable).not.toBe(true);
      expect(a.s.submits.length + b.s.submits.length).toBe(1);
    },
  );

  it.each(['+CMS ERROR: 38', '+CMS ERROR: 47', '+CMS ERROR: 331', '+CMS ERROR: 512'])(
    'a clear refusal %s after Ctrl-Z is retried',
    async (final) => {
      const a = fakeModem({ cmgsFinals: [final] });
      const p = pool([a]);
      await p.whenReady(3000);
      const r = await p.send('+15550000001', 'hi', opts());
      expect(r.messageRefs).toEqual([1]);
      expect(a.s.submits).toHaveLength(2);
    },
  );

  it('gives up after 3 attempts of a retryable error', async () => {
    const a = fakeModem({ cmgsAlways: '+CMS ERROR: 42' });
    const p = pool([a]);
    await p.whenReady(3000);
    await expect(p.send('+15550000001', 'hi', opts())).rejects.toMatchObject({
      code: ErrorCode.SmsRetryable,
    });
    expect(a.s.submits).toHaveLength(3);
  });

  it('a multipart retry resends only the parts that did not go', async () => {
    const a = fakeModem({ cmgsFinals: [undefined, '+CMS ERROR: 41'] });
    const p = pool([a]);
    await p.whenReady(3000);
    let before = 0;
    const r = await p.send('+15550000001', 'y'.repeat(300), {
      ...opts(),
      beforeSubmit: () => {
        before++;
        return Promise.resolve();
      },
    });
    expect(r.messageRefs).toEqual([1, 2]);
    expect(a.s.submits).toHaveLength(3);
    expect(a.s.submits[1]).toBe(a.s.submits[2]);
    expect(before).toBe(1);
  });

  it('does not retry when the outcome is unknown (no answer after Ctrl-Z)', async () => {
    const a = fakeModem({ cmgsFinals: ['hang'] });
    const p = pool([a]);
    await p.whenReady(3000);
    const err = (await p.send('+15550000001', 'hi', opts()).catch((e: unknown) => e)) as MfaError;
    expect(err.flags.outcomeUnknown).toBe(true);
    expect(a.s.submits).toHaveLength(1);
  });

  it('no modem: not ready, Infinity wait, SmsNoModem; expired: SmsExpired', async () => {
    const a = fakeModem({ sim: 'absent' });
    const p = pool([a]);
    await new Promise((r) => setTimeout(r, 200));
    expect(p.ready()).toBe(false);
    expect(p.expectedWaitMs(0)).toBe(Infinity);
    await expect(p.send('+15550000001', 'hi', opts())).rejects.toMatchObject({ code: ErrorCode.SmsNoModem });
    await expect(p.send('+15550000001', 'hi', { remainingMs: -1 })).rejects.toMatchObject({
      code: ErrorCode.SmsExpired,
    });
  });

  it('concurrent callers cannot overshoot the per-SIM budget', async () => {
    const a = fakeModem({ sendDelayMs: 30 });
    const p = pool([a], 2);
    await p.whenReady(3000);
    const results = await Promise.allSettled(
      [1, 2, 3].map((i) => p.send('+15550000001', `m${i}`, { remainingMs: 5_000 })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({
      reason: { code: ErrorCode.SmsRetryable },
    });
    expect(a.s.submits).toHaveLength(2);
  });

  it('respects the per-SIM rate and estimates waits from it', async () => {
    const a = fakeModem();
    const p = pool([a], 1);
    await p.whenReady(3000);
    expect(p.expectedWaitMs(0)).toBe(0);
    expect(p.expectedWaitMs(2)).toBe(120_000);
    await p.send('+15550000001', 'hi', opts());
    expect(p.expectedWaitMs(0)).toBeGreaterThan(55_000);
    // The next slot is a minute away: past this deadline, so it fails fast rather than sending late.
    await expect(p.send('+15550000001', 'hi', { remainingMs: 5_000 })).rejects.toMatchObject({
      code: ErrorCode.SmsRetryable,
    });
    expect(a.s.submits).toHaveLength(1);
  });

  describe('deadlines run on the monotonic clock (NTP steps the wall clock)', () => {
    it('a wall clock stepped forward mid-send does not drop a live passcode; TP-VP stays its real life', async () => {
      let calls = 0;
      // The first reading converts the deadline; every later one is an hour ahead (NTP caught up).
      const clock: Clock = {
        now: () => Date.now() + (calls++ > 0 ? 3_600_000 : 0),
        monotonic: () => performance.now(),
      };
      const a = fakeModem({ cmgsFinals: ['+CMS ERROR: 42'] });
      const p = pool([a], 60, clock);
      await p.whenReady(3000);
      const r = await p.send('+15550000001', 'hi', { remainingMs: 600_000 });
      expect(r.messageRefs).toEqual([1]);
      expect(a.s.submits).toHaveLength(2);
      const vp = decodeSubmit(a.s.submits[1] ?? '').validitySeconds ?? 0;
      // TP-VP counts in 5-minute steps: 10 minutes left is 600 s, not 70 min or nothing.
      expect(vp).toBeGreaterThanOrEqual(300);
      expect(vp).toBeLessThanOrEqual(600);
    });

    it('a wall clock stepped back mid-send does not let a retry after Ctrl-Z go out past the deadline', async () => {
      let offset = 0;
      const clock: Clock = { now: () => Date.now() + offset, monotonic: () => performance.now() };
      // The refusal comes after the deadline; meanwhile the wall clock jumps back an hour.
      const a = fakeModem({ cmgsFinals: ['+CMS ERROR: 42'], sendDelayMs: 1300 });
      const p = pool([a], 60, clock, { send: 3000 });
      await p.whenReady(3000);
      setTimeout(() => (offset = -3_600_000), 300);
      const err = (await p
        .send('+15550000001', 'hi', { remainingMs: 1_200 })
        .catch((e: unknown) => e)) as MfaError;
      expect(err.code).toBe(ErrorCode.SmsExpired);
      expect(a.s.submits).toHaveLength(1);
    });
  });
});

describe('ModemPool.reconfigure (live apply)', () => {
  const cfg = (name: string, path: string, maxPerMinute = 60) =>
    modemSchema.parse({ name, path, maxPerMinute });

  /**
   * A ready pool of one modem m0 on /fake/0 (answering each send after `sendDelayMs`), and the
   * device at /fake/1 that a reconfigure can move it to.
   */
  async function portMovingPool(sendDelayMs: number) {
    const a = fakeModem({ sendDelayMs });
    const b = fakeModem();
    const byPath = new Map([
      ['/fake/0', a.t],
      ['/fake/1', b.t],
    ]);
    const p = new ModemPool([cfg('m0', '/fake/0')], store, systemClock, {
      transportFactory: (o) => byPath.get(o.path) as MemoryTransport,
      timeouts: TIMEOUTS,
      timings: TIMINGS,
      retryBackoffMs: 20,
    });
    pools.push(p);
    p.start();
    await p.whenReady(3000);
    return { a, b, p };
  }

  it('adds, keeps, changes and removes modems in place', async () => {
    const a = fakeModem();
    const b = fakeModem();
    const c = fakeModem();
    const p = pool([a, b]);
    await p.whenReady(3000);
    const [m0, m1] = p.modems();
    // m0 unchanged but for its rate budget: the same modem keeps running; m1 leaves; m2 arrives.
    await p.reconfigure([cfg('m0', '/fake/0', 30), cfg('m2', '/fake/2')]);
    expect(p.modems()[0]).toBe(m0);
    expect(p.modems().map((m) => m.name)).toEqual(['m0', 'm2']);
    expect(b.t.isOpen).toBe(false);
    expect(p.health().find((h) => h.name === 'm1')).toBeUndefined();
    expect(m1?.canSend()).toBe(false);
    void c;
  });

  it('a changed modem is stopped and started with its new settings; no send is lost or doubled', async () => {
    const { a, b, p } = await portMovingPool(150);
    const before = p.modems()[0];
    // Four sends in flight or waiting on m0 when its port changes to /fake/1 (another device).
    const sends = ['one', 'two', 'three', 'four'].map((t) =>
      p.send('+15550000001', t, opts()).then(
        (r) => ({ ok: true as const, modem: r.modem }),
        (e: unknown) => ({ ok: false as const, e: e as MfaError }),
      ),
    );
    await new Promise((r) => setTimeout(r, 30));
    await p.reconfigure([cfg('m0', '/fake/1')]);
    expect(p.modems()[0]).not.toBe(before);
    expect(a.t.isOpen).toBe(false);
    const results = await Promise.all(sends);
    // What went out before the change was drained (its final awaited), not cut off; what had not
    // reached the prompt either moved to the new modem or came back as "no modem now", which the
    // outbox waits out. Nothing was sent twice.
    for (const r of results)
      if (!r.ok) expect([ErrorCode.SmsNoModem, ErrorCode.SmsRetryable]).toContain(r.e.code);
    const sent = results.filter((r) => r.ok).length;
    expect(a.s.submits.length + b.s.submits.length).toBe(sent);
    expect(a.s.submits.length).toBeGreaterThanOrEqual(1);
    // The new modem comes up and sends.
    await p.whenReady(3000);
    await p.send('+15550000001', 'after', opts());
    expect(b.s.submits.length).toBeGreaterThanOrEqual(1);
  });

  it('with the outbox in front, every queued passcode goes out exactly once across the change', async () => {
    const { a, b, p } = await portMovingPool(100);
    const outbox = await openOutbox({
      store,
      sender: p,
      deviceKey: randomBytes(32),
      options: { lookahead: 3 },
    });
    try {
      const ids = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
      for (const id of ids)
        await outbox.enqueue({
          challengeId: id,
          to: '+15550000001',
          text: `code ${id}`,
          expiresAt: Date.now() + 60_000,
        });
      await new Promise((r) => setTimeout(r, 50));
      await p.reconfigure([cfg('m0', '/fake/1')]);
      await vi.waitFor(
        async () => {
          for (const id of ids) expect(await outbox.status(id)).toBe('sent');
        },
        { timeout: 10_000, interval: 50 },
      );
      const texts = [...a.s.submits, ...b.s.submits].map((hex) => decodeSubmit(hex).text).sort();
      expect(texts).toEqual(ids.map((id) => `code ${id}`).sort());
    } finally {
      await outbox.close(1000);
    }
  });
});
