import { describe, expect, it } from 'vitest';
import { KeyedSerialQueue, SerialQueue } from '../../firmware/src/queue.ts';

function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('SerialQueue', () => {
  it('runs one job at a time, in order, and a failure does not stop the next', async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    const first = deferred();
    const a = q.run(async () => {
      log.push('a start');
      await first.promise;
      log.push('a end');
      throw new Error('a failed');
    });
    const b = q.run(() => {
      log.push('b');
      return Promise.resolve(2);
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual(['a start']);
    expect(q.size).toBe(2);
    first.resolve();
    await expect(a).rejects.toThrow('a failed');
    await expect(b).resolves.toBe(2);
    expect(log).toEqual(['a start', 'a end', 'b']);
    await q.idle();
    expect(q.size).toBe(0);
  });

  it('idle waits for every job added so far and never rejects', async () => {
    const q = new SerialQueue();
    const gate = deferred();
    let done = false;
    void q.run(() => gate.promise).catch(() => undefined);
    void q
      .run(() => {
        done = true;
        return Promise.reject(new Error('x'));
      })
      .catch(() => undefined);
    const idle = q.idle();
    gate.reject(new Error('first'));
    await idle;
    expect(done).toBe(true);
  });
});

describe('KeyedSerialQueue', () => {
  it('serialises per key, runs different keys side by side, and forgets idle keys', async () => {
    const q = new KeyedSerialQueue();
    const log: string[] = [];
    const gate = deferred();
    const a1 = q.run('a', async () => {
      log.push('a1');
      await gate.promise;
      log.push('a1 end');
    });
    const a2 = q.run('a', () => {
      log.push('a2');
      return Promise.resolve();
    });
    const b1 = q.run('b', () => {
      log.push('b1');
      return Promise.resolve();
    });
    await b1;
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['a1', 'b1']);
    expect(q.keys).toBe(1);
    gate.resolve();
    await Promise.all([a1, a2]);
    expect(log).toEqual(['a1', 'b1', 'a1 end', 'a2']);
    await new Promise((r) => setImmediate(r));
    expect(q.keys).toBe(0);
  });

  it('turns a job that throws at once into a rejection, and the next job for the key still runs', async () => {
    const q = new KeyedSerialQueue();
    const bad = q.run('k', (): Promise<void> => {
      throw new Error('sync throw');
    });
    const next = q.run('k', () => Promise.resolve('ran'));
    await expect(bad).rejects.toThrow('sync throw');
    await expect(next).resolves.toBe('ran');
    await new Promise((r) => setImmediate(r));
    expect(q.keys).toBe(0);
  });

  it('lets the holder take its key again when it passes its held keys (no self-deadlock) while others still wait', async () => {
    const q = new KeyedSerialQueue();
    const log: string[] = [];
    const gate = deferred();
    const outer = q.run('c:1', async (held) => {
      log.push('outer');
      await gate.promise;
      expect([...held]).toEqual(['c:1']);
      await q.run(
        'c:1',
        () => {
          log.push('inner, same holder');
          return Promise.resolve();
        },
        held,
      );
      log.push('outer end');
    });
    const other = q.run('c:1', () => {
      log.push('other');
      return Promise.resolve();
    });
    await new Promise((r) => setImmediate(r));
    gate.resolve();
    await Promise.all([outer, other]);
    expect(log).toEqual(['outer', 'inner, same holder', 'outer end', 'other']);
  });
});
