import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, MfaError, isMfaError } from '../../../firmware/src/errors.ts';
import { sendFailure } from '../../../firmware/src/modem/send-failure.ts';
import {
  openOutbox,
  type DurableOutbox,
  type OutboxOptions,
  type OutboxRecord,
  type SmsResendAudit,
} from '../../../firmware/src/dispatch/outbox.ts';
import { openStore, type Store, type SublevelName } from '../../../firmware/src/store/store.ts';
import { SubmitJournal } from '../../../firmware/src/dispatch/submit-journal.ts';
import { openText, sealText } from '../../../firmware/src/dispatch/sealed-text.ts';
import { deriveSubkey } from '../../../firmware/src/store/device-key.ts';
import { cryptoRandom } from '../../../firmware/src/clock.ts';
import type { OutboxEvent } from '../../../firmware/src/dispatch/types.ts';
import { FakeClock, FakeSender, health } from './fakes.ts';

const MIN = 60_000;
const retryable = (): MfaError => sendFailure('retryable', 'CMS 512');

describe.each([
  ['submit journal', true],
  ['LevelDB only', false],
])('outbox (%s)', (_mode, withJournal) => {
  let dir: string;
  let store: Store;
  let clock: FakeClock;
  let sender: FakeSender;
  let outbox: DurableOutbox | undefined;
  const key = randomBytes(32);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-outbox-'));
    store = await openStore(join(dir, 'db'));
    clock = new FakeClock();
    sender = new FakeSender();
  });
  afterEach(async () => {
    await outbox?.close(100);
    outbox = undefined;
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  let events: OutboxEvent[] = [];
  async function open(options: Partial<OutboxOptions> = {}): Promise<DurableOutbox> {
    events = [];
    outbox = await openOutbox({
      store,
      sender,
      deviceKey: key,
      clock,
      timers: clock,
      options,
      onEvent: (e) => events.push(e),
      ...(withJournal ? { dataDir: dir } : {}),
    });
    return outbox;
  }
  const entry = (id: string, lifeMs = 5 * MIN) => ({
    challengeId: id,
    to: '+15550000001',
    text: `code for ${id}: 123456`,
    expiresAt: clock.now() + lifeMs,
  });
  async function record(id: string): Promise<OutboxRecord | undefined> {
    const idx = await store.table<{ seq: string }>('outbox').get(`c!${id}`);
    return idx ? store.table<OutboxRecord>('outbox').get(`q!${idx.seq}`) : undefined;
  }
  async function audits(): Promise<SmsResendAudit[]> {
    const out: SmsResendAudit[] = [];
    for await (const [, v] of store.table<SmsResendAudit>('audit').entries()) out.push(v);
    return out;
  }
  /** Waits for the status, and for a final one also for its write (memory leads the disk). */
  const settle = (id: string, status: string) =>
    vi.waitFor(async () => {
      expect(await outbox?.status(id)).toBe(status);
      if (['sent', 'failed', 'expired'].includes(status)) expect((await record(id))?.status).toBe(status);
    });

  it('sends a queued entry, records refs and modem, and removes the text and full number', async () => {
    const ob = await open();
    const e = { ...entry('c1'), flash: true };
    await ob.enqueue(e);
    await settle('c1', 'sent');
    expect(sender.calls).toHaveLength(1);
    expect(sender.calls[0]?.text).toBe(e.text);
    expect(sender.calls[0]?.opts.remainingMs).toBe(e.expiresAt - clock.now());
    expect(sender.calls[0]?.opts.flash).toBe(true);
    const rec = await record('c1');
    expect(rec).toMatchObject({
      status: 'sent',
      messageRefs: [1],
      modem: 'm1',
      to: '******0001',
      submissions: 1,
    });
    expect(rec?.sealed).toBeUndefined();
    expect(ob.stats()).toMatchObject({ queued: 0, inFlight: 0, sent: 1, failed: 0, expired: 0 });
  });

  it('keeps the text encrypted at rest: the plaintext never reaches the database files', async () => {
    sender.modems = [health('m1', 'searching')];
    const ob = await open();
    const e = entry('secret-1');
    e.text = 'Your passcode is 918273';
    await ob.enqueue(e);
    const rec = await record('secret-1');
    expect(rec?.status).toBe('queued');
    expect(rec?.sealed?.ct).toBeTruthy();
    expect(JSON.stringify(rec)).not.toContain('918273');
    await store.close();
    for (const f of await readdir(join(dir, 'db'))) {
      const raw = await readFile(join(dir, 'db', f));
      expect(raw.includes(Buffer.from('918273'))).toBe(false);
    }
    store = await openStore(join(dir, 'db'));
    outbox = undefined;
  });

  it('writes submitting durably before Ctrl-Z (in beforeSubmit)', async () => {
    sender.script = [{ kind: 'hold', afterSubmit: true }];
    await open();
    await outbox?.enqueue(entry('c1'));
    await vi.waitFor(() => expect(sender.held).toBe(1));
    if (withJournal) {
      const j = SubmitJournal.open(dir);
      expect(j.readAll().get(1)).toBe(1); // durable before Ctrl-Z, in the journal
      j.close();
      expect((await record('c1'))?.status).toBe('queued'); // the entry catches up when final
    } else {
      expect((await record('c1'))?.status).toBe('submitting');
    }
    expect(await outbox?.status('c1')).toBe('submitting');
    sender.release();
    await settle('c1', 'sent');
  });

  it('a status report that arrives before the final write is kept, and never rewrites a stale record', async () => {
    sender.script = [{ kind: 'hold', afterSubmit: true }];
    await open();
    await outbox?.enqueue(entry('c1'));
    await vi.waitFor(() => expect(sender.held).toBe(1));
    const noted = outbox?.noteDelivery('c1', { delivered: true, at: clock.now() });
    sender.release();
    await noted;
    await settle('c1', 'sent');
    const rec = await record('c1');
    expect(rec?.status).toBe('sent');
    expect(rec?.delivery?.delivered).toBe(true);
  });

  it("committed() queues at once, on the caller's word: no read back, no polling, no timer", async () => {
    const reads: string[] = [];
    const table = store.table.bind(store);
    vi.spyOn(store, 'table').mockImplementation((name: SublevelName) => {
      const t = table(name);
      return new Proxy(t, {
        get(target, prop) {
          if (prop === 'get' || prop === 'entries') reads.push(`${name}.${String(prop)}`);
          const v: unknown = Reflect.get(target, prop, target);
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    });
    const ob = await open();
    const p = ob.prepare(entry('c1'));
    expect(p.ops).toHaveLength(2);
    await store.atomic(p.ops);
    reads.length = 0;
    p.committed();
    // The send starts in the same tick: nothing was awaited, nothing read from LevelDB.
    expect(sender.calls).toHaveLength(1);
    expect(reads).toEqual([]);
    await settle('c1', 'sent');
    expect(ob.stats().sent).toBe(1);
  });

  it('does not send a prepared entry until its commit is reported; a second committed() is a no-op', async () => {
    const ob = await open();
    const p = ob.prepare(entry('c1'));
    await store.atomic(p.ops);
    await new Promise((r) => setTimeout(r, 50));
    expect(sender.calls).toHaveLength(0);
    expect(ob.stats().queued).toBe(0);
    p.committed();
    p.committed();
    await settle('c1', 'sent');
    expect(sender.calls).toHaveLength(1);
  });

  it('abandoned() forgets the entry: nothing is sent, and the challenge may be given another', async () => {
    const ob = await open();
    const p = ob.prepare(entry('c1'));
    p.abandoned();
    p.committed(); // too late: the handle is settled
    expect(ob.stats().queued).toBe(0);
    expect(sender.calls).toHaveLength(0);
    const again = ob.prepare(entry('c1'));
    await store.atomic(again.ops);
    again.committed();
    await settle('c1', 'sent');
    expect(sender.calls).toHaveLength(1);
  });

  it('forgets a handle left unsettled for over a minute, so its challenge is not blocked for good', async () => {
    const ob = await open();
    ob.prepare(entry('c1'));
    expect(() => ob.prepare(entry('c1'))).toThrow(
      expect.objectContaining({ code: ErrorCode.OutboxDuplicateChallenge }),
    );
    clock.advance(61_000);
    const p = ob.prepare(entry('c1', 10 * MIN));
    await store.atomic(p.ops);
    p.committed();
    await settle('c1', 'sent');
    expect(sender.calls).toHaveLength(1);
  });

  it('refuses a second entry for the same challenge', async () => {
    const ob = await open();
    await ob.enqueue(entry('c1'));
    expect(() => ob.prepare(entry('c1'))).toThrow(
      expect.objectContaining({ code: ErrorCode.OutboxDuplicateChallenge }),
    );
  });

  it('seals with the device key outbox-text subkey, and still sends an entry sealed with the key itself before the upgrade', async () => {
    sender.modems = [health('m1', 'searching')];
    const ob = await open();
    await ob.enqueue(entry('c-new'));
    await ob.enqueue(entry('c-old'));
    const fresh = await record('c-new');
    expect(openText(deriveSubkey(key, 'outbox-text'), 'c-new', fresh!.sealed!)).toBe(entry('c-new').text);
    expect(() => openText(key, 'c-new', fresh!.sealed!)).toThrow();
    await ob.close(100);
    // What a release before subkeys wrote: sealed with the device key itself.
    const old = (await record('c-old'))!;
    await store
      .table<OutboxRecord>('outbox')
      .put(`q!${old.seq}`, { ...old, sealed: sealText(key, 'c-old', 'old release text', cryptoRandom) });
    sender.modems = [health('m1', 'registered')];
    await open();
    await settle('c-old', 'sent');
    await settle('c-new', 'sent');
    expect(sender.calls.map((c) => c.text).sort()).toEqual([entry('c-new').text, 'old release text'].sort());
  });

  it('sends in arrival order', async () => {
    sender.script = Array.from({ length: 5 }, () => ({ kind: 'hold' as const }));
    const ob = await open({ lookahead: 0 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) await ob.enqueue(entry(id));
    for (let i = 1; i <= 5; i++) {
      await vi.waitFor(() => expect(sender.held).toBe(1));
      expect(sender.calls).toHaveLength(i);
      sender.release();
    }
    expect(sender.calls.map((c) => c.text.slice(9, 10))).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('keeps as many sends in flight as modems can take, plus a lookahead per modem', async () => {
    sender.modems = [health('m1', 'registered'), health('m2', 'registered')];
    sender.script = Array.from({ length: 10 }, () => ({ kind: 'hold' as const }));
    const ob = await open({ lookahead: 1 });
    for (let i = 0; i < 10; i++) await ob.enqueue(entry(`c${i}`));
    await vi.waitFor(() => expect(sender.held).toBe(4));
    await new Promise((r) => setTimeout(r, 20));
    expect(sender.calls).toHaveLength(4);
    expect(ob.stats()).toMatchObject({ queued: 6, inFlight: 4 });
    sender.release();
    await vi.waitFor(() => expect(sender.calls).toHaveLength(5));
    await vi.waitFor(() => expect(sender.held).toBe(4));
    sender.release(20);
    await vi.waitFor(() => expect(ob.stats().sent).toBe(5));
  });

  it('waits while no modem can send and starts on the health event', async () => {
    sender.modems = [health('m1', 'searching')];
    const ob = await open();
    await ob.enqueue(entry('c1'));
    await new Promise((r) => setTimeout(r, 20));
    expect(sender.calls).toHaveLength(0);
    expect(ob.ready()).toBe(false);
    expect(ob.expectedWaitMs()).toBe(Infinity);
    sender.setModems([health('m1', 'registered')]);
    await settle('c1', 'sent');
  });

  it('retries when its own submitting write failed at the prompt, with backoff, and sends once', async () => {
    sender.script = [
      { kind: 'fail', error: new MfaError('fsync', ErrorCode.StoreWriteFailed) },
      { kind: 'fail', error: sendFailure('no-modem', 'x') },
    ];
    const ob = await open({ retryBaseMs: 200 });
    await ob.enqueue(entry('c1'));
    await vi.waitFor(() => expect(sender.calls).toHaveLength(1));
    // Back on the queue with its backoff set (after the journal's mark was taken back, real IO).
    await vi.waitFor(() => expect(ob.stats().queued).toBe(1));
    await new Promise((r) => setTimeout(r, 20));
    expect(sender.calls).toHaveLength(1); // backoff: not before the clock moves
    clock.advance(200);
    await vi.waitFor(() => expect(sender.calls).toHaveLength(2));
    await vi.waitFor(async () => {
      clock.advance(100);
      expect(await outbox?.status('c1')).toBe('sent');
    });
    expect(sender.submittedTexts()).toHaveLength(1);
    expect((await record('c1'))?.attempts).toBe(3);
  });

  it.each([
    ['a retryable error (the pool already retried it)', retryable()],
    ['CMS 500 (the pool already tried it twice)', sendFailure('unknown', 'CMS 500')],
  ])('does not multiply retries: %s is not sent again by the outbox', async (_name, error) => {
    sender.script = [{ kind: 'fail', error }];
    const ob = await open({ retryBaseMs: 10 });
    await ob.enqueue(entry('c1'));
    await settle('c1', 'failed');
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(sender.calls).toHaveLength(1);
    expect((await record('c1'))?.reason).toBe(error.codeName);
  });

  it('waits for a modem as long as the passcode lives, however many times none can send', async () => {
    const noModem = () => sendFailure('no-modem', 'none');
    sender.script = Array.from({ length: 10 }, () => ({ kind: 'fail' as const, error: noModem() }));
    const ob = await open({ maxAttempts: 3, retryBaseMs: 10 });
    await ob.enqueue(entry('c1'));
    await vi.waitFor(async () => {
      clock.advance(1000);
      expect(await outbox?.status('c1')).toBe('sent');
    });
    expect(sender.calls).toHaveLength(11);
    expect(sender.submittedTexts()).toHaveLength(1);
  });

  it('a modem coming back ends the wait at once, not at the next recheck', async () => {
    sender.script = [{ kind: 'fail', error: sendFailure('no-modem', 'none') }];
    const ob = await open({ retryBaseMs: 10_000, idleRecheckMs: 60_000 });
    await ob.enqueue(entry('c1'));
    await vi.waitFor(async () => expect(await ob.status('c1')).toBe('queued'));
    await vi.waitFor(() => expect(ob.stats().inFlight).toBe(0));
    sender.setModems([health('m1', 'registered')]);
    await settle('c1', 'sent');
    expect(sender.calls).toHaveLength(2);
  });

  it('fails a permanent error without retrying', async () => {
    sender.script = [{ kind: 'fail', error: sendFailure('permanent', 'bad number') }];
    const ob = await open();
    await ob.enqueue(entry('c1'));
    await settle('c1', 'failed');
    clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(sender.calls).toHaveLength(1);
    const rec = await record('c1');
    expect(rec).toMatchObject({ status: 'failed', reason: 'SmsPermanent' });
    expect(rec?.sealed).toBeUndefined();
    expect(ob.stats().failed).toBe(1);
  });

  it('gives up after maxAttempts failures of its own submitting write', async () => {
    sender.script = Array.from({ length: 5 }, () => ({
      kind: 'fail' as const,
      error: new MfaError('fsync', ErrorCode.StoreWriteFailed),
    }));
    const ob = await open({ maxAttempts: 3, retryBaseMs: 10 });
    await ob.enqueue(entry('c1'));
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 10));
      clock.advance(100);
    }
    await settle('c1', 'failed');
    expect(sender.calls).toHaveLength(3);
  });

  it('does not retry a retryable code that came after Ctrl-Z with an unknown outcome more than once', async () => {
    const unknown = () =>
      new MfaError('timeout after ^Z', ErrorCode.ModemTimeout, { flags: { outcomeUnknown: true } });
    sender.script = [
      { kind: 'fail', error: unknown(), afterSubmit: true },
      { kind: 'fail', error: unknown(), afterSubmit: true },
    ];
    const ob = await open();
    const e = entry('c1');
    await ob.enqueue(e);
    await settle('c1', 'failed');
    expect(sender.submittedTexts()).toEqual([e.text, e.text]);
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
    sender.script = [
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
    expect(sender.submittedTexts()).toEqual([e.text, e.text]);
    expect(await audits()).toEqual([
      expect.objectContaining({ challengeId: 'c1', outcome: 'sent', modem: 'm2', messageRefs: [1] }),
    ]);
    // The audit log hears of the resend too, in order, with the number masked.
    expect(events.map((x) => x.status)).toEqual(['queued', 'resend', 'sent']);
    expect(events[1]).toEqual({ status: 'resend', challengeId: 'c1', to: '******0001' });
  });

  it('treats an unclassified error after beforeSubmit as an unknown outcome', async () => {
    sender.script = [{ kind: 'fail', error: new Error('EIO'), afterSubmit: true }];
    const ob = await open();
    await ob.enqueue(entry('c1'));
    await settle('c1', 'sent');
    expect(sender.submittedTexts()).toHaveLength(2);
    expect(await audits()).toHaveLength(1);
  });

  it('a failed final write after a send is not a send failure: kept sent, retried, never resent', async () => {
    const real = store.atomic.bind(store);
    let failSentWrites = 2;
    const spy = vi.spyOn(store, 'atomic').mockImplementation(async (ops) => {
      const sentWrite = ops.some((o) => o.value?.includes('"status":"sent"') === true);
      if (sentWrite && failSentWrites > 0) {
        failSentWrites--;
        throw new MfaError('disk full', ErrorCode.StoreWriteFailed);
      }
      return real(ops);
    });
    const ob = await open();
    await ob.enqueue(entry('c1'));
    await vi.waitFor(() => expect(sender.calls).toHaveLength(1));
    await vi.waitFor(async () => {
      clock.advance(1000);
      expect((await record('c1'))?.status).toBe('sent');
    });
    clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 20));
    spy.mockRestore();
    expect(sender.calls).toHaveLength(1);
    expect(await ob.status('c1')).toBe('sent');
    expect(ob.stats()).toMatchObject({ sent: 1, failed: 0, queued: 0 });
    expect((await record('c1'))?.sealed).toBeUndefined();
  });

  describe('expiry at each stage', () => {
    it('drops an entry already expired on arrival', async () => {
      const ob = await open({ expiryMarginMs: 5000 });
      await ob.enqueue(entry('c1', 4000)); // inside the margin
      await settle('c1', 'expired');
      expect(sender.calls).toHaveLength(0);
      expect((await record('c1'))?.sealed).toBeUndefined();
    });

    it('drops an entry that expires while waiting for a modem (timer, not polling)', async () => {
      sender.modems = [health('m1', 'no-sim')];
      const ob = await open({ expiryMarginMs: 0 });
      await ob.enqueue(entry('c1', MIN));
      clock.advance(MIN - 1);
      await new Promise((r) => setTimeout(r, 20));
      expect(await ob.status('c1')).toBe('queued');
      clock.advance(1);
      await settle('c1', 'expired');
      expect(sender.calls).toHaveLength(0);
      expect(ob.stats()).toMatchObject({ expired: 1, queued: 0 });
    });

    it('abandons at the prompt when the passcode expired while the modem was busy', async () => {
      sender.script = [{ kind: 'hold' }];
      const ob = await open({ expiryMarginMs: 0 });
      await ob.enqueue(entry('c1', MIN));
      await vi.waitFor(() => expect(sender.held).toBe(1));
      clock.advance(MIN);
      sender.release();
      await settle('c1', 'expired');
      expect(sender.submittedTexts()).toHaveLength(0);
    });

    it('marks expired when the modem refuses because the deadline passed', async () => {
      sender.script = [{ kind: 'fail', error: sendFailure('expired', 'deadline') }];
      const ob = await open();
      await ob.enqueue(entry('c1'));
      await settle('c1', 'expired');
    });

    it('does not retry once the passcode expired while waiting for a modem', async () => {
      sender.script = [{ kind: 'fail', error: sendFailure('no-modem', 'none') }];
      const ob = await open({ expiryMarginMs: 0, retryBaseMs: 5000, idleRecheckMs: 5000 });
      await ob.enqueue(entry('c1', 3000));
      await vi.waitFor(() => expect(sender.calls).toHaveLength(1));
      clock.advance(3000);
      await settle('c1', 'expired');
      clock.advance(10_000);
      await new Promise((r) => setTimeout(r, 20));
      expect(sender.calls).toHaveLength(1);
    });

    it('does not resend an unknown outcome once expired', async () => {
      sender.script = [
        {
          kind: 'fail',
          error: new MfaError('t', ErrorCode.ModemTimeout, { flags: { outcomeUnknown: true } }),
          afterSubmit: true,
        },
      ];
      const ob = await open({ expiryMarginMs: 0 });
      await ob.enqueue(entry('c1', 1000));
      await vi.waitFor(() => expect(sender.calls).toHaveLength(1));
      clock.advance(1000);
      await settle('c1', 'expired');
      expect(sender.calls).toHaveLength(1);
    });

    it('a wall clock stepped forward (NTP at boot) does not expire a live passcode', async () => {
      sender.modems = [health('m1', 'searching')];
      const ob = await open({ expiryMarginMs: 0 });
      await ob.enqueue(entry('c1', 5 * MIN));
      clock.advance(MIN);
      clock.wall += 3600_000; // NTP steps a battery-less clock forward an hour
      sender.setModems([health('m1', 'registered')]);
      await settle('c1', 'sent');
      expect(sender.calls).toHaveLength(1);
      // The modem is handed the same (monotonic) remaining life, whatever the wall clock did.
      expect(sender.calls[0]?.opts.remainingMs).toBe(4 * MIN);
    });

    it('after a restart, the remaining life is taken from the wall expiry once, then runs monotonic', async () => {
      sender.modems = [health('m1', 'searching')];
      await open({ expiryMarginMs: 0 });
      await outbox?.enqueue(entry('c1', 5 * MIN));
      await outbox?.close();
      clock.advance(2 * MIN);
      await open({ expiryMarginMs: 0 });
      clock.wall += 3600_000;
      clock.advance(2 * MIN);
      expect(await outbox?.status('c1')).toBe('queued');
      clock.advance(MIN);
      await settle('c1', 'expired');
      expect(sender.calls).toHaveLength(0);
    });

    it('uses monotonic time too: a wall clock stepped back does not revive an expired passcode', async () => {
      sender.modems = [health('m1', 'searching')];
      const ob = await open({ expiryMarginMs: 0 });
      await ob.enqueue(entry('c1', MIN));
      clock.wall -= 10 * MIN; // NTP steps the clock back
      clock.advance(MIN);
      sender.setModems([health('m1', 'registered')]);
      await settle('c1', 'expired');
      expect(sender.calls).toHaveLength(0);
    });
  });

  describe('restart', () => {
    it('sends queued entries after a restart, in order, and continues the sequence', async () => {
      sender.modems = [health('m1', 'searching')];
      let ob = await open();
      await ob.enqueue(entry('a'));
      await ob.enqueue(entry('b'));
      await ob.close();
      sender.modems = [health('m1', 'registered')];
      sender.script = [{ kind: 'hold' }, { kind: 'hold' }, { kind: 'hold' }];
      ob = await open({ lookahead: 0 });
      await ob.enqueue(entry('c'));
      for (let i = 1; i <= 3; i++) {
        await vi.waitFor(() => expect(sender.held).toBe(1));
        expect(sender.calls).toHaveLength(i);
        sender.release();
      }
      expect(sender.calls.map((c) => c.text.slice(9, 10))).toEqual(['a', 'b', 'c']);
      expect(Number((await record('c'))?.seq)).toBe(3);
      expect(() => ob.prepare(entry('a'))).toThrow();
    });

    it('resends an entry found in submitting once, with identical text, and audits it', async () => {
      sender.script = [{ kind: 'hold', afterSubmit: true }];
      const ob = await open();
      const e = entry('c1');
      await ob.enqueue(e);
      await vi.waitFor(() => expect(sender.held).toBe(1));
      // Simulate the power cut: drop the outbox without letting the send settle.
      await ob.close(0);
      sender.script = [];
      await open();
      await settle('c1', 'sent');
      expect(sender.submittedTexts()).toEqual([e.text, e.text]);
      expect(await audits()).toEqual([expect.objectContaining({ challengeId: 'c1', outcome: 'sent' })]);
    });

    it.runIf(withJournal)('trusts the journal when the entry lost its submitting write', async () => {
      sender.modems = [health('m1', 'searching')];
      const ob = await open();
      const e = entry('c1');
      await ob.enqueue(e);
      await ob.close();
      // A power cut right after Ctrl-Z: the journal has the mark, the entry still says queued.
      const j = SubmitJournal.open(dir);
      await j.mark(1, 1);
      j.close();
      expect((await record('c1'))?.status).toBe('queued');
      sender.modems = [health('m1', 'registered')];
      await open();
      await settle('c1', 'sent');
      expect(sender.submittedTexts()).toEqual([e.text]); // the resend: one more copy, never two
      expect(await audits()).toEqual([expect.objectContaining({ challengeId: 'c1', outcome: 'sent' })]);
      expect((await record('c1'))?.submissions).toBe(2);
    });

    it('never resends twice: submitting again after the resend was spent means failed', async () => {
      sender.script = [{ kind: 'hold', afterSubmit: true }];
      let ob = await open();
      await ob.enqueue(entry('c1'));
      await vi.waitFor(() => expect(sender.held).toBe(1));
      await ob.close(0);
      sender.script = [{ kind: 'hold', afterSubmit: true }];
      ob = await open();
      await vi.waitFor(() => expect(sender.held).toBe(2));
      await ob.close(0);
      sender.script = [];
      await open();
      await settle('c1', 'failed');
      expect(sender.submittedTexts()).toHaveLength(2);
      expect(await audits()).toEqual([expect.objectContaining({ outcome: 'unknown' })]);
    });
  });

  it.runIf(withJournal)(
    'starts the journal mark when AT+CMGS goes out, before the prompt (its fsync overlaps the modem)',
    async () => {
      sender.script = [{ kind: 'hold' }]; // AT+CMGS written; no prompt yet
      await open();
      await outbox?.enqueue(entry('c1'));
      await vi.waitFor(() => expect(sender.held).toBe(1));
      const j = SubmitJournal.open(dir);
      await vi.waitFor(() => expect(j.readAll().get(1)).toBe(1));
      j.close();
      expect(sender.calls[0]?.submitted).toBe(false);
      sender.release();
      await settle('c1', 'sent');
      expect(sender.submittedTexts()).toHaveLength(1);
    },
  );

  it.runIf(withJournal)(
    'takes an early mark back when no Ctrl-Z follows: a restart sends it as a first send, not an audited resend',
    async () => {
      // The modem refuses AT+CMGS (no prompt) and then no modem can send: the entry goes back to the queue.
      sender.script = [{ kind: 'fail', error: sendFailure('no-modem', 'none') }];
      const ob = await open();
      await ob.enqueue(entry('c1'));
      await vi.waitFor(() => expect(sender.calls[0]?.settled).toBe(true));
      sender.modems = [health('m1', 'searching')];
      await new Promise((r) => setTimeout(r, 20));
      await ob.close();
      const j = SubmitJournal.open(dir);
      expect(j.readAll().get(1) ?? 0).toBe(0);
      j.close();
      sender.modems = [health('m1', 'registered')];
      await open();
      await settle('c1', 'sent');
      expect(sender.submittedTexts()).toEqual([entry('c1').text]);
      expect(await audits()).toEqual([]);
    },
  );

  it.runIf(withJournal)(
    "never reuses a swept entry's number: a new entry does not inherit its journal mark",
    async () => {
      let ob = await open({ retentionMs: 3 * 24 * 3600_000 });
      await ob.enqueue(entry('old'));
      await settle('old', 'sent');
      clock.advance(3 * 24 * 3600_000 + 1);
      expect(await ob.sweep()).toBe(1); // the table is empty; the journal still marks seq 1
      await ob.close();
      sender.modems = [health('m1', 'searching')];
      ob = await open();
      await ob.enqueue(entry('new'));
      expect(Number((await record('new'))?.seq)).toBe(2);
      await ob.close();
      // A restart with the new entry still queued: a plain first send, no unknown outcome.
      sender.modems = [health('m1', 'registered')];
      await open();
      await settle('new', 'sent');
      expect(sender.submittedTexts()).toEqual([entry('old').text, entry('new').text]);
      expect(await audits()).toEqual([]);
    },
  );

  it('compacts final entries after the retention period, keeping live ones', async () => {
    const ob = await open({ retentionMs: 3 * 24 * 3600_000 });
    await ob.enqueue(entry('old'));
    await settle('old', 'sent');
    clock.advance(3 * 24 * 3600_000 + 1);
    sender.modems = [health('m1', 'searching')];
    await ob.enqueue(entry('live', 10 * MIN));
    expect(await ob.sweep()).toBe(1);
    expect(await ob.status('old')).toBeUndefined();
    expect(await ob.status('live')).toBe('queued');
    expect(ob.stats().sent).toBe(0);
  });

  it('reports the oldest unsent age', async () => {
    sender.modems = [health('m1', 'searching')];
    const ob = await open();
    expect(ob.stats().oldestQueuedAgeMs).toBeNull();
    await ob.enqueue(entry('c1'));
    clock.advance(1234);
    expect(ob.stats().oldestQueuedAgeMs).toBe(1234);
    clock.wall += 3600_000; // an NTP step is not an hour of waiting (no false delivery alarm)
    expect(ob.stats().oldestQueuedAgeMs).toBe(1234);
  });

  it('a send that settles after close and store close is not written (and does not crash)', async () => {
    sender.script = [{ kind: 'hold', afterSubmit: false }];
    const ob = await open();
    await ob.enqueue(entry('late'));
    await vi.waitFor(() => expect(sender.held).toBe(1));
    await ob.close(0);
    await store.close();
    sender.release();
    await new Promise((r) => setTimeout(r, 50));
    // The store is gone; reopen it to see the entry still as it was: queued, text sealed.
    store = await openStore(join(dir, 'db'));
    expect((await record('late'))?.status).toBe('queued');
    outbox = undefined;
  });

  describe('graceful stop (close, then the pool stops)', () => {
    const poolStopped = () =>
      new MfaError('pool stopped', ErrorCode.ModemClosed, { flags: { outcomeUnknown: true } });

    it.runIf(withJournal)(
      'waits for a send past Ctrl-Z to get its final: one SMS, no resend at the next start',
      async () => {
        sender.script = [{ kind: 'hold', afterSubmit: true }];
        const ob = await open();
        const e = entry('c1');
        await ob.enqueue(e);
        await vi.waitFor(() => expect(sender.held).toBe(1));
        let closed = false;
        const closing = ob.close().then(() => {
          closed = true;
        });
        // The network answers after 5.5 s: within the modem's 90 s send-final timeout.
        await new Promise((r) => setTimeout(r, 5500));
        expect(closed).toBe(false);
        sender.release();
        await closing;
        sender.abortAll(poolStopped()); // main stops the pool after the outbox
        expect((await record('c1'))?.status).toBe('sent');
        await open();
        await new Promise((r) => setTimeout(r, 50));
        expect(sender.submittedTexts()).toEqual([e.text]);
        expect(await audits()).toEqual([]);
      },
      15_000,
    );

    it('does not wait for a send not yet at the prompt: it is abandoned and stays queued, sent once after restart', async () => {
      sender.script = [{ kind: 'hold' }];
      const ob = await open();
      const e = entry('c1');
      await ob.enqueue(e);
      await vi.waitFor(() => expect(sender.held).toBe(1));
      const t0 = Date.now();
      await ob.close();
      expect(Date.now() - t0).toBeLessThan(1000);
      sender.release(); // the modem reaches its prompt after close: the outbox refuses to submit
      await vi.waitFor(() => expect(sender.calls[0]?.settled).toBe(true));
      await new Promise((r) => setTimeout(r, 20));
      expect(sender.submittedTexts()).toEqual([]);
      const rec = await record('c1');
      expect(rec).toMatchObject({ status: 'queued', submissions: 0 });
      expect(rec?.unknownOutcome).toBeUndefined();
      await open();
      await settle('c1', 'sent');
      expect(sender.submittedTexts()).toEqual([e.text]);
      expect(await audits()).toEqual([]);
    });

    it('bounds the wait by closeTimeoutMs; a send then aborted by the pool is an unknown outcome, resent once', async () => {
      sender.script = [{ kind: 'hold', afterSubmit: true }];
      const ob = await open({ closeTimeoutMs: 100 });
      const e = entry('c1');
      await ob.enqueue(e);
      await vi.waitFor(() => expect(sender.held).toBe(1));
      const t0 = Date.now();
      await ob.close();
      expect(Date.now() - t0).toBeLessThan(2000);
      sender.abortAll(poolStopped());
      await new Promise((r) => setTimeout(r, 50));
      await open();
      await settle('c1', 'sent');
      expect(sender.submittedTexts()).toEqual([e.text, e.text]);
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
