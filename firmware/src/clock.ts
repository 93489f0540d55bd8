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
