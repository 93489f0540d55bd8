/** Modem: entering the SIM PIN, and never spending a try the SIM did not count. */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveSubkey } from '../../../firmware/src/store/device-key.ts';
import { fakeModem } from '../../support/fake-modem.ts';
import type { MemoryTransport } from '../../support/memory-transport.ts';
import { TIMINGS, modemFixture, until } from './modem-harness.ts';

const fx = modemFixture();
const { make, started } = fx;

/**
 * Whether a stored row holds the PIN in the clear: as a token of its own, not as four digits that
 * a hex hash or salt, or the entry's timestamp (`at`, ms), happens to contain. Those made this
 * test fail at 23:33 UTC on 6 Dec 2026, when Date.now() read 17965999…
 */
function holdsPin(row: unknown, pin: string): boolean {
  const text = JSON.stringify(row, (k, v: unknown) => (k === 'at' ? undefined : v));
  return new RegExp(`(^|[^0-9a-f])${pin}([^0-9a-f]|$)`).test(text);
}

describe('Modem lifecycle', () => {
  it('enters the configured PIN once and comes up', async () => {
    const { t, s } = fakeModem({ sim: 'SIM PIN' });
    await started(t, { pin: '1234' }, 'registered');
    expect(s.pinAttempts).toBe(1);
  });

  it('a rejected PIN is persisted per ICCID and never retried after a restart; a changed PIN is tried', async () => {
    const { t, s } = fakeModem({ sim: 'SIM PIN' });
    const m = await started(t, { pin: '9999' }, 'pin-rejected');
    expect(m.health().detail).toMatch(/PIN rejected \(2 tries left\)/);
    await m.stop();
    expect(s.pinAttempts).toBe(1);

    const again = await started(t, { pin: '9999' }, 'pin-rejected');
    expect(again.health().detail).toMatch(/rejected earlier/);
    await again.stop();
    expect(s.pinAttempts).toBe(1);

    await started(t, { pin: '1234' }, 'registered');
    expect(s.pinAttempts).toBe(2);
  });

  it('keys the rejected-PIN marker with the device key: a copy of the store cannot be brute-forced for the PIN', async () => {
    const key = randomBytes(32);
    const { t, s } = fakeModem({ sim: 'SIM PIN' });
    const m = await started(t, { pin: '9999' }, 'pin-rejected', key);
    await m.stop();
    const rows: { hash: string; salt: string }[] = [];
    for await (const [k, v] of fx.store.table<{ hash: string; salt: string }>('modem-state').entries())
      if (k.startsWith('pin-rejected:')) rows.push(v);
    expect(rows).toHaveLength(1);
    const row = rows[0] as { hash: string; salt: string };
    // Trying every 4-digit PIN against the stored salt finds nothing without the key.
    const unkeyed = (pin: string) => createHash('sha256').update(`${row.salt}:${pin}`).digest('hex');
    const found = Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, '0')).filter(
      (pin) => row.hash === unkeyed(pin) || row.hash.endsWith(unkeyed(pin)),
    );
    expect(found).toEqual([]);
    expect(holdsPin(row, '9999')).toBe(false);

    // The same key and PIN after a restart: recognised, not entered again.
    const again = await started(t, { pin: '9999' }, 'pin-rejected', key);
    await again.stop();
    // A process without the key cannot tell: it treats the marker as this PIN, never guessing.
    const keyless = await started(t, { pin: '9999' }, 'pin-rejected');
    await keyless.stop();
    expect(s.pinAttempts).toBe(1);
  });

  it('keys the marker with the device key sim-pin subkey, and still reads one keyed with the device key itself', async () => {
    const key = randomBytes(32);
    const { t, s } = fakeModem({ sim: 'SIM PIN' });
    const m = await started(t, { pin: '9999' }, 'pin-rejected', key);
    await m.stop();
    const table = fx.store.table<{ hash: string; salt: string }>('modem-state');
    const rows: [string, { hash: string; salt: string }][] = [];
    for await (const [k, v] of table.entries()) if (k.startsWith('pin-rejected:')) rows.push([k, v]);
    const [rowKey, row] = rows[0]!;
    const hmac = (k: Buffer) => createHmac('sha256', k).update(`${row.salt}:9999`).digest('hex');
    expect(row.hash).toBe(`h2:${hmac(deriveSubkey(key, 'sim-pin'))}`);
    expect(row.hash).not.toContain(hmac(key));

    // A marker an earlier release wrote (HMAC with the device key itself) still names this PIN...
    await table.put(rowKey, { ...row, hash: `h1:${hmac(key)}` });
    const again = await started(t, { pin: '9999' }, 'pin-rejected', key);
    expect(again.health().detail).toMatch(/rejected earlier/);
    await again.stop();
    expect(s.pinAttempts).toBe(1);
    // ...and not a changed one, which is tried.
    await started(t, { pin: '1234' }, 'registered', key);
    expect(s.pinAttempts).toBe(2);
  });

  it('still honours a rejected-PIN marker written before the key (plain salted hash)', async () => {
    const { t, s } = fakeModem({ sim: 'SIM PIN' });
    const m = await started(t, { pin: '9999' }, 'pin-rejected');
    await m.stop();
    const again = make(t, { pin: '9999' }, randomBytes(32));
    again.start();
    await until(again, 'pin-rejected');
    expect(again.health().detail).toMatch(/rejected earlier/);
    await again.stop();
    expect(s.pinAttempts).toBe(1);
  });

  it('never spends the last PIN try', async () => {
    const { t, s } = fakeModem({ sim: 'SIM PIN', triesLeft: 1 });
    const m = await started(t, { pin: '1234' }, 'pin-rejected');
    expect(m.health().detail).toMatch(/1 PIN try left/);
    expect(s.pinAttempts).toBe(0);
  });

  it('reports pin-needed without a configured PIN, no-sim without a SIM, PUK as pin-rejected', async () => {
    const a = make(fakeModem({ sim: 'SIM PIN' }).t);
    a.start();
    await until(a, 'pin-needed');
    const b = make(fakeModem({ sim: 'absent' }).t);
    b.start();
    await until(b, 'no-sim');
    const c = make(fakeModem({ sim: 'SIM PUK' }).t, { pin: '1234' });
    c.start();
    await until(c, 'pin-rejected');
    expect(c.health().detail).toMatch(/PUK/);
  });

  it('notices a SIM inserted later, and re-checks a rejected PIN without ever entering it again', async () => {
    const { t, s } = fakeModem({ sim: 'absent' });
    const m = make(t, { pin: '9999' });
    const states: string[] = [];
    m.on('health', (h: { state: string }) => states.push(h.state));
    m.start();
    await until(m, 'no-sim');
    s.sim = 'SIM PIN';
    await until(m, 'pin-rejected');
    const seen = t.written.split('AT+CPIN?\r').length;
    await new Promise((r) => setTimeout(r, 3 * TIMINGS.pollRegistered + 200));
    expect(t.written.split('AT+CPIN?\r').length).toBeGreaterThan(seen);
    expect(s.pinAttempts).toBe(1);
    expect(m.health().state).toBe('pin-rejected');
    // No flicker through 'initialising' while the locked SIM is re-checked.
    expect(states.slice(states.indexOf('pin-rejected'))).not.toContain('initialising');
  });
});

describe("a failed PIN entry is stored as rejected only on the SIM's word", () => {
  const pinWrites = (t: MemoryTransport) => t.written.split('AT+CPIN="').length - 1;

  it.each([
    ['plain ERROR', 'ERROR'],
    ['CME 3 (operation not allowed)', '+CME ERROR: 3'],
    ['"SIM not ready"', '+CME ERROR: SIM not ready'],
    ['a timeout', 'silent'],
  ])(
    '%s, tries unchanged: not stored; retried at the next check; a restart tries it too',
    async (_n, final) => {
      const { t, s } = fakeModem({ sim: 'SIM PIN', scripted: { 'AT+CPIN="': [final] } });
      const m = await started(t, { pin: '1234' }, 'pin-needed');
      expect(m.health().detail).toMatch(
        /without a try being counted \(3 left\): entered again at a later check/,
      );
      await m.stop();
      // A restart (a fresh Modem on the same store) finds no stored rejection and unlocks the SIM.
      await started(t, { pin: '1234' }, 'registered');
      expect(pinWrites(t)).toBe(2);
      expect(s.triesLeft).toBe(3);

      // Without a restart, the next check enters it again.
      const { t: t2 } = fakeModem({ sim: 'SIM PIN', scripted: { 'AT+CPIN="': [final] } });
      await started(t2, { pin: '1234' }, 'registered');
      expect(pinWrites(t2)).toBe(2);
    },
  );

  it('a modem that always refuses the entry (tries unchanged) is asked again less and less often', async () => {
    const { t, s } = fakeModem({
      sim: 'SIM PIN',
      scripted: { 'AT+CPIN="': Array<string>(50).fill('ERROR') },
    });
    const m = await started(t, { pin: '1234' }, 'pin-needed');
    await new Promise((r) => setTimeout(r, 2500));
    // Polls every 200 ms would make about ten entries; backing off 200, 400, 800… ms makes four.
    expect(pinWrites(t)).toBeGreaterThanOrEqual(2);
    expect(pinWrites(t)).toBeLessThanOrEqual(5);
    expect(s.triesLeft).toBe(3);
    expect(m.health().state).toBe('pin-needed');
  });

  it('SIM busy (CME 14) or 515 at the PIN is waited out and the PIN entered again at once', async () => {
    const { t } = fakeModem({
      sim: 'SIM PIN',
      scripted: { 'AT+CPIN="': ['+CME ERROR: 14', '+CME ERROR: 515'] },
    });
    const m = make(t, { pin: '1234' });
    const states: string[] = [];
    m.on('health', (h: { state: string }) => states.push(h.state));
    m.start();
    await until(m, 'registered');
    expect(pinWrites(t)).toBe(3);
    expect(states).not.toContain('pin-needed');
    expect(states).not.toContain('pin-rejected');
  });

  it('SIM busy at a wrong PIN that still cost a try: the tries are read before re-entering, so one entry, not the PUK', async () => {
    const { t, s } = fakeModem({ sim: 'SIM PIN', pinBusySpends: 4 });
    const m = await started(t, { pin: '9999' }, 'pin-rejected');
    expect(m.health().detail).toMatch(/PIN rejected \(2 tries left\)/);
    expect(s.pinAttempts).toBe(1);
    expect(s.sim).toBe('SIM PIN');
  });

  it('SIM busy at the PIN on a SIM that cannot tell its tries: not entered again blind', async () => {
    const { t } = fakeModem({
      manufacturer: 'Acme',
      model: 'X',
      sim: 'SIM PIN',
      scripted: { 'AT+CPIN="': ['+CME ERROR: 14'] },
    });
    const m = await started(t, { pin: '1234' }, 'pin-needed');
    expect(m.health().detail).toMatch(/SIM busy|cannot tell whether it counted/);
    expect(pinWrites(t)).toBe(1);
  });

  it('plain ERROR with the tries-left count dropping is a rejection, stored across a restart', async () => {
    const { t, s } = fakeModem({ sim: 'SIM PIN', pinWrongFinal: 'ERROR' });
    const m = await started(t, { pin: '9999' }, 'pin-rejected');
    expect(m.health().detail).toMatch(/PIN rejected \(2 tries left\)/);
    await m.stop();
    const again = await started(t, { pin: '9999' }, 'pin-rejected');
    expect(again.health().detail).toMatch(/rejected earlier/);
    expect(s.pinAttempts).toBe(1);
  });

  it('a SIM that cannot tell its tries: ERROR then a PUK lock is a rejection', async () => {
    // Generic profile: AT+CPINR answers nothing useful, so the tries left are unknown.
    const { t, s } = fakeModem({
      manufacturer: 'Acme',
      model: 'X',
      sim: 'SIM PIN',
      triesLeft: 1,
      pinWrongFinal: 'ERROR',
    });
    const m = await started(t, { pin: '9999' }, 'pin-rejected');
    expect(m.health().detail).toMatch(/PIN rejected \(0 tries left\): the SIM now needs its PUK/);
    expect(s.pinAttempts).toBe(1);
  });

  it('a SIM that cannot tell its tries: an unclear failure is not retried, not even after a restart, until the setting changes', async () => {
    const { t } = fakeModem({
      manufacturer: 'Acme',
      model: 'X',
      sim: 'SIM PIN',
      scripted: { 'AT+CPIN="': ['ERROR'] },
    });
    const m = await started(t, { pin: '1234' }, 'pin-needed');
    expect(m.health().detail).toMatch(/cannot tell whether it counted: not entered again/);
    const seen = t.written.split('AT+CPIN?\r').length;
    await new Promise((r) => setTimeout(r, 3 * TIMINGS.pollRegistered + 200));
    expect(t.written.split('AT+CPIN?\r').length).toBeGreaterThan(seen);
    expect(pinWrites(t)).toBe(1);
    expect(m.health().state).toBe('pin-needed');
    await m.stop();
    const again = await started(t, { pin: '1234' }, 'pin-needed');
    expect(again.health().detail).toMatch(/check the PIN and change the setting/);
    await again.stop();
    expect(pinWrites(t)).toBe(1);
    // The admin clears the setting once and sets it again: one new entry.
    const cleared = make(t);
    cleared.start();
    await until(cleared, 'pin-needed');
    expect(cleared.health().detail).toMatch(/set it in the modem settings/);
    await cleared.stop();
    await started(t, { pin: '1234' }, 'registered');
    expect(pinWrites(t)).toBe(2);
  });

  it('a wrong PIN answered with plain ERROR on a SIM that cannot tell its tries: one entry across restarts', async () => {
    const { t, s } = fakeModem({
      manufacturer: 'Acme',
      model: 'X',
      sim: 'SIM PIN',
      pinWrongFinal: 'ERROR',
    });
    for (let i = 0; i < 3; i++) {
      const m = await started(t, { pin: '9999' }, 'pin-needed');
      await new Promise((r) => setTimeout(r, TIMINGS.pollRegistered + 100));
      await m.stop();
    }
    expect(s.pinAttempts).toBe(1);
    expect(s.triesLeft).toBe(2);
    const rows: unknown[] = [];
    for await (const [, v] of fx.store.table('modem-state').entries()) rows.push(v);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((r) => holdsPin(r, '9999'))).toEqual([]);
    // A different PIN gets its one try.
    await started(t, { pin: '1234' }, 'registered');
    expect(s.pinAttempts).toBe(2);
  });
});
