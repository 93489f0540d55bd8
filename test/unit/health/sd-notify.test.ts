import { describe, expect, it } from 'vitest';
import { sdNotifier } from '../../../firmware/src/health/sd-notify.ts';

function fakeTimers(): {
  setInterval: (fn: () => void, ms: number) => { unref(): void };
  clearInterval: (t: unknown) => void;
  tick: () => void;
  periods: number[];
} {
  const fns = new Map<object, () => void>();
  const periods: number[] = [];
  return {
    setInterval(fn, ms) {
      const t = { unref: () => undefined };
      fns.set(t, fn);
      periods.push(ms);
      return t;
    },
    clearInterval: (t) => void fns.delete(t as object),
    tick: () => fns.forEach((f) => f()),
    periods,
  };
}

describe('sdNotifier', () => {
  it('sends nothing outside systemd', async () => {
    const sent: string[][] = [];
    const n = sdNotifier({ env: {}, run: (a) => Promise.resolve(void sent.push(a)) });
    await n.ready();
    n.startWatchdog();
    expect(n.active).toBe(false);
    expect(n.watchdogIntervalMs).toBeUndefined();
    expect(sent).toEqual([]);
  });

  it('says ready, pings at half of WatchdogSec from a timer, and stops pinging when stopped', async () => {
    const sent: string[][] = [];
    const timers = fakeTimers();
    const n = sdNotifier({
      env: { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) },
      run: (a) => Promise.resolve(void sent.push(a)),
      ...timers,
    });
    await n.ready('ok');
    n.startWatchdog();
    expect(timers.periods).toEqual([15000]);
    timers.tick();
    timers.tick();
    n.stopWatchdog();
    timers.tick();
    await n.stopping();
    expect(sent).toEqual([['--ready', '--status=ok'], ['WATCHDOG=1'], ['WATCHDOG=1'], ['STOPPING=1']]);
  });

  it('does not ping for another process (WATCHDOG_PID is not ours)', () => {
    const n = sdNotifier({
      env: { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' },
      run: () => Promise.resolve(),
    });
    expect(n.watchdogIntervalMs).toBeUndefined();
  });

  it('survives a failing systemd-notify', async () => {
    const n = sdNotifier({
      env: { NOTIFY_SOCKET: '/run/x' },
      run: () => Promise.reject(new Error('ENOENT')),
    });
    await expect(n.ready()).resolves.toBeUndefined();
  });
});
