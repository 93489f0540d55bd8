/**
 * The outbox under test, shared by the outbox-*.test.ts files: a fresh LevelDB, fake clock and
 * scripted sender per test, and the helpers that read back what the outbox wrote. Call
 * `outboxFixture` at the top of a `describe.each(OUTBOX_MODES)`: it registers its own
 * `beforeEach`/`afterEach`, so every file runs each test once with the submit journal and once on
 * LevelDB alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, vi } from 'vitest';
import {
  openOutbox,
  type DurableOutbox,
  type OutboxOptions,
  type OutboxRecord,
  type SmsResendAudit,
} from '../../../firmware/src/dispatch/outbox.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import type { OutboxEvent } from '../../../firmware/src/dispatch/types.ts';
import { FakeClock, FakeSender } from './fakes.ts';

export const MIN = 60_000;
const SETTLE_WAIT = { timeout: 10_000 };

/** The two ways the outbox marks a send before Ctrl-Z: `[name, withJournal]` for `describe.each`. */
export const OUTBOX_MODES: [string, boolean][] = [
  ['submit journal', true],
  ['LevelDB only', false],
];

/** What one test works with. The fields are replaced before each test; read them inside a test. */
export interface OutboxFixture {
  /** The data directory (LevelDB in `db/`, and the submit journal when it is on). */
  dir: string;
  /** Tests that close the store to look at its files reopen it here. */
  store: Store;
  clock: FakeClock;
  sender: FakeSender;
  /** The last outbox `open` made; closed after the test unless a test clears it. */
  outbox: DurableOutbox | undefined;
  /** What the outbox reported since the last `open`. */
  events: OutboxEvent[];
  readonly key: Buffer;
  /** Opens an outbox over the test's store, sender and clock (with the journal in the journal mode). */
  open(options?: Partial<OutboxOptions>): Promise<DurableOutbox>;
  /** An entry for `id` that lives `lifeMs` from now. */
  entry(id: string, lifeMs?: number): { challengeId: string; to: string; text: string; expiresAt: number };
  /** The stored record of a challenge's entry, as on disk. */
  record(id: string): Promise<OutboxRecord | undefined>;
  audits(): Promise<SmsResendAudit[]>;
  /**
   * Waits for the status, and for a final one also for its write (memory leads the disk); up to
   * 10 s, since the journal's fsyncs are real IO on a shared machine.
   */
  settle(id: string, status: string): Promise<void>;
}

export function outboxFixture(withJournal: boolean): OutboxFixture {
  const h: OutboxFixture = {
    dir: '',
    store: undefined as unknown as Store,
    clock: new FakeClock(),
    sender: new FakeSender(),
    outbox: undefined,
    events: [],
    key: randomBytes(32),
    async open(options = {}) {
      h.events = [];
      h.outbox = await openOutbox({
        store: h.store,
        sender: h.sender,
        deviceKey: h.key,
        clock: h.clock,
        timers: h.clock,
        options,
        onEvent: (e) => h.events.push(e),
        ...(withJournal ? { dataDir: h.dir } : {}),
      });
      return h.outbox;
    },
    entry: (id, lifeMs = 5 * MIN) => ({
      challengeId: id,
      to: '+15550000001',
      text: `code for ${id}: 123456`,
      expiresAt: h.clock.now() + lifeMs,
    }),
    async record(id) {
      const idx = await h.store.table<{ seq: string }>('outbox').get(`c!${id}`);
      return idx ? h.store.table<OutboxRecord>('outbox').get(`q!${idx.seq}`) : undefined;
    },
    async audits() {
      const out: SmsResendAudit[] = [];
      for await (const [, v] of h.store.table<SmsResendAudit>('audit').entries()) out.push(v);
      return out;
    },
    settle: (id, status) =>
      vi.waitFor(async () => {
        expect(await h.outbox?.status(id)).toBe(status);
        if (['sent', 'failed', 'expired'].includes(status)) expect((await h.record(id))?.status).toBe(status);
      }, SETTLE_WAIT),
  };

  beforeEach(async () => {
    h.dir = await mkdtemp(join(tmpdir(), 'mfabox-outbox-'));
    h.store = await openStore(join(h.dir, 'db'));
    h.clock = new FakeClock();
    h.sender = new FakeSender();
  });
  afterEach(async () => {
    await h.outbox?.close(100);
    h.outbox = undefined;
    await h.store.close();
    await rm(h.dir, { recursive: true, force: true });
  });
  return h;
}
