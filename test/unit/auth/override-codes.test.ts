import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OVERRIDE_DIGITS, OverrideCodes, parseDuration } from '../../../firmware/src/auth/override-codes.ts';
import { FakeClock, SeededRandom } from './doubles.ts';
import { TempStore } from './policy-store.ts';

describe('override codes', () => {
  const tmp = new TempStore();
  const key = Buffer.alloc(32, 3);
  let clock: FakeClock;
  let codes: OverrideCodes;
  beforeEach(async () => {
    clock = new FakeClock();
    await tmp.open();
    codes = new OverrideCodes(tmp.store, clock, new SeededRandom('o'), key);
  });
  afterEach(() => tmp.dispose());

  it('a single-use code works once, for its user only, and is stored hashed', async () => {
    const { code, record } = await codes.issue('alice', { ttlMs: 3_600_000, uses: 1, by: 'root' });
    expect(code).toMatch(new RegExp(`^\\d{${OVERRIDE_DIGITS}}$`));
    const raw = JSON.stringify(await tmp.store.table('override-codes').get(`alice|${record.id}`));
    expect(raw).not.toContain(code);
    expect(raw).toContain('"issuedBy":"root"');
    expect(await codes.use('bob', code)).toBeUndefined();
    expect(await codes.use('alice', code)).toMatchObject({ id: record.id, usesLeft: 0 });
    expect(await codes.use('alice', code)).toBeUndefined();
  });

  it('expires after its TTL; a multi-use code counts down, also across a restart', async () => {
    const { code } = await codes.issue('alice', { ttlMs: 600_000, uses: 3, by: 'root' });
    expect((await codes.use('alice', code))?.usesLeft).toBe(2);
    await tmp.reopen();
    codes = new OverrideCodes(tmp.store, clock, new SeededRandom('p'), key);
    expect((await codes.use('alice', code))?.usesLeft).toBe(1);
    clock.advance(600_000);
    expect(await codes.use('alice', code)).toBeUndefined();
    expect(await codes.sweep()).toBe(1);
  });

  it('is not fooled by a near miss or junk, and revokes', async () => {
    const { code } = await codes.issue('alice', { ttlMs: 600_000, uses: 1, by: 'root' });
    const near = `${code.slice(0, -1)}${(Number(code.at(-1)) + 1) % 10}`;
    for (const bad of [near, '', 'abc', code.slice(1), `${code}1`])
      expect(await codes.use('alice', bad)).toBeUndefined();
    expect(await codes.revoke('alice')).toBe(1);
    expect(await codes.use('alice', code)).toBeUndefined();
  });

  it('parses durations', () => {
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1 week')).toBeUndefined();
  });
});
