/**
 * Serial work queues: one job runs at a time, in the order they were added (zigbee-herdsman's
 * `Queue(concurrent = 1)`). A job that throws rejects its own promise only; the next job still runs.
 *
 * Used for one AT command in flight per modem and for the auth engine's per-challenge and
 * per-user locks.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  /** Runs `job` after every job added before it has settled. */
  run<T>(job: () => Promise<T>): Promise<T> {
    this.waiting++;
    const settle = (): void => {
      this.waiting--;
    };
    const start = (): Promise<T> => job();
    const result = this.tail.then(start, start);
    this.tail = result.then(settle, settle);
    return result;
  }

  /** Jobs added and not yet settled (the running one included). */
  get size(): number {
    return this.waiting;
  }

  /** Resolves once every job added so far has settled (never rejects). */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}

/** The keys a job holds, handed to it by `KeyedSerialQueue.run` and passed on to nested runs. */
export type HeldLocks = ReadonlySet<string>;

/**
 * One SerialQueue per key, dropped when its last job settles, so a lock per challenge or per
 * user costs nothing once idle.
 *
 * Re-entrant for the holder, explicitly: a job gets the set of keys it holds, and a nested
 * `run` that passes that set back for a key in it runs at once instead of waiting for itself (a
 * passcode step that moves a login on to a new challenge retires its own one under the same
 * lock). Any other caller still waits its turn. Passed by hand, not found through
 * AsyncLocalStorage: that installs promise hooks that cost every promise in the process
 * (~9 % of a passcode check's CPU).
 */
export class KeyedSerialQueue {
  /** key → a promise that settles (never rejects) when the key's last queued job has. */
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, job: (held: HeldLocks) => Promise<T>, held?: HeldLocks): Promise<T> {
    if (held?.has(key)) return job(held);
    const holding = new Set(held);
    holding.add(key);
    const start = (): Promise<T> => job(holding);
    const before = this.tails.get(key);
    let result: Promise<T>;
    if (before) result = before.then(start);
    else {
      // Uncontended (the usual case): runs at once, without a hop through the microtask queue.
      try {
        result = start();
      } catch (e) {
        result = Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    }
    // The key is forgotten once its last job settled, so an idle lock costs nothing. (`tail` is
    // read only when the job has settled, by which time it is assigned.)
    const forget = (): void => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    const tail: Promise<void> = result.then(forget, forget);
    this.tails.set(key, tail);
    return result;
  }

  /** A job for `key` is queued or running. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  /** Keys with work queued or running, for tests. */
  get keys(): number {
    return this.tails.size;
  }
}
