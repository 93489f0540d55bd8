/**
 * Modem: bringing a modem up (identity, SMS mode, SIM busy, registration) and the URCs it answers while up.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../firmware/src/errors.ts';
import type { Modem } from '../../../firmware/src/modem/modem.ts';
import { decodeSubmit } from '../../../firmware/src/modem/pdu/index.ts';
import { fakeModem } from '../../support/fake-modem.ts';
import type { MemoryTransport } from '../../support/memory-transport.ts';
import { TIMINGS, modemFixture, until } from './modem-harness.ts';

const fx = modemFixture();
const { make, started } = fx;

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
    const m = fx.tuned(t, { timings: { ...TIMINGS, simBusyMax: 300 } }, { pin: '1234' });
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
    const m = fx.tuned(t, { timings: { ...TIMINGS, simBusyMax: 300 } });
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
