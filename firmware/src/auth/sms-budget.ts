/**
 * How many NEW passcodes (SMS) one user may trigger in a window. A phished password otherwise
 * buys an attacker one SMS every few RADIUS packets: the victim's phone is flooded and the SIM's
 * per-minute budget is drained, so every other user gets "SMS service unavailable".
 * A re-login that reuses a pending code costs nothing. Kept in memory (bounded): a restart is
 * not something an attacker can cause, and the limit must never block the store.
 */
import type { Clock } from '../clock.ts';

export interface SmsBudgetOptions {
  /** [1...100], default 5 new passcodes per user per window. */
  max: number;
  /** [1 min...24 h] ms, default 15 min. */
  windowMs: number;
  /** [100...1,000,000], default 100,000 users remembered (oldest forgotten first). */
  capUsers?: number;
}

export type BudgetDecision = { ok: true } | { ok: false; retryInMs: number };

export class SmsBudget {
  private readonly sent = new Map<string, number[]>();
  private readonly capUsers: number;

  constructor(
    private readonly clock: Clock,
    private readonly opts: () => SmsBudgetOptions,
  ) {
    this.capUsers = opts().capUsers ?? 100_000;
  }

  /** Whether `user` may get a new passcode now; when yes, it is counted. */
  take(user: string): BudgetDecision {
    const { max, windowMs } = this.opts();
    const now = this.clock.monotonic();
    const recent = (this.sent.get(user) ?? []).filter((t) => now - t < windowMs);
    if (recent.length >= max) {
      this.sent.set(user, recent);
      return { ok: false, retryInMs: Math.max(0, (recent[0] ?? now) + windowMs - now) };
    }
    recent.push(now);
    // Re-insert so Map order is least-recently-used first.
    this.sent.delete(user);
    this.sent.set(user, recent);
    while (this.sent.size > this.capUsers) {
      const oldest = this.sent.keys().next();
      if (oldest.done) break;
      this.sent.delete(oldest.value);
    }
    return { ok: true };
  }

  get size(): number {
    return this.sent.size;
  }
}
