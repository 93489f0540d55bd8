/**
 * Sliding-window counters that survive a restart: the SMS budgets (per user, per end-user IP, for
 * the whole box) and the bad-password throttle. A restart must not hand an attacker a fresh budget.
 *
 * Each key holds the wall times (ms) of its recent events in the store's 'counters' table. Wall
 * time, because monotonic time starts again at every boot; a clock that jumps forward (a Pi's
 * first NTP sync) forgets old events, one that jumps back keeps them. Writes use `putFast`: a
 * process restart keeps them (the OS has them), only a power cut may lose the last few, and an
 * attacker cannot cause one. Work on one key is serialised in this process, so two logins never
 * both take the last slot.
 */
import type { Clock } from '../clock.ts';
import type { Store, Table } from '../store/store.ts';
import { KeyedSerialQueue } from '../queue.ts';

export interface WindowLimit {
  /** Events allowed per window; 0 = no limit. */
  max: number;
  windowMs: number;
}

/** `at`: the wall ms the event was counted at, for `giveBack`. */
export type TakeResult =
  { ok: true; count: number; at: number } | { ok: false; count: number; retryInMs: number };

interface Events {
  /** Wall ms, oldest first. */
  t: number[];
}

/** Keys kept in memory; the store has them all. */
const CACHE_KEYS = 20_000;

export class RateWindows {
  private readonly table: Table<Events>;
  private readonly cache = new Map<string, number[]>();
  private readonly serial = new KeyedSerialQueue();

  constructor(
    store: Store,
    private readonly clock: Clock,
    /** Key prefix in the counters table, e.g. "sms-user". */
    private readonly prefix: string,
  ) {
    this.table = store.table<Events>('counters');
  }

  private storeKey(key: string): string {
    return `${this.prefix}:${key}`;
  }

  private async load(key: string, windowMs: number, now: number): Promise<number[]> {
    let t = this.cache.get(key);
    if (t === undefined) t = (await this.table.get(this.storeKey(key)))?.t ?? [];
    const recent = t.filter((x) => now - x < windowMs);
    this.remember(key, recent);
    return recent;
  }

  private remember(key: string, t: number[]): void {
    this.cache.delete(key);
    this.cache.set(key, t);
    while (this.cache.size > CACHE_KEYS) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cache.delete(oldest.value);
    }
  }

  private async save(key: string, t: number[]): Promise<void> {
    this.remember(key, t);
    if (t.length === 0) await this.table.del(this.storeKey(key));
    else await this.table.putFast(this.storeKey(key), { t });
  }

  /** Counts one event if the limit allows it; a refused event is not counted. */
  take(key: string, limit: WindowLimit): Promise<TakeResult> {
    return this.serial.run(key, async () => {
      const now = this.clock.now();
      const recent = await this.load(key, limit.windowMs, now);
      if (limit.max > 0 && recent.length >= limit.max) {
        const oldest = recent[recent.length - limit.max] ?? now;
        return { ok: false, count: recent.length, retryInMs: Math.max(0, oldest + limit.windowMs - now) };
      }
      recent.push(now);
      // Only the newest `max` matter for the decision; keep the row small under a flood.
      const keep = limit.max > 0 ? recent.slice(-limit.max) : recent.slice(-1000);
      await this.save(key, keep);
      return { ok: true, count: recent.length, at: now };
    });
  }

  /** Uncounts an event `take` counted at `at` (a later check refused the action it was for). */
  giveBack(key: string, at: number, windowMs: number): Promise<void> {
    return this.serial.run(key, async () => {
      const recent = await this.load(key, windowMs, this.clock.now());
      const i = recent.lastIndexOf(at);
      if (i < 0) return;
      recent.splice(i, 1);
      await this.save(key, recent);
    });
  }

  /** Counts one event whatever the limit; returns the count in the window, this one included. */
  add(key: string, windowMs: number, keepAtMost = 1000): Promise<number> {
    return this.serial.run(key, async () => {
      const now = this.clock.now();
      const recent = await this.load(key, windowMs, now);
      recent.push(now);
      await this.save(key, recent.slice(-keepAtMost));
      return recent.length;
    });
  }

  /** Events in the window now, without counting one. */
  count(key: string, windowMs: number): Promise<number> {
    return this.serial.run(key, async () => (await this.load(key, windowMs, this.clock.now())).length);
  }

  clear(key: string): Promise<void> {
    return this.serial.run(key, () => this.save(key, []));
  }

  /** Deletes rows with no event newer than `maxWindowMs` (a flood of made-up names must not fill the card). */
  async sweep(maxWindowMs: number): Promise<number> {
    const now = this.clock.now();
    const gone: string[] = [];
    for await (const [k, v] of this.table.entries({ gt: `${this.prefix}:`, lt: `${this.prefix};` })) {
      const last = v.t[v.t.length - 1];
      if (last === undefined || now - last >= maxWindowMs) gone.push(k);
    }
    for (const k of gone) {
      const key = k.slice(this.prefix.length + 1);
      await this.serial.run(key, async () => {
        this.cache.delete(key);
        await this.table.del(k);
      });
    }
    return gone.length;
  }
}
