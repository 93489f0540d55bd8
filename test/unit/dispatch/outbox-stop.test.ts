/**
 * Outbox: Stopping: graceful close, sends that settle after it, and work refused once closed. Both modes
 * (submit journal, LevelDB only) run every test.
 */
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, MfaError, isMfaError } from '../../../firmware/src/errors.ts';
import { openStore } from '../../../firmware/src/store/store.ts';
import { OUTBOX_MODES, outboxFixture } from './outbox-harness.ts';

describe.each(OUTBOX_MODES)('outbox (%s)', (_mode, withJournal) => {
  const h = outboxFixture(withJournal);
  const { open, entry, record, audits, settle } = h;

  it('a send that settles after close and store close is not written (and does not crash)', async () => {
    h.sender.script = [{ kind: 'hold', afterSubmit: false }];
    const ob = await open();
    await ob.enqueue(entry('late'));
    await vi.waitFor(() => expect(h.sender.held).toBe(1));
    await ob.close(0);
    await h.store.close();
    h.sender.release();
    await new Promise((r) => setTimeout(r, 50));
    // The store is gone; reopen it to see the entry still as it was: queued, text sealed.
    h.store = await openStore(join(h.dir, 'db'));
    expect((await record('late'))?.status).toBe('queued');
    h.outbox = undefined;
  });

  describe('graceful stop (close, then the pool stops)', () => {
    const poolStopped = () =>
      new MfaError('pool stopped', ErrorCode.ModemClosed, { flags: { outcomeUnknown: true } });

    it.runIf(withJournal)(
      'waits for a send past Ctrl-Z to get its final: one SMS, no resend at the next start',
      async () => {
        h.sender.script = [{ kind: 'hold', afterSubmit: true }];
        const ob = await open();
        const e = entry('c1');
        await ob.enqueue(e);
        await vi.waitFor(() => expect(h.sender.held).toBe(1));
        let closed = false;
        const closing = ob.close().then(() => {
          closed = true;
        });
        // The network answers after 5.5 s: within the modem's 90 s send-final timeout.
        await new Promise((r) => setTimeout(r, 5500));
        expect(closed).toBe(false);
        h.sender.release();
        await closing;
        h.sender.abortAll(poolStopped()); // main stops the pool after the outbox
        expect((await record('c1'))?.status).toBe('sent');
        await open();
        await new Promise((r) => setTimeout(r, 50));
        expect(h.sender.submittedTexts()).toEqual([e.text]);
        expect(await audits()).toEqual([]);
      },
      15_000,
    );

    it('does not wait for a send not yet at the prompt: it is abandoned and stays queued, sent once after restart', async () => {
      h.sender.script = [{ kind: 'hold' }];
      const ob = await open();
      const e = entry('c1');
      await ob.enqueue(e);
      await vi.waitFor(() => expect(h.sender.held).toBe(1));
      const t0 = Date.now();
      await ob.close();
      expect(Date.now() - t0).toBeLessThan(1000);
      h.sender.release(); // the modem reaches its prompt after close: the outbox refuses to submit
      await vi.waitFor(() => expect(h.sender.calls[0]?.settled).toBe(true));
      await new Promise((r) => setTimeout(r, 20));
      expect(h.sender.submittedTexts()).toEqual([]);
      const rec = await record('c1');
      expect(rec).toMatchObject({ status: 'queued', submissions: 0 });
      expect(rec?.unknownOutcome).toBeUndefined();
      await open();
      await settle('c1', 'sent');
      expect(h.sender.submittedTexts()).toEqual([e.text]);
      expect(await audits()).toEqual([]);
    });

    it('bounds the wait by closeTimeoutMs; a send then aborted by the pool is an unknown outcome, resent once', async () => {
      h.sender.script = [{ kind: 'hold', afterSubmit: true }];
      const ob = await open({ closeTimeoutMs: 100 });
      const e = entry('c1');
      await ob.enqueue(e);
      await vi.waitFor(() => expect(h.sender.held).toBe(1));
      const t0 = Date.now();
      await ob.close();
      expect(Date.now() - t0).toBeLessThan(2000);
      h.sender.abortAll(poolStopped());
      await new Promise((r) => setTimeout(r, 50));
      await open();
      await settle('c1', 'sent');
      expect(h.sender.submittedTexts()).toEqual([e.text, e.text]);
      expect(await audits()).toEqual([expect.objectContaining({ challengeId: 'c1', outcome: 'sent' })]);
    });
  });

  it('refuses work after close', async () => {
    const ob = await open();
    await ob.close();
    expect(() => ob.prepare(entry('x'))).toThrow(expect.objectContaining({ code: ErrorCode.OutboxClosed }));
    expect(isMfaError(new MfaError('x', ErrorCode.OutboxClosed))).toBe(true);
  });
});
