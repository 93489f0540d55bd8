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

  it('caps the bytes held as well as the entries: large replies evict the oldest, never the newest', () => {
    const maxBytes = 64 * 1024;
    const c = new ReplyCache({
      ttlMs: 30_000,
      capacity: 100_000,
      inFlightTimeoutMs: 60_000,
      clock: fakeClock(),
      maxBytes,
    });
    const k = (i: number) => dedupeKey('10.0.0.1', 40000 + i, i % 256, Buffer.alloc(16, i % 256));
    // 4 KB replies, as a NAS that sends big Proxy-State gets them echoed back.
    for (let i = 0; i < 200; i++) {
      c.begin(k(i));
      c.complete(k(i), Buffer.alloc(4000, i % 256));
      expect(c.bytes).toBeLessThanOrEqual(maxBytes);
    }
    expect(c.size).toBeLessThan(17);
    expect(c.size).toBeGreaterThan(10);
    expect(c.begin(k(199))).toEqual({ kind: 'replay', reply: Buffer.alloc(4000, 199) });
    expect(c.begin(k(0))).toEqual({ kind: 'new' });
    // Small replies under the same byte cap still fill the entry cap first.
    const small = new ReplyCache({
      ttlMs: 30_000,
      capacity: 100,
      inFlightTimeoutMs: 60_000,
      clock: fakeClock(),
      maxBytes,
    });
    for (let i = 0; i < 300; i++) {
      small.begin(k(i));
      small.complete(k(i), Buffer.alloc(20));
    }
    expect(small.size).toBe(100);
    // Lowering the cap live drops the oldest at once; the count of bytes stays exact.
    c.configure({ maxBytes: 16 * 1024 });
    expect(c.bytes).toBeLessThanOrEqual(16 * 1024);
    expect(c.size).toBeGreaterThan(0);
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
