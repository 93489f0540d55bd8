/**
 * Serial work queues: one job runs at a time, in the order they were added (zigbee-herdsman's
 * `Queue(concurrent = 1)`). A job that throws rejects its own promise only; the next job still runs.
 *
 * Used for one AT command in flight per modem and for the auth engine's per-challenge and
 * per-user locks.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

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

/**
 * One SerialQueue per key, dropped when its last job settles, so a lock per challenge or per
 * user costs nothing once idle.
 *
 * Re-entrant for the holder: a job that runs under a key may take the same key again (a passcode
 * step that moves a login on to a new challenge retires its own one under the same lock); it
 * runs at once instead of waiting for itself. Any other caller still waits its turn.
 */
export class KeyedSerialQueue {
  private readonly queues = new Map<string, SerialQueue>();
  /** The keys held by the job whose async context this is. */
  private readonly held = new AsyncLocalStorage<ReadonlySet<string>>();

  run<T>(key: string, job: () => Promise<T>): Promise<T> {
    const mine = this.held.getStore();
    if (mine?.has(key)) return job();
    const holding = new Set(mine);
    holding.add(key);
    const guarded = (): Promise<T> => this.held.run(holding, job);
    let q = this.queues.get(key);
    if (!q) {
      q = new SerialQueue();
      this.queues.set(key, q);
    }
    const queue = q;
    const result = queue.run(guarded);
    const drop = (): void => {
      if (queue.size === 0 && this.queues.get(key) === queue) this.queues.delete(key);
    };
    // After the queue's own bookkeeping (its tail settles first): then size counts this job out.
    void queue.idle().then(drop);
    return result;
  }

  /** Keys with work queued or running, for tests. */
  get keys(): number {
    return this.queues.size;
  }
}
