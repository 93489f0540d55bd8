import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOTP_LOOK_AHEAD, checkOath, otpAt, type OathParams } from '../../../firmware/src/auth/oath.ts';
import { TokenStore } from '../../../firmware/src/auth/tokens.ts';
import { FakeClock, SeededRandom } from './doubles.ts';
import { TempStore } from './policy-store.ts';
import { base32Bytes } from '../../helpers/totp.ts';

const ascii = (s: string) => Buffer.from(s, 'ascii');
const SEED20 = ascii('12345678901234567890');
const SEED32 = ascii('12345678901234567890123456789012');
const SEED64 = ascii('1234567890123456789012345678901234567890123456789012345678901234');
const hotp6: OathParams = { type: 'hotp', digits: 6, algorithm: 'SHA1', period: 30 };
const totp8 = (algorithm: OathParams['algorithm']): OathParams => ({
  type: 'totp',
  digits: 8,
  algorithm,
  period: 30,
});

describe('RFC 4226 appendix D: HOTP test values', () => {
  const expected = [
    '755224',
    '287082',
    '359152',
    '969429',
    '338314',
    '254676',
    '287922',
    '162583',
    '399871',
    '520489',
  ];
  it.each(expected.map((code, counter) => [counter, code]))('counter %i → %s', (counter, code) => {
    expect(otpAt(hotp6, SEED20, counter)).toBe(code);
  });
});

describe('RFC 6238 appendix B: TOTP test vectors', () => {
  const rows: [number, string, string, string][] = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ];
  it.each(rows)('T=%i s: SHA1 %s, SHA256 %s, SHA512 %s (and checkOath accepts each)', (t, s1, s256, s512) => {
    for (const [alg, seed, code] of [
      ['SHA1', SEED20, s1],
      ['SHA256', SEED32, s256],
      ['SHA512', SEED64, s512],
    ] as const) {
      const p = totp8(alg);
      expect(otpAt(p, seed, Math.floor(t / 30))).toBe(code);
      expect(checkOath(p, seed, { counter: 0, drift: 0 }, code, t * 1000).ok).toBe(true);
    }
  });
});

/** An independent TOTP (RFC 6238 with SHA-1, 6 digits) from node:crypto alone. */
function independentTotp(seed: Buffer, step: number): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', seed).update(msg).digest();
  const off = h[h.length - 1]! & 0xf;
  const bin = (h.readUInt32BE(off) & 0x7fffffff) % 1_000_000;
  return String(bin).padStart(6, '0');
}

describe('TOTP window, drift, replay', () => {
  const p: OathParams = { type: 'totp', digits: 6, algorithm: 'SHA1', period: 30 };
  const t = 1_700_000_000_000;
  const step = Math.floor(t / 30_000);

  it('accepts ±1 step, refuses ±2', () => {
    for (const d of [-1, 0, 1])
      expect(
        checkOath(p, SEED20, { counter: 0, drift: 0 }, independentTotp(SEED20, step + d), t),
      ).toMatchObject({ ok: true, delta: d });
    for (const d of [-2, 2])
      expect(
        checkOath(p, SEED20, { counter: 0, drift: 0 }, independentTotp(SEED20, step + d), t),
      ).toMatchObject({ ok: false, reason: 'wrong' });
  });

  it('refuses a code already used, and an older one, even inside the window', () => {
    const used = checkOath(p, SEED20, { counter: 0, drift: 0 }, independentTotp(SEED20, step), t);
    expect(used.ok).toBe(true);
    const again = checkOath(p, SEED20, used.counters, independentTotp(SEED20, step), t);
    expect(again).toMatchObject({ ok: false, reason: 'replay' });
    expect(checkOath(p, SEED20, used.counters, independentTotp(SEED20, step - 1), t)).toMatchObject({
      ok: false,
      reason: 'replay',
    });
    expect(checkOath(p, SEED20, used.counters, independentTotp(SEED20, step + 1), t).ok).toBe(true);
  });

  it('resyncs: a token one step fast moves the window, so it keeps working as it drifts further', () => {
    let s = { counter: 0, drift: 0 } as Parameters<typeof checkOath>[2];
    // The token's clock runs ahead by one more step every "day".
    for (let day = 1; day <= 4; day++) {
      const now = t + day * 86_400_000;
      const tokenStep = Math.floor(now / 30_000) + day;
      const r = checkOath(p, SEED20, s, independentTotp(SEED20, tokenStep), now);
      expect(r.ok).toBe(true);
      s = r.counters;
      expect(s.drift).toBe(day);
    }
    // Without the learned drift the same code would be 4 steps out.
    const now = t + 5 * 86_400_000;
    expect(
      checkOath(
        p,
        SEED20,
        { counter: 0, drift: 0 },
        independentTotp(SEED20, Math.floor(now / 30_000) + 5),
        now,
      ).ok,
    ).toBe(false);
  });

  it('refuses anything but exactly `digits` digits', () => {
    const code = independentTotp(SEED20, step);
    for (const bad of ['', `${code}0`, code.slice(1), 'abcdef', ` ${code.slice(0, 5)}x`])
      expect(checkOath(p, SEED20, { counter: 0, drift: 0 }, bad, t).ok).toBe(false);
  });
});

describe('HOTP window, replay, two-code resync', () => {
  it('accepts the next counter or the one after, and refuses the last used', () => {
    const s0 = { counter: 3, drift: 0 };
    expect(checkOath(hotp6, SEED20, s0, otpAt(hotp6, SEED20, 4), 0)).toMatchObject({
      ok: true,
      counters: { counter: 5 },
    });
    const r = checkOath(hotp6, SEED20, s0, otpAt(hotp6, SEED20, 3), 0);
    expect(r).toMatchObject({ ok: true, counters: { counter: 4 } });
    expect(checkOath(hotp6, SEED20, r.counters, otpAt(hotp6, SEED20, 3), 0)).toMatchObject({
      ok: false,
      reason: 'replay',
    });
  });

  it('a code far ahead needs the next one too', () => {
    const s0 = { counter: 0, drift: 0 };
    const first = checkOath(hotp6, SEED20, s0, otpAt(hotp6, SEED20, 7), 0);
    expect(first).toMatchObject({ ok: false, reason: 'resync-pending', counters: { resyncAt: 7 } });
    const second = checkOath(hotp6, SEED20, first.counters, otpAt(hotp6, SEED20, 8), 0);
    expect(second).toMatchObject({ ok: true, counters: { counter: 9 } });
    expect(second.counters.resyncAt).toBeUndefined();
    // Not the same code twice, nor one out of sequence.
    const again = checkOath(hotp6, SEED20, first.counters, otpAt(hotp6, SEED20, 7), 0);
    expect(again.ok).toBe(false);
    expect(checkOath(hotp6, SEED20, s0, otpAt(hotp6, SEED20, HOTP_LOOK_AHEAD + 1), 0)).toMatchObject({
      ok: false,
      reason: 'wrong',
    });
  });
});

describe('TokenStore', () => {
  const tmp = new TempStore();
  const key = Buffer.alloc(32, 7);
  let clock: FakeClock;
  beforeEach(async () => {
    clock = new FakeClock(1_700_000_000_000);
    await tmp.open();
  });
  afterEach(() => tmp.dispose());

  it('enrols a TOTP, gives an otpauth URI, keeps the seed sealed, and accepts a code once', async () => {
    const tokens = new TokenStore(tmp.store, clock, new SeededRandom('t'), key);
    const { uri, record } = await tokens.enrol(
      'alice',
      { type: 'totp', digits: 6, algorithm: 'SHA1', period: 30 },
      'admin',
    );
    const url = new URL(uri);
    expect(url.protocol).toBe('otpauth:');
    expect(url.host).toBe('totp');
    const b32 = url.searchParams.get('secret')!;
    // The seed in clear is nowhere in the stored row.
    const raw = JSON.stringify(await tmp.store.table('tokens').get(`alice|${record.id}`));
    expect(raw).not.toContain(b32);
    const seed = base32Bytes(b32);
    expect(raw).not.toContain(seed.toString('hex'));
    expect(raw).not.toContain(seed.toString('base64'));

    const code = independentTotp(seed, Math.floor(clock.now() / 30_000));
    expect(await tokens.verify('alice', code)).toEqual({ ok: true, tokenId: record.id });
    expect(await tokens.verify('alice', code)).toEqual({ ok: false, reason: 'replay' });
    // The replay guard survives a restart.
    await tmp.reopen();
    const again = new TokenStore(tmp.store, clock, new SeededRandom('u'), key);
    expect(await again.verify('alice', code)).toEqual({ ok: false, reason: 'replay' });
    expect(await again.has('alice')).toBe(true);
    expect(await again.has('al')).toBe(false);
  });

  it('a sealed seed does not open under another device key, nor moved to another user', async () => {
    const tokens = new TokenStore(tmp.store, clock, new SeededRandom('t'), key);
    const { record } = await tokens.enrol(
      'alice',
      { type: 'hotp', digits: 6, algorithm: 'SHA1', period: 30 },
      'admin',
    );
    const other = new TokenStore(tmp.store, clock, new SeededRandom('t'), Buffer.alloc(32, 8));
    await expect(other.verify('alice', '123456')).rejects.toThrow(/does not decrypt/);
    const t = tmp.store.table<typeof record>('tokens');
    await t.put(`bob|${record.id}`, { ...record, user: 'bob' });
    await expect(tokens.verify('bob', '123456')).rejects.toThrow(/does not decrypt/);
  });

  it('imports a hardware seed with a serial and a counter', async () => {
    const tokens = new TokenStore(tmp.store, clock, new SeededRandom('t'), key);
    await tokens.add('carol', SEED20, hotp6, { by: 'admin', source: 'import', serial: 'HW-1', counter: 5 });
    expect(await tokens.verify('carol', otpAt(hotp6, SEED20, 5))).toMatchObject({ ok: true });
    const [t] = await tokens.list('carol');
    expect(t).toMatchObject({ serial: 'HW-1', counter: 6, source: 'import', createdBy: 'admin' });
    await expect(tokens.add('carol', Buffer.alloc(5), hotp6, { by: 'a', source: 'import' })).rejects.toThrow(
      /at least 10 bytes/,
    );
  });
});
