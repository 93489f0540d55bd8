/**
 * Outbox: Restart: what a restart finds (queued, submitting, journal marks), and retention. Both modes
 * (submit journal, LevelDB only) run every test.
 */
import { describe, expect, it, vi } from 'vitest';
import { sendFailure } from '../../../firmware/src/modem/send-failure.ts';
import { SubmitJournal } from '../../../firmware/src/dispatch/submit-journal.ts';
import { health } from './fakes.ts';
import { MIN, OUTBOX_MODES, outboxFixture } from './outbox-harness.ts';

describe.each(OUTBOX_MODES)('outbox (%s)', (_mode, withJournal) => {
  const h = outboxFixture(withJournal);
  const { open, entry, record, audits, settle } = h;

  describe('restart', () => {
    it('sends queued entries after a restart, in order, and continues the sequence', async () => {
      h.sender.modems = [health('m1', 'searching')];
      let ob = await open();
      await ob.enqueue(entry('a'));
      await ob.enqueue(entry('b'));
      await ob.close();
      h.sender.modems = [health('m1', 'registered')];
      h.sender.script = [{ kind: 'hold' }, { kind: 'hold' }, { kind: 'hold' }];
      ob = await open({ lookahead: 0 });
      await ob.enqueue(entry('c'));
      for (let i = 1; i <= 3; i++) {
        await vi.waitFor(() => expect(h.sender.held).toBe(1));
        expect(h.sender.calls).toHaveLength(i);
        h.sender.release();
      }
      expect(h.sender.calls.map((c) => c.text.slice(9, 10))).toEqual(['a', 'b', 'c']);
      expect(Number((await record('c'))?.seq)).toBe(3);
      expect(() => ob.prepare(entry('a'))).toThrow();
    });

    it('resends an entry found in submitting once, with identical text, and audits it', async () => {
      h.sender.script = [{ kind: 'hold', afterSubmit: true }];
      const ob = await open();
      const e = entry('c1');
      await ob.enqueue(e);
      await vi.waitFor(() => expect(h.sender.held).toBe(1));
      // Simulate the power cut: drop the outbox without letting the send settle.
      await ob.close(0);
      h.sender.script = [];
      await open();
      await settle('c1', 'sent');
      expect(h.sender.submittedTexts()).toEqual([e.text, e.text]);
      expect(await audits()).toEqual([expect.objectContaining({ challengeId: 'c1', outcome: 'sent' })]);
    });

    it.runIf(withJournal)('trusts the journal when the entry lost its submitting write', async () => {
      h.sender.modems = [health('m1', 'searching')];
      const ob = await open();
      const e = entry('c1');
      await ob.enqueue(e);
      await ob.close();
      // A power cut right after Ctrl-Z: the journal has the mark, the entry still says queued.
      const j = SubmitJournal.open(h.dir);
      await j.mark(1, 1);
      j.close();
      expect((await record('c1'))?.status).toBe('queued');
      h.sender.modems = [health('m1', 'registered')];
      await open();
      await settle('c1', 'sent');
      expect(h.sender.submittedTexts()).toEqual([e.text]); // the resend: one more copy, never two
      expect(await audits()).toEqual([expect.objectContaining({ challengeId: 'c1', outcome: 'sent' })]);
      expect((await record('c1'))?.submissions).toBe(2);
    });

    it('never resends twice: submitting again after the resend was spent means failed', async () => {
      h.sender.script = [{ kind: 'hold', afterSubmit: true }];
      let ob = await open();
      await ob.enqueue(entry('c1'));
      await vi.waitFor(() => expect(h.sender.held).toBe(1));
      await ob.close(0);
      h.sender.script = [{ kind: 'hold', afterSubmit: true }];
      ob = await open();
      await vi.waitFor(() => expect(h.sender.held).toBe(2));
      await ob.close(0);
      h.sender.script = [];
      await open();
      await settle('c1', 'failed');
      expect(h.sender.submittedTexts()).toHaveLength(2);
      expect(await audits()).toEqual([expect.objectContaining({ outcome: 'unknown' })]);
    });
  });

  it.runIf(withJournal)(
    'starts the journal mark when AT+CMGS goes out, before the prompt (its fsync overlaps the modem)',
    async () => {
      h.sender.script = [{ kind: 'hold' }]; // AT+CMGS written; no prompt yet
      await open();
      await h.outbox?.enqueue(entry('c1'));
      await vi.waitFor(() => expect(h.sender.held).toBe(1));
      const j = SubmitJournal.open(h.dir);
      await vi.waitFor(() => expect(j.readAll().get(1)).toBe(1));
      j.close();
      expect(h.sender.calls[0]?.submitted).toBe(false);
      h.sender.release();
      await settle('c1', 'sent');
      expect(h.sender.submittedTexts()).toHaveLength(1);
    },
  );

  it.runIf(withJournal)(
    'takes an early mark back when no Ctrl-Z follows: a restart sends it as a first send, not an audited resend',
    async () => {
      // The modem refuses AT+CMGS (no prompt) and then no modem can send: the entry goes back to the queue.
      h.sender.script = [{ kind: 'fail', error: sendFailure('no-modem', 'none') }];
      const ob = await open();
      await ob.enqueue(entry('c1'));
      await vi.waitFor(() => expect(h.sender.calls[0]?.settled).toBe(true));
      h.sender.modems = [health('m1', 'searching')];
      await new Promise((r) => setTimeout(r, 20));
      await ob.close();
      const j = SubmitJournal.open(h.dir);
      expect(j.readAll().get(1) ?? 0).toBe(0);
      j.close();
      h.sender.modems = [health('m1', 'registered')];
      await open();
      await settle('c1', 'sent');
      expect(h.sender.submittedTexts()).toEqual([entry('c1').text]);
      expect(await audits()).toEqual([]);
    },
  );

  it.runIf(withJournal)(
    "never reuses a swept entry's number: a new entry does not inherit its journal mark",
    async () => {
      let ob = await open({ retentionMs: 3 * 24 * 3600_000 });
      await ob.enqueue(entry('old'));
      await settle('old', 'sent');
      h.clock.advance(3 * 24 * 3600_000 + 1);
      expect(await ob.sweep()).toBe(1); // the table is empty; the journal still marks seq 1
      await ob.close();
      h.sender.modems = [health('m1', 'searching')];
      ob = await open();
      await ob.enqueue(entry('new'));
      expect(Number((await record('new'))?.seq)).toBe(2);
      await ob.close();
      // A restart with the new entry still queued: a plain first send, no unknown outcome.
      h.sender.modems = [health('m1', 'registered')];
      await open();
      await settle('new', 'sent');
      expect(h.sender.submittedTexts()).toEqual([entry('old').text, entry('new').text]);
      expect(await audits()).toEqual([]);
    },
  );

  it('compacts final entries after the retention period, keeping live ones', async () => {
    const ob = await open({ retentionMs: 3 * 24 * 3600_000 });
    await ob.enqueue(entry('old'));
    await settle('old', 'sent');
    h.clock.advance(3 * 24 * 3600_000 + 1);
    h.sender.modems = [health('m1', 'searching')];
    await ob.enqueue(entry('live', 10 * MIN));
    expect(await ob.sweep()).toBe(1);
    expect(await ob.status('old')).toBeUndefined();
    expect(await ob.status('live')).toBe('queued');
    expect(ob.stats().sent).toBe(0);
  });
});
