/**
 * Apply with rollback (as OpenWrt's LuCI does): a change that could cut the admin off from the
 * page (the admin source networks, the names the box answers to, the TLS certificate) is applied
 * at once, then put back by itself unless the admin confirms it from the new settings within
 * the window. A confirmation can only arrive through the new guards, so a confirmed change is
 * one that still lets the admin in; an admin locked out just waits for the timer.
 *
 * One change waits at a time: another risky change is refused until this one is confirmed or
 * rolled back, so a rollback never has to untangle two.
 */
import { randomBytes } from 'node:crypto';
import { describeError } from '../errors.ts';
import { logger } from '../log.ts';

/** [5000...600000] ms, default 90000: long enough to reload the page on the new settings. */
export const DEFAULT_ROLLBACK_MS = 90_000;

export interface PendingInfo {
  id: string;
  /** What changed, in plain words (e.g. "web.adminNetworks"). */
  what: string;
  by: string;
  /** UTC ms when it is rolled back. */
  deadline: number;
  seconds: number;
}

export interface RollbackEvents {
  rolledBack(p: PendingInfo, error?: string): Promise<void> | void;
  confirmed(p: PendingInfo, who: string): Promise<void> | void;
}

const log = logger('web:rollback');

export class RollbackGuard {
  private current: (PendingInfo & { revert: () => Promise<void>; timer: NodeJS.Timeout }) | undefined;

  constructor(
    private readonly events: RollbackEvents,
    readonly windowMs: number = DEFAULT_ROLLBACK_MS,
  ) {}

  pending(): PendingInfo | undefined {
    if (!this.current) return undefined;
    const { revert: _r, timer: _t, ...info } = this.current;
    return info;
  }

  /** Arms the timer for a change already applied; `revert` puts the old state back. */
  arm(what: string, by: string, revert: () => Promise<void>): PendingInfo {
    if (this.current) throw new Error(`a change (${this.current.what}) is waiting for confirmation`);
    const info: PendingInfo = {
      id: randomBytes(12).toString('base64url'),
      what,
      by,
      deadline: Date.now() + this.windowMs,
      seconds: Math.round(this.windowMs / 1000),
    };
    const timer = setTimeout(() => void this.rollBack(), this.windowMs);
    timer.unref();
    this.current = { ...info, revert, timer };
    log.warn({ what, admin: by, seconds: info.seconds }, 'change applied; rolled back unless confirmed');
    return info;
  }

  /** True when `id` was the waiting change (now kept). */
  async confirm(id: string, who: string): Promise<boolean> {
    const c = this.current;
    if (!c || c.id !== id) return false;
    clearTimeout(c.timer);
    this.current = undefined;
    const info = { id: c.id, what: c.what, by: c.by, deadline: c.deadline, seconds: c.seconds };
    await this.events.confirmed(info, who);
    return true;
  }

  /** Rolls the waiting change back now (the timer, or the admin's own "undo"). */
  async rollBack(): Promise<boolean> {
    const c = this.current;
    if (!c) return false;
    clearTimeout(c.timer);
    this.current = undefined;
    const info = { id: c.id, what: c.what, by: c.by, deadline: c.deadline, seconds: c.seconds };
    let error: string | undefined;
    try {
      await c.revert();
      log.warn({ what: c.what }, 'change not confirmed in time: rolled back');
    } catch (e) {
      error = describeError(e);
      log.error({ what: c.what, err: error }, 'rolling back a change failed');
    }
    await this.events.rolledBack(info, error);
    return true;
  }

  /**
   * Service stop: an unconfirmed change is rolled back now, as the timer would have; otherwise
   * a restart inside the window would keep a change nobody confirmed.
   */
  async stop(): Promise<void> {
    await this.rollBack();
  }
}
