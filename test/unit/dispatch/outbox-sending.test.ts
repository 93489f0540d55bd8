/**
 * Outbox: Sending: the queue, prepared entries, sealing at rest, order and flow control. Both modes (submit
 * journal, LevelDB only) run every test.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../../firmware/src/errors.ts';
import type { OutboxRecord } from '../../../firmware/src/dispatch/outbox.ts';
import { openStore, type SublevelName } from '../../../firmware/src/store/store.ts';
import { SubmitJournal } from '../../../firmware/src/dispatch/submit-journal.ts';
import { openText, sealText } from '../../../firmware/src/dispatch/sealed-text.ts';
import { deriveSubkey } from '../../../firmware/src/store/device-key.ts';
import { cryptoRandom } from '../../../firmware/src/clock.ts';
import { health } from './fakes.ts';
import { MIN, OUTBOX_MODES, outboxFixture } from './outbox-harness.ts';

describe.each(OUTBOX_MODES)('outbox (%s)', (_mode, withJournal) => {
  const h = outboxFixture(withJournal);
  const { open, entry, record, settle } = h;

  it('sends a queued entry, records refs and modem, and removes the text and full number', async () => {
    const ob = await open();
    const e = { ...entry('c1'), flash: true };
    await ob.enqueue(e);
    await settle('c1', 'sent');
    expect(h.sender.calls).toHaveLength(1);
    expect(h.sender.calls[0]?.text).toBe(e.text);
    expect(h.sender.calls[0]?.opts.remainingMs).toBe(e.expiresAt - h.clock.now());
    expect(h.sender.calls[0]?.opts.flash).toBe(true);
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
    h.sender.modems = [health('m1', 'searching')];
    const ob = await open();
    const e = entry('secret-1');
    e.text = 'Your passcode is 918273';
    await ob.enqueue(e);
    const rec = await record('secret-1');
    expect(rec?.status).toBe('queued');
    expect(rec?.sealed?.ct).toBeTruthy();
    expect(JSON.stringify(rec)).not.toContain('918273');
    await h.store.close();
    for (const f of await readdir(join(h.dir, 'db'))) {
      const raw = await readFile(join(h.dir, 'db', f));
      expect(raw.includes(Buffer.from('918273'))).toBe(false);
    }
    h.store = await openStore(join(h.dir, 'db'));
    h.outbox = undefined;
  });

  it('writes submitting durably before Ctrl-Z (in beforeSubmit)', async () => {
    h.sender.script = [{ kind: 'hold', afterSubmit: true }];
    await open();
    await h.outbox?.enqueue(entry('c1'));
    await vi.waitFor(() => expect(h.sender.held).toBe(1));
    if (withJournal) {
      const j = SubmitJournal.open(h.dir);
      expect(j.readAll().get(1)).toBe(1); // durable before Ctrl-Z, in the journal
      j.close();
      expect((await record('c1'))?.status).toBe('queued'); // the entry catches up when final
    } else {
      expect((await record('c1'))?.status).toBe('submitting');
    }
    expect(await h.outbox?.status('c1')).toBe('submitting');
    h.sender.release();
    await settle('c1', 'sent');
  });

  it('a status report that arrives before the final write is kept, and never rewrites a stale record', async () => {
    h.sender.script = [{ kind: 'hold', afterSubmit: true }];
    await open();
    await h.outbox?.enqueue(entry('c1'));
    await vi.waitFor(() => expect(h.sender.held).toBe(1));
    const noted = h.outbox?.noteDelivery('c1', { delivered: true, at: h.clock.now() });
    h.sender.release();
    await noted;
    await settle('c1', 'sent');
    const rec = await record('c1');
    expect(rec?.status).toBe('sent');
    expect(rec?.delivery?.delivered).toBe(true);
  });

  it("committed() queues at once, on the caller's word: no read back, no polling, no timer", async () => {
    const reads: string[] = [];
    const table = h.store.table.bind(h.store);
    vi.spyOn(h.store, 'table').mockImplementation((name: SublevelName) => {
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
    await h.store.atomic(p.ops);
    reads.length = 0;
    p.committed();
    // The send starts in the same tick: nothing was awaited, nothing read from LevelDB.
    expect(h.sender.calls).toHaveLength(1);
    expect(reads).toEqual([]);
    await settle('c1', 'sent');
    expect(ob.stats().sent).toBe(1);
  });

  it('does not send a prepared entry until its commit is reported; a second committed() is a no-op', async () => {
    const ob = await open();
    const p = ob.prepare(entry('c1'));
    await h.store.atomic(p.ops);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.sender.calls).toHaveLength(0);
    expect(ob.stats().queued).toBe(0);
    p.committed();
    p.committed();
    await settle('c1', 'sent');
    expect(h.sender.calls).toHaveLength(1);
  });

  it('abandoned() forgets the entry: nothing is sent, and the challenge may be given another', async () => {
    const ob = await open();
    const p = ob.prepare(entry('c1'));
    p.abandoned();
    p.committed(); // too late: the handle is settled
    expect(ob.stats().queued).toBe(0);
    expect(h.sender.calls).toHaveLength(0);
    const again = ob.prepare(entry('c1'));
    await h.store.atomic(again.ops);
    again.committed();
    await settle('c1', 'sent');
    expect(h.sender.calls).toHaveLength(1);
  });

  it('forgets a handle left unsettled for over a minute, so its challenge is not blocked for good', async () => {
    const ob = await open();
    ob.prepare(entry('c1'));
    expect(() => ob.prepare(entry('c1'))).toThrow(
      expect.objectContaining({ code: ErrorCode.OutboxDuplicateChallenge }),
    );
    h.clock.advance(61_000);
    const p = ob.prepare(entry('c1', 10 * MIN));
    await h.store.atomic(p.ops);
    p.committed();
    await settle('c1', 'sent');
    expect(h.sender.calls).toHaveLength(1);
  });

  it('refuses a second entry for the same challenge', async () => {
    const ob = await open();
    await ob.enqueue(entry('c1'));
    expect(() => ob.prepare(entry('c1'))).toThrow(
      expect.objectContaining({ code: ErrorCode.OutboxDuplicateChallenge }),
    );
  });

  it('seals with the device key outbox-text subkey, and still sends an entry sealed with the key itself before the upgrade', async () => {
    h.sender.modems = [health('m1', 'searching')];
    const ob = await open();
    await ob.enqueue(entry('c-new'));
    await ob.enqueue(entry('c-old'));
    const fresh = await record('c-new');
    expect(openText(deriveSubkey(h.key, 'outbox-text'), 'c-new', fresh!.sealed!)).toBe(entry('c-new').text);
    expect(() => openText(h.key, 'c-new', fresh!.sealed!)).toThrow();
    await ob.close(100);
    // What a release before subkeys wrote: sealed with the device key itself.
    const old = (await record('c-old'))!;
    await h.store
      .table<OutboxRecord>('outbox')
      .put(`q!${old.seq}`, { ...old, sealed: sealText(h.key, 'c-old', 'old release text', cryptoRandom) });
    h.sender.modems = [health('m1', 'registered')];
    await open();
    await settle('c-old', 'sent');
    await settle('c-new', 'sent');
    expect(h.sender.calls.map((c) => c.text).sort()).toEqual(
      [entry('c-new').text, 'old release text'].sort(),
    );
  });

  it('sends in arrival order', async () => {
    h.sender.script = Array.from({ length: 5 }, () => ({ kind: 'hold' as const }));
    const ob = await open({ lookahead: 0 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) await ob.enqueue(entry(id));
    for (let i = 1; i <= 5; i++) {
      await vi.waitFor(() => expect(h.sender.held).toBe(1));
      expect(h.sender.calls).toHaveLength(i);
      h.sender.release();
    }
    expect(h.sender.calls.map((c) => c.text.slice(9, 10))).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('keeps as many sends in flight as modems can take, plus a lookahead per modem', async () => {
    h.sender.modems = [health('m1', 'registered'), health('m2', 'registered')];
    h.sender.script = Array.from({ length: 10 }, () => ({ kind: 'hold' as const }));
    const ob = await open({ lookahead: 1 });
    for (let i = 0; i < 10; i++) await ob.enqueue(entry(`c${i}`));
    await vi.waitFor(() => expect(h.sender.held).toBe(4));
    await new Promise((r) => setTimeout(r, 20));
    expect(h.sender.calls).toHaveLength(4);
    expect(ob.stats()).toMatchObject({ queued: 6, inFlight: 4 });
    h.sender.release();
    await vi.waitFor(() => expect(h.sender.calls).toHaveLength(5));
    await vi.waitFor(() => expect(h.sender.held).toBe(4));
    h.sender.release(20);
    await vi.waitFor(() => expect(ob.stats().sent).toBe(5));
  });

  it('waits while no modem can send and starts on the health event', async () => {
    h.sender.modems = [health('m1', 'searching')];
    const ob = await open();
    await ob.enqueue(entry('c1'));
    await new Promise((r) => setTimeout(r, 20));
    expect(h.sender.calls).toHaveLength(0);
    expect(ob.ready()).toBe(false);
    expect(ob.expectedWaitMs()).toBe(Infinity);
    h.sender.setModems([health('m1', 'registered')]);
    await settle('c1', 'sent');
  });

  it('reports the oldest unsent age', async () => {
    h.sender.modems = [health('m1', 'searching')];
    const ob = await open();
    expect(ob.stats().oldestQueuedAgeMs).toBeNull();
    await ob.enqueue(entry('c1'));
    h.clock.advance(1234);
    expect(ob.stats().oldestQueuedAgeMs).toBe(1234);
    h.clock.wall += 3600_000; // an NTP step is not an hour of waiting (no false delivery alarm)
    expect(ob.stats().oldestQueuedAgeMs).toBe(1234);
  });
});
