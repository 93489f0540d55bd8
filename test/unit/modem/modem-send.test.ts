/** Modem: sending an SMS, how refusals and URCs during a send are classified, and expiry before Ctrl-Z. */
import { describe, expect, it } from 'vitest';
import { ErrorCode, MfaError } from '../../../firmware/src/errors.ts';
import { decodeSubmit } from '../../../firmware/src/modem/pdu/index.ts';
import { fakeModem } from '../../support/fake-modem.ts';
import { TIMINGS, modemFixture, until } from './modem-harness.ts';

const fx = modemFixture();
const { make } = fx;

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

describe('sms-refused and health agree', () => {
  it('canSend() is never true while health says sms-refused; the modem is offered again after the hold', async () => {
    const { t, s } = fakeModem({ creg: 0, cereg: 1 });
    const m = fx.tuned(t, { timings: { ...TIMINGS, pollRegistered: 400, smsRefusedHold: 100 } });
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
    const m = fx.tuned(t, { clock: { now: () => Date.now(), monotonic: () => performance.now() + jump } });
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
