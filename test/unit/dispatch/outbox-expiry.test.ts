/**
 * Outbox: Expiry: a passcode's entry is dropped at whatever stage its life ends, on monotonic time. Both
 * modes (submit journal, LevelDB only) run every test.
 */
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, MfaError } from '../../../firmware/src/errors.ts';
import { sendFailure } from '../../../firmware/src/modem/send-failure.ts';
import { health } from './fakes.ts';
import { MIN, OUTBOX_MODES, outboxFixture } from './outbox-harness.ts';

describe.each(OUTBOX_MODES)('outbox (%s)', (_mode, withJournal) => {
  const h = outboxFixture(withJournal);
  const { open, entry, record, settle } = h;

  describe('expiry at each stage', () => {
    it('drops an entry already expired on arrival', async () => {
      const ob = await open({ expiryMarginMs: 5000 });
      await ob.enqueue(entry('c1', 4000)); // inside the margin
      await settle('c1', 'expired');
      expect(h.sender.calls).toHaveLength(0);
      expect((await record('c1'))?.sealed).toBeUndefined();
    });

    it('drops an entry that expires while waiting for a modem (timer, not polling)', async () => {
      h.sender.modems = [health('m1', 'no-sim')];
      const ob = await open({ expiryMarginMs: 0 });
      await ob.enqueue(entry('c1', MIN));
      h.clock.advance(MIN - 1);
      await new Promise((r) => setTimeout(r, 20));
      expect(await ob.status('c1')).toBe('queued');
      h.clock.advance(1);
      await settle('c1', 'expired');
      expect(h.sender.calls).toHaveLength(0);
      expect(ob.stats()).toMatchObject({ expired: 1, queued: 0 });
    });

    it('abandons at the prompt when the passcode expired while the modem was busy', async () => {
      h.sender.script = [{ kind: 'hold' }];
      const ob = await open({ expiryMarginMs: 0 });
      await ob.enqueue(entry('c1', MIN));
      await vi.waitFor(() => expect(h.sender.held).toBe(1));
      h.clock.advance(MIN);
      h.sender.release();
      await settle('c1', 'expired');
      expect(h.sender.submittedTexts()).toHaveLength(0);
    });

    it('marks expired when the modem refuses because the deadline passed', async () => {
      h.sender.script = [{ kind: 'fail', error: sendFailure('expired', 'deadline') }];
      const ob = await open();
      await ob.enqueue(entry('c1'));
      await settle('c1', 'expired');
    });

    it('does not retry once the passcode expired while waiting for a modem', async () => {
      h.sender.script = [{ kind: 'fail', error: sendFailure('no-modem', 'none') }];
      const ob = await open({ expiryMarginMs: 0, retryBaseMs: 5000, idleRecheckMs: 5000 });
      await ob.enqueue(entry('c1', 3000));
      await vi.waitFor(() => expect(h.sender.calls).toHaveLength(1));
      h.clock.advance(3000);
      await settle('c1', 'expired');
      h.clock.advance(10_000);
      await new Promise((r) => setTimeout(r, 20));
      expect(h.sender.calls).toHaveLength(1);
    });

    it('does not resend an unknown outcome once expired', async () => {
      h.sender.script = [
        {
          kind: 'fail',
          error: new MfaError('t', ErrorCode.ModemTimeout, { flags: { outcomeUnknown: true } }),
          afterSubmit: true,
        },
      ];
      const ob = await open({ expiryMarginMs: 0 });
      await ob.enqueue(entry('c1', 1000));
      await vi.waitFor(() => expect(h.sender.calls).toHaveLength(1));
      h.clock.advance(1000);
      await settle('c1', 'expired');
      expect(h.sender.calls).toHaveLength(1);
    });

    it('a wall clock stepped forward (NTP at boot) does not expire a live passcode', async () => {
      h.sender.modems = [health('m1', 'searching')];
      const ob = await open({ expiryMarginMs: 0 });
      await ob.enqueue(entry('c1', 5 * MIN));
      h.clock.advance(MIN);
      h.clock.wall += 3600_000; // NTP steps a battery-less clock forward an hour
      h.sender.setModems([health('m1', 'registered')]);
      await settle('c1', 'sent');
      expect(h.sender.calls).toHaveLength(1);
      // The modem is handed the same (monotonic) remaining life, whatever the wall clock did.
      expect(h.sender.calls[0]?.opts.remainingMs).toBe(4 * MIN);
    });

    it('after a restart, the remaining life is taken from the wall expiry once, then runs monotonic', async () => {
      h.sender.modems = [health('m1', 'searching')];
      await open({ expiryMarginMs: 0 });
      await h.outbox?.enqueue(entry('c1', 5 * MIN));
      await h.outbox?.close();
      h.clock.advance(2 * MIN);
      await open({ expiryMarginMs: 0 });
      h.clock.wall += 3600_000;
      h.clock.advance(2 * MIN);
      expect(await h.outbox?.status('c1')).toBe('queued');
      h.clock.advance(MIN);
      await settle('c1', 'expired');
      expect(h.sender.calls).toHaveLength(0);
    });

    it('uses monotonic time too: a wall clock stepped back does not revive an expired passcode', async () => {
      h.sender.modems = [health('m1', 'searching')];
      const ob = await open({ expiryMarginMs: 0 });
      await ob.enqueue(entry('c1', MIN));
      h.clock.wall -= 10 * MIN; // NTP steps the clock back
      h.clock.advance(MIN);
      h.sender.setModems([health('m1', 'registered')]);
      await settle('c1', 'expired');
      expect(h.sender.calls).toHaveLength(0);
    });
  });
});
