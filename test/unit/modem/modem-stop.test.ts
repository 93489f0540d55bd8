/** Modem: a send cut short between the prompt and Ctrl-Z, and a graceful stop. */
import { describe, expect, it } from 'vitest';
import { ErrorCode, MfaError } from '../../../firmware/src/errors.ts';
import type { Modem } from '../../../firmware/src/modem/modem.ts';
import { fakeModem } from '../../support/fake-modem.ts';
import { modemFixture, until } from './modem-harness.ts';

const fx = modemFixture();
const { make } = fx;

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
