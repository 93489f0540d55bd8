import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../firmware/src/clock.ts';
import { modemSchema } from '../../../firmware/src/config/schema.ts';
import { ErrorCode, MfaError } from '../../../firmware/src/errors.ts';
import { Modem } from '../../../firmware/src/modem/modem.ts';
import { decodeSubmit } from '../../../firmware/src/modem/pdu/index.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import { deriveSubkey } from '../../../firmware/src/store/device-key.ts';
import { fakeModem } from '../../support/fake-modem.ts';
import type { MemoryTransport } from '../../support/memory-transport.ts';

const TIMEOUTS = { basic: 300, prompt: 300, send: 400, slow: 400, drainQuiet: 20, drainMax: 100 };
const TIMINGS = {
  probe: 200,
  probeTries: 2,
  pollSearching: 50,
  pollRegistered: 200,
  reopenPoll: 20,
  reenumerate: 200,
};

let dir: string;
let store: Store;
const modems: Modem[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfabox-modem-'));
  store = await openStore(dir);
});
afterEach(async () => {
  await Promise.all(modems.splice(0).map((m) => m.stop()));
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function make(t: MemoryTransport, over: Record<string, unknown> = {}, pinKey?: Buffer): Modem {
  const m = new Modem({
    config: modemSchema.parse({ name: 'm1', path: '/dev/null', ...over }),
    store,
    clock: systemClock,
    transportFactory: () => t,
    timeouts: TIMEOUTS,
    timings: TIMINGS,
    ...(pinKey ? { pinKey } : {}),
  });
  modems.push(m);
  return m;
}

/** A modem made, started, and waited for until it reaches `state`. */
async function started(
  t: MemoryTransport,
  over: Record<string, unknown>,
  state: string,
  pinKey?: Buffer,
): Promise<Modem> {
  const m = make(t, over, pinKey);
  m.start();
  await until(m, state);
  return m;
}

async function until(m: Modem, state: string, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (m.health().state !== state) {
    if (performance.now() > end)
      throw new Error(`state ${m.health().state} (${m.health().detail}), wanted ${state}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Modem lifecycle', () => {
  it('initialises to registered with identity, profile, signal and operator', async () => {
    const { t } = fakeModem();
    const m = make(t);
    m.start();
    await until(m, 'registered');
    const h = m.health();
    expect(h.identity).toMatchObject({
      manufacturer: 'Quectel',
      model: 'EC25',
      imei: '867000000000001',
      iccid: '89441000301234567890',
    });
    expect(h).toMatchObject({ dbm: -73, bars: 5, operator: 'Test Net', roaming: false });
    expect(t.written).toContain('AT+CMEE=1\r');
    expect(t.written).toContain('AT+CMGF=0\r');
    // Quectel rejects ds=1: the driver falls back to ds=2.
    expect(t.written).toContain('AT+CNMI=2,1,0,2,0\r');
    expect(t.written.startsWith('\x1b')).toBe(true);
  });

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
    for await (const [k, v] of store.table<{ hash: string; salt: string }>('modem-state').entries())
      if (k.startsWith('pin-rejected:')) rows.push(v);
    expect(rows).toHaveLength(1);
    const row = rows[0] as { hash: string; salt: string };
    // Trying every 4-digit PIN against the stored salt finds nothing without the key.
    const unkeyed = (pin: string) => createHash('sha256').update(`${row.salt}:${pin}`).digest('hex');
    const found = Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, '0')).filter(
      (pin) => row.hash === unkeyed(pin) || row.hash.endsWith(unkeyed(pin)),
    );
    expect(found).toEqual([]);
    expect(JSON.stringify(row)).not.toContain('9999');

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
    const table = store.table<{ hash: string; salt: string }>('modem-state');
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

  it('waits out SIM busy (CME 14) with a short backoff, not a fixed sleep', async () => {
    const { t, s } = fakeModem({ simBusy: 4 });
    const m = make(t);
    const started = performance.now();
    m.start();
    await until(m, 'registered');
    expect(s.simBusy).toBe(0);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('a SIM not ready after the PIN fails init; the next check re-runs init (SMS set up), not just registration', async () => {
    const { t, s } = fakeModem({ sim: 'SIM PIN', busyAfterPin: 8 });
    const m = new Modem({
      config: modemSchema.parse({ name: 'm1', path: '/dev/null', pin: '1234' }),
      store,
      clock: systemClock,
      transportFactory: () => t,
      timeouts: TIMEOUTS,
      timings: { ...TIMINGS, simBusyMax: 300 },
    });
    modems.push(m);
    const states: string[] = [];
    m.on('health', (h: { state: string; detail?: string }) => states.push(`${h.state}: ${h.detail ?? ''}`));
    m.start();
    await until(m, 'registered');
    const failedAt = states.findIndex((x) => x.includes('SIM not ready after PIN'));
    expect(failedAt).toBeGreaterThanOrEqual(0);
    expect(t.written).toContain('AT+CMGF=0\r');
    expect(t.written).toContain('AT+CNMI=');
    expect(s.pinAttempts).toBe(1);
  });

  it('a modem without any SMS mode is failed in health, with the command-failed code', async () => {
    const { t } = fakeModem({ refuse: ['AT+CMGF=0', 'AT+CMGF=1'] });
    const m = make(t);
    m.start();
    await until(m, 'failed');
    expect(m.health().detail).toMatch(/AT\+CMGF/);
    await new Promise((r) => setTimeout(r, 2 * TIMINGS.pollRegistered));
    expect(m.health().state).toBe('failed');
    expect(m.notReady().code).toBe(ErrorCode.ModemCommandFailed);
  });

  it('not-ready errors name the reason', async () => {
    const a = make(fakeModem({ sim: 'absent' }).t);
    a.start();
    await until(a, 'no-sim');
    expect(a.notReady().code).toBe(ErrorCode.ModemSimMissing);
    const b = make(fakeModem({ creg: 2, cereg: 2 }).t);
    b.start();
    await until(b, 'searching');
    expect(b.notReady().code).toBe(ErrorCode.ModemNoNetwork);
    expect(b.canSend()).toBe(false);
  });

  it('warns in health when the SIM has no SMS centre number', async () => {
    const { t } = fakeModem({ smsc: '' });
    const m = make(t);
    m.start();
    await until(m, 'registered');
    expect(m.health().detail).toMatch(/no SMS centre number/);
  });

  it('searching while not registered, registered once the network appears', async () => {
    const { t, s } = fakeModem({ creg: 2, cereg: 2 });
    const m = make(t);
    m.start();
    await until(m, 'searching');
    expect(m.canSend()).toBe(false);
    s.creg = 5;
    await until(m, 'registered');
    expect(m.health().roaming).toBe(true);
  });

  it('an incoming call is rejected once per ring burst', async () => {
    const { t } = fakeModem();
    const m = make(t);
    m.start();
    await until(m, 'registered');
    t.emitData('\r\nRING\r\n\r\n+CLIP: "+15550009999",145\r\n');
    await new Promise((r) => setTimeout(r, 50));
    t.emitData('\r\nRING\r\n');
    await new Promise((r) => setTimeout(r, 50));
    expect(t.written.split('ATH\r').length - 1).toBe(1);
  });

  it('a boot URC mid-run re-initialises the modem', async () => {
    const { t } = fakeModem();
    const m = make(t);
    m.start();
    await until(m, 'registered');
    const before = t.written.split('ATE0\r').length;
    t.emitData('\r\nRDY\r\n');
    await until(m, 'initialising', 1000);
    await until(m, 'registered');
    expect(t.written.split('ATE0\r').length).toBe(before + 1);
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
    const rows: string[] = [];
    for await (const [, v] of store.table('modem-state').entries()) rows.push(JSON.stringify(v));
    expect(rows.join()).not.toContain('9999');
    // A different PIN gets its one try.
    await started(t, { pin: '1234' }, 'registered');
    expect(s.pinAttempts).toBe(2);
  });
});

describe('AT+CMGF=0: PDU mode unless the modem definitely has none', () => {
  const count = (t: MemoryTransport, cmd: string) => t.written.split(`${cmd}\r`).length - 1;
  const send = (m: Modem) =>
    m.send('+15550000001', 'hi', { remainingMs: 60_000 }, { refs: [], beforeSubmitDone: false });

  it.each([
    ['SIM busy (CME 14)', ['+CME ERROR: 14']],
    ['SIM busy (CMS 314) twice', ['+CMS ERROR: 314', '+CMS ERROR: 314']],
    ['CME 515 (initialising)', ['+CME ERROR: 515']],
    ['CMS 500 (unknown)', ['+CMS ERROR: 500']],
    ['a timeout', ['silent']],
  ])('%s is waited out: PDU mode, never text mode', async (_n, finals) => {
    const { t, s } = fakeModem({ scripted: { 'AT+CMGF=0': [...finals] } });
    const m = make(t);
    m.start();
    await until(m, 'registered');
    expect(count(t, 'AT+CMGF=0')).toBe(finals.length + 1);
    expect(count(t, 'AT+CMGF=1')).toBe(0);
    await send(m);
    // A PDU went out (hex SMS-SUBMIT), not a text-mode body.
    expect(s.submits[0]).toMatch(/^[0-9A-F]+$/);
    expect(decodeSubmit(s.submits[0] ?? '').text).toBe('hi');
  });

  it('a busy spell longer than simBusyMax fails init, which runs again; still never text mode', async () => {
    const { t, s } = fakeModem({ scripted: { 'AT+CMGF=0': Array<string>(12).fill('+CMS ERROR: 314') } });
    const m = new Modem({
      config: modemSchema.parse({ name: 'm1', path: '/dev/null' }),
      store,
      clock: systemClock,
      transportFactory: () => t,
      timeouts: TIMEOUTS,
      timings: { ...TIMINGS, simBusyMax: 300 },
    });
    modems.push(m);
    const details: string[] = [];
    m.on('health', (h: { detail?: string }) => details.push(h.detail ?? ''));
    m.start();
    await until(m, 'registered', 8000);
    expect(details).toContain('SMS mode: waiting (CMS ERROR 314)');
    // More than one init ran (ATE0 is sent once per init).
    expect(count(t, 'ATE0')).toBeGreaterThan(1);
    expect(count(t, 'AT+CMGF=1')).toBe(0);
    // A modem that answers "busy" is not hung: no reset however often init fails.
    expect(count(t, 'AT+CFUN=1,1')).toBe(0);
    await send(m);
    expect(decodeSubmit(s.submits[0] ?? '').text).toBe('hi');
  });

  it('a text-mode-only modem waits out CMS 314 on AT+CMGF=1 instead of giving up on SMS', async () => {
    const { t, s } = fakeModem({ scripted: { 'AT+CMGF=1': ['+CMS ERROR: 314', '+CME ERROR: 14'] } });
    const m = await started(t, { profile: 'cdma-text' }, 'registered');
    expect(count(t, 'AT+CMGF=0')).toBe(0);
    expect(count(t, 'AT+CMGF=1')).toBe(3);
    await send(m);
    expect(s.submits[0]).toBe('hi');
  });

  it.each([['ERROR'], ['+CMS ERROR: 303'], ['+CMS ERROR: 304'], ['COMMAND NOT SUPPORT']])(
    '%s is a definite refusal: text mode at once',
    async (final) => {
      const { t, s } = fakeModem({ scripted: { 'AT+CMGF=0': [final, final, final] } });
      const m = make(t);
      m.start();
      await until(m, 'registered');
      expect(count(t, 'AT+CMGF=0')).toBe(1);
      expect(count(t, 'AT+CMGF=1')).toBe(1);
      await send(m);
      expect(t.written).toContain('AT+CMGS="+15550000001",145\r');
      expect(s.submits[0]).toBe('hi');
    },
  );
});

describe('boot URCs during a send', () => {
  it('RDY fails the send in flight as outcome-unknown; SMS Ready alone lets it finish', async () => {
    const { t, s } = fakeModem({ sendDelayMs: 80 });
    const m = make(t);
    m.start();
    await until(m, 'registered');
    const send = () =>
      m.send('+15550000001', 'hi', { remainingMs: 60_000 }, { refs: [], beforeSubmitDone: false });

    const ok = send();
    setTimeout(() => t.emitData('\r\nSMS Ready\r\n'), 20);
    await expect(ok).resolves.toEqual([1]);
    await until(m, 'registered');

    await new Promise((r) => setTimeout(r, 50));
    const lost = send();
    setTimeout(() => t.emitData('\r\nRDY\r\n'), 20);
    const err = (await lost.catch((e: unknown) => e)) as MfaError;
    expect(err.code).toBe(ErrorCode.SmsUnknown);
    expect(err.flags.outcomeUnknown).toBe(true);
    await until(m, 'registered');
    expect(s.submits).toHaveLength(2);
  });
});

describe('recovery ladder', () => {
  it('a hung modem gets ESC + AT, a reopen, then AT+CFUN=1,1; no AT port afterwards shows in health', async () => {
    const { t } = fakeModem({ manufacturer: 'huawei', model: 'E173' });
    const port = join(dir, 'ttyUSB0');
    await writeFile(port, '');
    const m = await started(t, { path: port }, 'registered');
    const mark = t.written.length;
    // The modem hangs: it answers nothing; AT+CFUN=1,1 drops it into CD-ROM mode (the port vanishes).
    t.setResponder((cmd) => {
      if (cmd === 'AT+CFUN=1,1') void unlink(port);
    });
    await expect(
      m.send('+15550000001', 'hi', { remainingMs: 60_000 }, { refs: [], beforeSubmitDone: false }),
    ).rejects.toMatchObject({ code: ErrorCode.SmsRetryable });
    await until(m, 'failed', 5000);
    const end = performance.now() + 5000;
    while (!/no AT port after reset/.test(m.health().detail ?? '') && performance.now() < end)
      await new Promise((r) => setTimeout(r, 20));
    expect(m.health().detail).toMatch(/no AT port after reset: the stick may have switched to CD-ROM mode/);
    const after = t.written.slice(mark);
    const esc = after.indexOf('\x1b');
    const cfun = after.indexOf('AT+CFUN=1,1\r');
    expect(esc).toBeGreaterThanOrEqual(0);
    expect(cfun).toBeGreaterThan(esc);
    expect(after.slice(esc, cfun).split('AT\r').length - 1).toBeGreaterThanOrEqual(2 * TIMINGS.probeTries);
  });
});

describe('a modem that hangs while idle', () => {
  it('repeated timeouts of the periodic checks climb the ladder; once it answers it is registered again', async () => {
    const { t, s } = fakeModem();
    const m = make(t);
    const states: string[] = [];
    m.on('health', (h: { state: string }) => states.push(h.state));
    m.start();
    await until(m, 'registered');
    const mark = t.written.length;
    s.hung = true;
    const hungAt = performance.now();
    // The poll interval, three 300 ms timeouts, then the ladder's first rung: about 1.6 s.
    await until(m, 'failed', 5000);
    expect(performance.now() - hungAt).toBeLessThan(4000);
    expect(states).not.toContain('searching');
    expect(m.canSend()).toBe(false);
    // The ladder runs to the reset: a hung modem ignores ESC, AT and the reopen.
    const end = performance.now() + 5000;
    while (!t.written.slice(mark).includes('AT+CFUN=1,1\r') && performance.now() < end)
      await new Promise((r) => setTimeout(r, 20));
    expect(t.written.slice(mark)).toContain('AT+CFUN=1,1\r');
    s.hung = false;
    await until(m, 'registered', 5000);
    expect(m.canSend()).toBe(true);
    await expect(
      m.send('+15550000001', 'hi', { remainingMs: 60_000 }, { refs: [], beforeSubmitDone: false }),
    ).resolves.toHaveLength(1);
  });

  it('a modem that answers AT but hangs on everything else is reset, not probed back to life for ever', async () => {
    const silent = () => Array<string>(200).fill('silent');
    const { t } = fakeModem({
      scripted: { 'AT+CREG?': silent(), 'AT+CGREG?': silent(), 'AT+CEREG?': silent() },
    });
    const m = make(t);
    const states: string[] = [];
    m.on('health', (h: { state: string }) => states.push(h.state));
    m.start();
    const started = performance.now();
    const end = started + 10_000;
    while (!t.written.includes('AT+CFUN=1,1\r') && performance.now() < end)
      await new Promise((r) => setTimeout(r, 20));
    expect(t.written).toContain('AT+CFUN=1,1\r');
    // An init (three 300 ms timeouts), a probe, a reopen, then the reset: a few seconds.
    expect(performance.now() - started).toBeLessThan(8000);
    expect(states).not.toContain('registered');
    // The probe and the reopen were each tried once before the reset.
    const beforeReset = t.written.slice(0, t.written.indexOf('AT+CFUN=1,1\r'));
    expect(beforeReset.split('AT+CREG?\r').length - 1).toBe(3);
  });

  it('one slow reply is not a hang: no ladder, no reset, still registered', async () => {
    const { t, s } = fakeModem();
    const m = make(t);
    m.start();
    await until(m, 'registered');
    const states: string[] = [];
    m.on('health', (h: { state: string }) => states.push(h.state));
    const mark = t.written.length;
    s.scripted['AT+CREG?'] = ['silent'];
    const end = performance.now() + 3000;
    while (s.scripted['AT+CREG?'].length > 0 && performance.now() < end)
      await new Promise((r) => setTimeout(r, 20));
    // Two more polls after the timeout.
    await new Promise((r) => setTimeout(r, 2 * TIMINGS.pollRegistered + 300));
    expect(states.filter((x) => x !== 'registered')).toEqual([]);
    expect(m.health().state).toBe('registered');
    expect(t.written.slice(mark)).not.toContain('\x1b');
    expect(t.written.slice(mark)).not.toContain('AT+CFUN');
    expect(m.canSend()).toBe(true);
  });
});

describe('Modem.send', () => {
  it('writes AT+CMGS=<tpdu length>, awaits beforeSubmit before Ctrl-Z, returns one ref per part', async () => {
    const { t, s } = fakeModem();
    const m = make(t);
    m.start();
    await until(m, 'registered');
    let ctrlZBefore = -1;
    const refs = await m.send(
      '+15550000001',
      'x'.repeat(200),
      {
        remainingMs: 300_000,
        beforeSubmit: () => {
          ctrlZBefore = s.submits.length;
          return Promise.resolve();
        },
      },
      { refs: [], beforeSubmitDone: false },
    );
    expect(refs).toEqual([1, 2]);
    expect(ctrlZBefore).toBe(0);
    const d = decodeSubmit(s.submits[0] ?? '');
    expect(d.to).toBe('+15550000001');
    expect(d.validitySeconds).toBeGreaterThan(0);
    expect(d.validitySeconds).toBeLessThanOrEqual(300);
    expect(t.written).toMatch(/AT\+CMGS=\d+\r/);
    // Concatenated: the link is held open between parts, asked for right before the first part.
    expect(t.written).toMatch(/AT\+CMMS=2\rAT\+CMGS=\d+\r/);
    expect(m.health().sentCount).toBe(1);
  });

  it('maps CMS errors to SMS error codes', async () => {
    const { t, s } = fakeModem();
    const m = make(t);
    m.start();
    await until(m, 'registered');
    const go = () =>
      m.send('+15550000001', 'hi', { remainingMs: 60_000 }, { refs: [], beforeSubmitDone: false });
    s.cmgsFinals = ['+CMS ERROR: 304', '+CMS ERROR: 512', '+CMS ERROR: 310', '+CMS ERROR: 500'];
    await expect(go()).rejects.toMatchObject({ code: ErrorCode.SmsPermanent });
    await expect(go()).rejects.toMatchObject({ code: ErrorCode.SmsRetryable, flags: { retryable: true } });
    // A SIM error after Ctrl-Z is no network refusal: the message may have left first.
    await expect(go()).rejects.toMatchObject({ code: ErrorCode.SmsUnknown, flags: { outcomeUnknown: true } });
    // A SIM failure re-runs init (so health shows what the SIM is doing), then the modem is back.
    await until(m, 'initialising', 1000);
    await until(m, 'registered');
    await expect(go()).rejects.toMatchObject({ code: ErrorCode.SmsUnknown, flags: { outcomeUnknown: true } });
    // Refused instead of the prompt: nothing sent, a plain SIM failure (the pool fails over).
    s.promptFinals = ['+CMS ERROR: 310'];
    await expect(go()).rejects.toMatchObject({ code: ErrorCode.SmsSimFailure });
    await until(m, 'registered');
    expect(m.health().failedCount).toBe(5);
  });

  it('refuses an already expired message without touching the modem', async () => {
    const { t, s } = fakeModem();
    const m = make(t);
    m.start();
    await until(m, 'registered');
    await expect(
      m.send('+15550000001', 'hi', { remainingMs: -1 }, { refs: [], beforeSubmitDone: false }),
    ).rejects.toMatchObject({ code: ErrorCode.SmsExpired });
    expect(s.submits).toEqual([]);
  });

  it('a timeout after Ctrl-Z is SmsUnknown with outcomeUnknown, and the modem recovers', async () => {
    const { t, s } = fakeModem();
    const m = make(t);
    m.start();
    await until(m, 'registered');
    s.cmgsFinals = ['hang'];
    const err = (await m
      .send('+15550000001', 'hi', { remainingMs: 60_000 }, { refs: [], beforeSubmitDone: false })
      .catch((e: unknown) => e)) as MfaError;
    expect(err.code).toBe(ErrorCode.SmsUnknown);
    expect(err.flags.outcomeUnknown).toBe(true);
    await until(m, 'registered');
  });

  it('LTE-only registration plus a refused SMS shows sms-refused in health', async () => {
    const { t, s } = fakeModem({ creg: 0, cereg: 1 });
    const m = make(t);
    m.start();
    await until(m, 'registered');
    expect(m.health().detail).toMatch(/LTE only/);
    s.cmgsAlways = '+CMS ERROR: 500';
    await expect(
      m.send('+15550000001', 'hi', { remainingMs: 60_000 }, { refs: [], beforeSubmitDone: false }),
    ).rejects.toBeInstanceOf(MfaError);
    expect(m.health().state).toBe('sms-refused');
    expect(m.health().detail).toMatch(/refuses SMS/);
    expect(m.canSend()).toBe(false);
  });
});

describe('aborts between the prompt and Ctrl-Z', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('a modem reset while beforeSubmit runs sends ESC, not the payload, and is not outcome-unknown', async () => {
    const { t, s } = fakeModem();
    const m = make(t);
    m.start();
    await until(m, 'registered');
    const mark = t.raw.length;
    const err = (await m
      .send(
        '+15550000001',
        'hi',
        {
          remainingMs: 60_000,
          beforeSubmit: async () => {
            t.emitData('\r\nRDY\r\n');
            await sleep(30);
          },
        },
        { refs: [], beforeSubmitDone: false },
      )
      .catch((e: unknown) => e)) as MfaError;
    expect(err).toBeInstanceOf(MfaError);
    expect(err.flags.outcomeUnknown).not.toBe(true);
    expect(s.submits).toEqual([]);
    expect(t.raw.slice(mark)[0]).toBe('\x1b');
    await until(m, 'registered');
  });

  it('stop() while beforeSubmit runs sends ESC, nothing goes out, and the outcome is known', async () => {
    const { t, s } = fakeModem();
    const m = make(t);
    m.start();
    await until(m, 'registered');
    const mark = t.raw.length;
    let stopping: Promise<void> | undefined;
    const err = (await m
      .send(
        '+15550000001',
        'hi',
        {
          remainingMs: 60_000,
          beforeSubmit: async () => {
            stopping = m.stop();
            await sleep(30);
          },
        },
        { refs: [], beforeSubmitDone: false },
      )
      .catch((e: unknown) => e)) as MfaError;
    await stopping;
    expect(err.code).toBe(ErrorCode.SmsRetryable);
    expect(err.flags.outcomeUnknown).not.toBe(true);
    expect(s.submits).toEqual([]);
    expect(t.raw.slice(mark)).toEqual(['\x1b']);
  });
});

describe('graceful stop', () => {
  const send = (m: Modem) =>
    m.send('+15550000001', 'hi', { remainingMs: 60_000 }, { refs: [], beforeSubmitDone: false });

  async function afterCtrlZ(s: { submits: string[] }): Promise<void> {
    while (s.submits.length === 0) await new Promise((r) => setTimeout(r, 2));
  }

  it('waits for a send past Ctrl-Z to get its final, then closes; new sends are refused', async () => {
    const { t, s } = fakeModem({ sendDelayMs: 150 });
    const m = make(t);
    m.start();
    await until(m, 'registered');
    const inFlight = send(m);
    await afterCtrlZ(s);
    const stopping = m.stop();
    expect(m.canSend()).toBe(false);
    await expect(send(m)).rejects.toMatchObject({ code: ErrorCode.SmsRetryable });
    await expect(inFlight).resolves.toEqual([1]);
    await stopping;
    expect(t.isOpen).toBe(false);
    expect(s.submits).toHaveLength(1);
  });

  it('gives up waiting after drainMs: the send is then outcome-unknown', async () => {
    const { t, s } = fakeModem({ cmgsFinals: ['hang'] });
    const m = make(t);
    m.start();
    await until(m, 'registered');
    const inFlight = send(m).catch((e: unknown) => e);
    await afterCtrlZ(s);
    const started = performance.now();
    await m.stop({ drainMs: 50 });
    expect(performance.now() - started).toBeLessThan(300);
    const err = (await inFlight) as MfaError;
    expect(err.flags.outcomeUnknown).toBe(true);
  });
});

describe('sms-refused and health agree', () => {
  it('canSend() is never true while health says sms-refused; the modem is offered again after the hold', async () => {
    const { t, s } = fakeModem({ creg: 0, cereg: 1 });
    const m = new Modem({
      config: modemSchema.parse({ name: 'm1', path: '/dev/null' }),
      store,
      clock: systemClock,
      transportFactory: () => t,
      timeouts: TIMEOUTS,
      timings: { ...TIMINGS, pollRegistered: 400, smsRefusedHold: 100 },
    });
    modems.push(m);
    m.start();
    await until(m, 'registered');
    s.cmgsFinals = ['+CMS ERROR: 38'];
    await expect(
      m.send('+15550000001', 'hi', { remainingMs: 60_000 }, { refs: [], beforeSubmitDone: false }),
    ).rejects.toMatchObject({ code: ErrorCode.SmsRetryable });
    expect(m.health().state).toBe('sms-refused');
    let disagreed = 0;
    const end = performance.now() + 1000;
    while (m.health().state === 'sms-refused' && performance.now() < end) {
      if (m.canSend()) disagreed++;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(disagreed).toBe(0);
    // Back well before the next regular poll (400 ms): the hold's end wakes the monitor.
    expect(m.health().state).toBe('registered');
    expect(m.canSend()).toBe(true);
  });
});

describe('expiry right before each Ctrl-Z', () => {
  it('a later part (or a retry that skips beforeSubmit) is not sent once the passcode expired', async () => {
    const { t, s } = fakeModem({ sendDelayMs: 100 });
    let jump = 0;
    const m = new Modem({
      config: modemSchema.parse({ name: 'm1', path: '/dev/null' }),
      store,
      clock: { now: () => Date.now(), monotonic: () => performance.now() + jump },
      transportFactory: () => t,
      timeouts: TIMEOUTS,
      timings: TIMINGS,
    });
    modems.push(m);
    m.start();
    await until(m, 'registered');
    const progress = { refs: [], beforeSubmitDone: true };
    const sending = m
      .send('+15550000001', 'z'.repeat(300), { remainingMs: 60_000 }, progress)
      .catch((e: unknown) => e);
    while (s.submits.length === 0) await new Promise((r) => setTimeout(r, 1));
    jump = 120_000; // two minutes pass (monotonically) while part 1 is with the network
    const err = (await sending) as MfaError;
    expect(err.code).toBe(ErrorCode.SmsExpired);
    expect(s.submits).toHaveLength(1);
    expect(progress.refs).toEqual([1]);
    expect(t.raw.at(-1)).toBe('\x1b');
  });
});
