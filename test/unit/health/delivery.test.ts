import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../firmware/src/clock.ts';
import { DeliveryWatch } from '../../../firmware/src/health/delivery.ts';
import { takeSnapshot } from '../../../firmware/src/health/health.ts';

const stats = (sent: number, failed: number, expired = 0) => ({
  queued: 0,
  inFlight: 0,
  sent,
  failed,
  expired,
  oldestQueuedAgeMs: null,
});

function fakeClock(): Clock & { advance(ms: number): void } {
  let t = 1000;
  return { now: () => t, monotonic: () => t, advance: (ms) => (t += ms) };
}

describe('DeliveryWatch', () => {
  it('reports a problem after three failures in a row, and clears it on the next success', () => {
    const w = new DeliveryWatch({ clock: fakeClock() });
    expect(w.observe(stats(10, 0)).problem).toBeUndefined();
    expect(w.observe(stats(10, 2)).problem).toBeUndefined();
    const bad = w.observe(stats(10, 2, 1));
    expect(bad.consecutiveFailures).toBe(3);
    expect(bad.problem).toMatch(/last 3 SMS failed/);
    expect(w.observe(stats(11, 3, 1)).problem).toBeUndefined();
  });

  it('re-closes after the hold so a box taken out by the monitor can prove itself again', () => {
    const clock = fakeClock();
    const w = new DeliveryWatch({ clock, holdMs: 60_000 });
    w.observe(stats(5, 0));
    expect(w.observe(stats(5, 3)).problem).toBeDefined();
    clock.advance(59_000);
    expect(w.observe(stats(5, 3)).problem).toBeDefined();
    clock.advance(2_000);
    expect(w.observe(stats(5, 3)).problem).toBeUndefined();
    // One more failure after re-closing trips it again at once.
    expect(w.observe(stats(5, 4)).problem).toBeDefined();
  });

  it('starts afresh when compaction shrinks the totals', () => {
    const w = new DeliveryWatch({ clock: fakeClock() });
    w.observe(stats(10, 0));
    w.observe(stats(10, 5));
    expect(w.observe(stats(2, 1)).consecutiveFailures).toBe(0);
  });

  it('turns the whole box down in the health model while delivery fails', () => {
    const w = new DeliveryWatch({ clock: fakeClock() });
    const snap = (s: ReturnType<typeof stats>) =>
      takeSnapshot({
        modems: () => [{ name: 'm', state: 'registered', bars: 5, sentCount: 1, failedCount: 3 }],
        directory: () => ({ state: 'up' }),
        storeWritable: () => true,
        radius: () => ({ listening: [], clientsWithoutMessageAuthenticator: [], counters: {} }),
        outbox: () => s,
        delivery: () => w.observe(s).problem,
      });
    expect(snap(stats(1, 0)).status).not.toBe('down');
    expect(snap(stats(1, 3)).status).toBe('down');
  });
});
