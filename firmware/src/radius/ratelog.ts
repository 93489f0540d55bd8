/**
 * Log lines for dropped packets, rate limited. A flood of bad packets must not become a flood of
 * log lines (the SD card and the syslog receiver pay for those), yet the first of each kind must
 * be seen. Each key logs at most once per interval and says how many it held back; a global
 * budget caps keys an attacker can mint (e.g. spoofed source addresses). State is capped.
 */
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';

export interface RateLimitedLogOptions {
  /** [100...3600000] ms, default 10000: one line per key per interval. */
  intervalMs?: number;
  /** [16...100000], default 1024: keys remembered; the oldest is forgotten first. */
  maxKeys?: number;
  /** [1...1000], default 20: lines per interval across all keys. */
  burst?: number;
}

interface KeyState {
  last: number;
  suppressed: number;
}

export class RateLimitedLog {
  private readonly keys = new Map<string, KeyState>();
  private readonly intervalMs: number;
  readonly maxKeys: number;
  private readonly burst: number;
  private windowStart = -Infinity;
  private windowCount = 0;
  private heldBack = 0;

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
    opts: RateLimitedLogOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 10_000;
    this.maxKeys = opts.maxKeys ?? 1024;
    this.burst = opts.burst ?? 20;
  }

  get size(): number {
    return this.keys.size;
  }

  warn(key: string, fields: Record<string, unknown>, msg: string, intervalMs = this.intervalMs): void {
    this.emit('warn', key, fields, msg, intervalMs);
  }

  info(key: string, fields: Record<string, unknown>, msg: string, intervalMs = this.intervalMs): void {
    this.emit('info', key, fields, msg, intervalMs);
  }

  private emit(
    level: 'warn' | 'info',
    key: string,
    fields: Record<string, unknown>,
    msg: string,
    intervalMs: number,
  ): void {
    const now = this.clock.monotonic();
    const st = this.keys.get(key);
    if (st && now - st.last < intervalMs) {
      st.suppressed++;
      return;
    }
    if (now - this.windowStart >= this.intervalMs) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    if (this.windowCount >= this.burst) {
      this.heldBack++;
      if (st) st.suppressed++;
      return;
    }
    this.windowCount++;
    const extra: Record<string, unknown> = {};
    if (st && st.suppressed > 0) extra.suppressed = st.suppressed;
    if (this.heldBack > 0) {
      extra.suppressedOtherKinds = this.heldBack;
      this.heldBack = 0;
    }
    this.keys.delete(key);
    this.keys.set(key, { last: now, suppressed: 0 });
    while (this.keys.size > this.maxKeys) {
      const oldest = this.keys.keys().next();
      if (oldest.done) break;
      this.keys.delete(oldest.value);
    }
    this.log[level]({ ...fields, ...extra }, msg);
  }
}
