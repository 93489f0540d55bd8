import { describe, expect, it } from 'vitest';
import { ReplyCache, dedupeKey } from '../../../firmware/src/radius/dedupe.ts';

function fakeClock() {
  let t = 1000;
  return { now: () => t, monotonic: () => t, advance: (ms: number) => (t += ms) };
}

describe('ReplyCache (RFC 5080)', () => {
  const key = dedupeKey('10.0.0.1', 40000, 7, Buffer.alloc(16, 1));

  it('keys on address, port, identifier and authenticator', () => {
    const others = [
      dedupeKey('10.0.0.2', 40000, 7, Buffer.alloc(16, 1)),
      dedupeKey('10.0.0.1', 40001, 7, Buffer.alloc(16, 1)),
      dedupeKey('10.0.0.1', 40000, 8, Buffer.alloc(16, 1)),
      dedupeKey('10.0.0.1', 40000, 7, Buffer.alloc(16, 2)),
    ];
    expect(new Set([key, ...others]).size).toBe(5);
  });

  it('ignores copies in flight, replays the completed reply until the TTL ends', () => {
    const clock = fakeClock();
    const c = new ReplyCache({ ttlMs: 30_000, capacity: 10, inFlightTimeoutMs: 60_000, clock });
    expect(c.begin(key)).toEqual({ kind: 'new' });
    expect(c.begin(key)).toEqual({ kind: 'in-flight' });
    const reply = Buffer.from('reply');
    c.complete(key, reply);
    clock.advance(29_999);
    expect(c.begin(key)).toEqual({ kind: 'replay', reply });
    clock.advance(2);
    expect(c.begin(key)).toEqual({ kind: 'new' });
  });

  it('forgets an abandoned request so the retransmit runs again', () => {
    const c = new ReplyCache({ ttlMs: 30_000, capacity: 10, inFlightTimeoutMs: 60_000, clock: fakeClock() });
    c.begin(key);
    c.abandon(key);
    expect(c.begin(key)).toEqual({ kind: 'new' });
  });

  it('releases an in-flight entry after its timeout', () => {
    const clock = fakeClock();
    const c = new ReplyCache({ ttlMs: 30_000, capacity: 10, inFlightTimeoutMs: 5_000, clock });
    c.begin(key);
    clock.advance(5_001);
    expect(c.begin(key)).toEqual({ kind: 'new' });
  });

  it('never grows past its capacity; the oldest entries go first', () => {
    const c = new ReplyCache({ ttlMs: 30_000, capacity: 100, inFlightTimeoutMs: 60_000, clock: fakeClock() });
    for (let i = 0; i < 10_000; i++) {
      const k = dedupeKey('10.0.0.1', i, i & 255, Buffer.alloc(16, i & 255));
      c.begin(k);
      if (i % 2) c.complete(k, Buffer.from([i & 255]));
      expect(c.size).toBeLessThanOrEqual(100);
    }
    expect(c.begin(dedupeKey('10.0.0.1', 0, 0, Buffer.alloc(16, 0)))).toEqual({ kind: 'new' });
    const last = dedupeKey('10.0.0.1', 9999, 9999 & 255, Buffer.alloc(16, 9999 & 255));
    expect(c.begin(last).kind).toBe('replay');
  });
});
