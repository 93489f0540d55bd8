/**
 * Whether SMS actually arrive at the network. A modem can be registered with full bars while
 * every send fails (a prepaid SIM out of credit, SMS barred by the operator): its state stays
 * "registered", so health must also look at outcomes, or the monitor keeps answering Accept while
 * every user is locked out.
 *
 * It is a circuit breaker, not a latch: the problem holds for `holdMs` after the last failure.
 * A box reported down gets no logins (the NAS monitor takes it out), so it could never see the
 * success that clears a latch; after the hold the next logins test delivery again.
 */
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import type { OutboxStats } from '../dispatch/types.ts';

export interface DeliveryVerdict {
  /** Sends that failed or expired since the last one that went out. */
  consecutiveFailures: number;
  problem?: string;
}

export interface DeliveryWatchOptions {
  /** [1...100], default 3: this many failures in a row with no success make delivery "down". */
  threshold?: number;
  /** [10 s...1 h] ms, default 5 min: how long the problem holds after the last failure. */
  holdMs?: number;
  clock?: Clock;
}

export class DeliveryWatch {
  private lastSent: number | undefined;
  private lastBad = 0;
  private badAtLastSuccess = 0;
  private lastBadAt = 0;
  private readonly threshold: number;
  private readonly holdMs: number;
  private readonly clock: Clock;

  constructor(opts: DeliveryWatchOptions = {}) {
    this.threshold = opts.threshold ?? 3;
    this.holdMs = opts.holdMs ?? 300_000;
    this.clock = opts.clock ?? systemClock;
  }

  /** Feed the outbox's running totals (called on every health read). */
  observe(s: OutboxStats): DeliveryVerdict {
    const bad = s.failed + s.expired;
    const now = this.clock.monotonic();
    // Totals shrink when old final entries are compacted: start counting afresh.
    if (this.lastSent === undefined || s.sent < this.lastSent || bad < this.lastBad) {
      this.lastSent = s.sent;
      this.lastBad = bad;
      this.badAtLastSuccess = bad;
      return { consecutiveFailures: 0 };
    }
    if (s.sent > this.lastSent) this.badAtLastSuccess = bad;
    if (bad > this.lastBad) this.lastBadAt = now;
    this.lastSent = s.sent;
    this.lastBad = bad;
    const consecutiveFailures = bad - this.badAtLastSuccess;
    if (consecutiveFailures < this.threshold) return { consecutiveFailures };
    if (now - this.lastBadAt >= this.holdMs) {
      // Half-open: let the next logins try again; three more failures trip it at once.
      this.badAtLastSuccess = bad - (this.threshold - 1);
      return { consecutiveFailures };
    }
    return {
      consecutiveFailures,
      problem: `the last ${consecutiveFailures} SMS failed or expired and none went out since (SIM credit, barring, or the network refusing SMS)`,
    };
  }
}
