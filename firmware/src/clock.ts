import { randomBytes, randomInt } from 'node:crypto';

/**
 * Time, injected. A Pi has no battery-backed clock, so deadlines inside the process use
 * `monotonic()`; only persisted expiries use `now()` (wall time).
 */
export interface Clock {
  /** Wall time, ms since the epoch. */
  now(): number;
  /** Monotonic time in ms; only differences are meaningful. */
  monotonic(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

/** Randomness, injected so tests can make passcodes and States deterministic. */
export interface Random {
  bytes(n: number): Buffer;
  /** Uniform integer in [0, max). */
  int(max: number): number;
}

export const cryptoRandom: Random = {
  bytes: (n) => randomBytes(n),
  int: (max) => randomInt(max),
};

/** Timers, injected so tests drive backoff and expiry with a fake clock instead of sleeping. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Lets a housekeeping timer not keep the process alive (a real Node timer has `unref`). */
export function unrefTimer(handle: unknown): void {
  if (typeof handle === 'object' && handle !== null && 'unref' in handle) {
    const unref = handle.unref;
    if (typeof unref === 'function') (unref as () => void).call(handle);
  }
}
