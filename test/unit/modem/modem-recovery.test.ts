/** Modem: the recovery ladder for a modem that hangs, during a send or while idle. */
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../firmware/src/errors.ts';
import { fakeModem } from '../../support/fake-modem.ts';
import { TIMINGS, modemFixture, until } from './modem-harness.ts';

const fx = modemFixture();
const { make, started } = fx;

describe('recovery ladder', () => {
  it('a hung modem gets ESC + AT, a reopen, then AT+CFUN=1,1; no AT port afterwards shows in health', async () => {
    const { t } = fakeModem({ manufacturer: 'huawei', model: 'E173' });
    const port = join(fx.dir, 'ttyUSB0');
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
