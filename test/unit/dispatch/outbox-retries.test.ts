/**
 * Outbox: Failures and retries: what is sent again, what is resent once and audited, what fails. Both modes
 * (submit journal, LevelDB only) run every test.
 */
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, MfaError } from '../../../firmware/src/errors.ts';
import { sendFailure } from '../../../firmware/src/modem/send-failure.ts';
import { health } from './fakes.ts';
import { OUTBOX_MODES, outboxFixture } from './outbox-harness.ts';

const retryable = (): MfaError => sendFailure('retryable', 'CMS 512');

describe.each(OUTBOX_MODES)('outbox (%s)', (_mode, withJournal) => {
  const h = outboxFixture(withJournal);
  const { open, entry, record, audits, settle } = h;

  it('retries when its own submitting write failed at the prompt, with backoff, and sends once', async () => {
    h.sender.script = [
      { kind: 'fail', error: new MfaError('fsync', ErrorCode.StoreWriteFailed) },
      { kind: 'fail', error: sendFailure('no-modem', 'x') },
    ];
    const ob = await open({ retryBaseMs: 200 });
    await ob.enqueue(entry('c1'));
    await vi.waitFor(() => expect(h.sender.calls).toHaveLength(1));
    // Back on the queue with its backoff set (after the journal's mark was taken back, real IO).
    await vi.waitFor(() => expect(ob.stats().queued).toBe(1));
    await new Promise((r) => setTimeout(r, 20));
    expect(h.sender.calls).toHaveLength(1); // backoff: not before the clock moves
    h.clock.advance(200);
    await vi.waitFor(() => expect(h.sender.calls).toHaveLength(2));
    await vi.waitFor(async () => {
      h.clock.advance(100);
      expect(await h.outbox?.status('c1')).toBe('sent');
    });
    expect(h.sender.submittedTexts()).toHaveLength(1);
    expect((await record('c1'))?.attempts).toBe(3);
  });

  it.each([
    ['a retryable error (the pool already retried it)', retryable()],
    ['CMS 500 (the pool already tried it twice)', sendFailure('unknown', 'CMS 500')],
  ])('does not multiply retries: %s is not sent again by the outbox', async (_name, error) => {
    h.sender.script = [{ kind: 'fail', error }];
    const ob = await open({ retryBaseMs: 10 });
    await ob.enqueue(entry('c1'));
    await settle('c1', 'failed');
    for (let i = 0; i < 10; i++) {
      h.clock.advance(1000);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(h.sender.calls).toHaveLength(1);
    expect((await record('c1'))?.reason).toBe(error.codeName);
  });

  it('waits for a modem as long as the passcode lives, however many times none can send', async () => {
    const noModem = () => sendFailure('no-modem', 'none');
    h.sender.script = Array.from({ length: 10 }, () => ({ kind: 'fail' as const, error: noModem() }));
    const ob = await open({ maxAttempts: 3, retryBaseMs: 10 });
    await ob.enqueue(entry('c1'));
    // Eleven sends, each behind real journal IO: a loaded machine needs more than waitFor's 1 s.
    await vi.waitFor(
      async () => {
        h.clock.advance(1000);
        expect(await h.outbox?.status('c1')).toBe('sent');
      },
      { timeout: 10_000 },
    );
    expect(h.sender.calls).toHaveLength(11);
    expect(h.sender.submittedTexts()).toHaveLength(1);
  });

  it('a modem coming back ends the wait at once, not at the next recheck', async () => {
    h.sender.script = [{ kind: 'fail', error: sendFailure('no-modem', 'none') }];
    const ob = await open({ retryBaseMs: 10_000, idleRecheckMs: 60_000 });
    await ob.enqueue(entry('c1'));
    await vi.waitFor(async () => expect(await ob.status('c1')).toBe('queued'));
    await vi.waitFor(() => expect(ob.stats().inFlight).toBe(0));
    h.sender.setModems([health('m1', 'registered')]);
    await settle('c1', 'sent');
    expect(h.sender.calls).toHaveLength(2);
  });

  it('fails a permanent error without retrying', async () => {
    h.sender.script = [{ kind: 'fail', error: sendFailure('permanent', 'bad number') }];
    const ob = await open();
    await ob.enqueue(entry('c1'));
    await settle('c1', 'failed');
    h.clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(h.sender.calls).toHaveLength(1);
    const rec = await record('c1');
    expect(rec).toMatchObject({ status: 'failed', reason: 'SmsPermanent' });
    expect(rec?.sealed).toBeUndefined();
    expect(ob.stats().failed).toBe(1);
  });

  it('gives up after maxAttempts failures of its own submitting write', async () => {
    h.sender.script = Array.from({ length: 5 }, () => ({
      kind: 'fail' as const,
      error: new MfaError('fsync', ErrorCode.StoreWriteFailed),
    }));
    const ob = await open({ maxAttempts: 3, retryBaseMs: 10 });
    await ob.enqueue(entry('c1'));
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 10));
      h.clock.advance(100);
    }
    // On a loaded machine the third attempt may set its backoff after the loop's last step.
    await vi.waitFor(
      async () => {
        h.clock.advance(100);
        expect(await h.outbox?.status('c1')).toBe('failed');
      },
      { timeout: 10_000 },
    );
    await settle('c1', 'failed');
    expect(h.sender.calls).toHaveLength(3);
  });

  it('does not retry a retryable code that came after Ctrl-Z with an unknown outcome more than once', async () => {
    const unknown = () =>
      new MfaError('timeout after ^Z', ErrorCode.ModemTimeout, { flags: { outcomeUnknown: true } });
    h.sender.script = [
      { kind: 'fail', error: unknown(), afterSubmit: true },
      { kind: 'fail', error: unknown(), afterSubmit: true },
    ];
    const ob = await open();
    const e = entry('c1');
    await ob.enqueue(e);
    await settle('c1', 'failed');
    expect(h.sender.submittedTexts()).toEqual([e.text, e.text]);
    const [a] = await audits();
    expect(a).toMatchObject({
      kind: 'sms-resend-unknown-outcome',
      challengeId: 'c1',
      to: '******0001',
      outcome: 'unknown',
    });
    expect((await record('c1'))?.reason).toMatch(/outcome unknown/);
  });

  it('resends an unknown outcome once with identical text and audits it with the modem', async () => {
    h.sender.script = [
      {
        kind: 'fail',
        error: new MfaError('port gone', ErrorCode.ModemClosed, { flags: { outcomeUnknown: true } }),
        afterSubmit: true,
      },
      { kind: 'ok', modem: 'm2' },
    ];
    const ob = await open();
    const e = entry('c1');
    await ob.enqueue(e);
    await settle('c1', 'sent');
    expect(h.sender.submittedTexts()).toEqual([e.text, e.text]);
    expect(await audits()).toEqual([
      expect.objectContaining({ challengeId: 'c1', outcome: 'sent', modem: 'm2', messageRefs: [1] }),
    ]);
    // The audit log hears of the resend too, in order, with the number masked.
    expect(h.events.map((x) => x.status)).toEqual(['queued', 'resend', 'sent']);
    expect(h.events[1]).toEqual({ status: 'resend', challengeId: 'c1', to: '******0001' });
  });

  it('treats an unclassified error after beforeSubmit as an unknown outcome', async () => {
    h.sender.script = [{ kind: 'fail', error: new Error('EIO'), afterSubmit: true }];
    const ob = await open();
    await ob.enqueue(entry('c1'));
    await settle('c1', 'sent');
    expect(h.sender.submittedTexts()).toHaveLength(2);
    expect(await audits()).toHaveLength(1);
  });

  it('a failed final write after a send is not a send failure: kept sent, retried, never resent', async () => {
    const real = h.store.atomic.bind(h.store);
    let failSentWrites = 2;
    const spy = vi.spyOn(h.store, 'atomic').mockImplementation(async (ops) => {
      const sentWrite = ops.some((o) => o.value?.includes('"status":"sent"') === true);
      if (sentWrite && failSentWrites > 0) {
        failSentWrites--;
        throw new MfaError('disk full', ErrorCode.StoreWriteFailed);
      }
      return real(ops);
    });
    const ob = await open();
    await ob.enqueue(entry('c1'));
    await vi.waitFor(() => expect(h.sender.calls).toHaveLength(1));
    await vi.waitFor(async () => {
      h.clock.advance(1000);
      expect((await record('c1'))?.status).toBe('sent');
    });
    h.clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 20));
    spy.mockRestore();
    expect(h.sender.calls).toHaveLength(1);
    expect(await ob.status('c1')).toBe('sent');
    expect(ob.stats()).toMatchObject({ sent: 1, failed: 0, queued: 0 });
    expect((await record('c1'))?.sealed).toBeUndefined();
  });
});
