import { describe, expect, it } from 'vitest';
import { cryptoRandom, RandomPool } from '../../firmware/src/clock.ts';

/** A pool whose source counts 0, 1, 2, … (mod 256), so every byte handed out can be traced. */
function countingPool(size: number) {
  let counter = 0;
  const pools: Buffer[] = [];
  const fills: number[] = [];
  const pool = new RandomPool(size, (b) => {
    fills.push(b.length);
    if (b.length === size) pools.push(b);
    for (let i = 0; i < b.length; i++) b[i] = counter++ & 0xff;
  });
  return { pool, pools, fills };
}

describe('RandomPool', () => {
  it('hands out each byte of the source once, in order, across refills', () => {
    const { pool, fills } = countingPool(64);
    const got: number[] = [];
    // Draws of 16 use a fill up exactly; draws of 7 leave a tail that is skipped, never reused.
    // 12 draws take under 4 fills, so the counter does not wrap.
    for (let i = 0; i < 12; i++) got.push(...pool.bytes(i % 2 === 0 ? 16 : 7));
    expect(fills).toEqual([64, 64, 64]);
    expect(got).toHaveLength(6 * 16 + 6 * 7);
    for (let i = 1; i < got.length; i++) expect(got[i]!).toBeGreaterThan(got[i - 1]!);
  });

  it('wipes the bytes it hands out from the pool', () => {
    const { pool, pools } = countingPool(64);
    const a = pool.bytes(16);
    const b = pool.bytes(16);
    expect(pools).toHaveLength(1);
    expect([...pools[0]!.subarray(0, 32)].every((x) => x === 0)).toBe(true);
    // The rest is still there, untouched, for the next draws.
    expect(pools[0]![32]).toBe(32);
    expect([...a]).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect([...b]).toEqual(Array.from({ length: 16 }, (_, i) => 16 + i));
  });

  it('fills a large draw directly and leaves the pool as it was', () => {
    const { pool, fills } = countingPool(64);
    pool.bytes(4);
    const big = pool.bytes(40);
    expect(big).toHaveLength(40);
    expect(fills).toEqual([64, 40]);
    expect([...pool.bytes(4)]).toEqual([4, 5, 6, 7]);
  });

  it('returns buffers of their own, not views of the pool', () => {
    const { pool } = countingPool(64);
    const a = pool.bytes(8);
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(8);
  });
});

describe('cryptoRandom', () => {
  it('draws distinct, full-entropy-looking bytes across many refills', () => {
    const seen = new Set<string>();
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 5000; i++) {
      const b = cryptoRandom.bytes(16);
      expect(b).toHaveLength(16);
      seen.add(b.toString('hex'));
      for (const x of b) counts[x]!++;
    }
    expect(seen.size).toBe(5000);
    // 80,000 bytes: each value ~312 times; a stuck or zeroed pool would be far off.
    expect(Math.min(...counts)).toBeGreaterThan(200);
    expect(Math.max(...counts)).toBeLessThan(450);
  });
});
