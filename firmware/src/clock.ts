import { randomFillSync, randomInt } from 'node:crypto';

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

/**
 * CSPRNG bytes handed out from a pool that is refilled `size` bytes at a time. node's randomBytes
 * costs ~4 µs a call in its crypto-job machinery (measured: 4.2–4.5 µs for 16 bytes, against
 * ~0.2 µs for a slice of a pool), and one login draws five or six times (State, challenge id,
 * passcode, salt, the SMS text's nonce). node's own randomInt and randomUUID pool the same way.
 * Each byte is handed out once and wiped from the pool as it is taken, so the pool never keeps a
 * copy of a passcode or a key; each draw is its own allocation, never a slice of a shared slab.
 */
export class RandomPool {
  private readonly pool: Buffer;
  private next: number;

  constructor(
    private readonly size = 4096,
    private readonly fill: (b: Buffer) => void = (b) => void randomFillSync(b),
  ) {
    this.pool = Buffer.alloc(size);
    this.next = size;
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafeSlow(n);
    // A large draw (a rare key or seed) is filled directly rather than emptying the pool.
    if (n > this.size / 4) {
      this.fill(out);
      return out;
    }
    if (this.next + n > this.size) {
      this.fill(this.pool);
      this.next = 0;
    }
    this.pool.copy(out, 0, this.next, this.next + n);
    this.pool.fill(0, this.next, this.next + n);
    this.next += n;
    return out;
  }
}

const pool = new RandomPool();

export const cryptoRandom: Random = {
  bytes: (n) => pool.bytes(n),
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
