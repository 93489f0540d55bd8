/**
 * A graceful stop (what `systemctl restart` does) while an SMS waits for the network's answer:
 * Outbox → ModemPool → serialport on a socat pty → the modem simulator. main stops the outbox
 * first, then the pool; the send past Ctrl-Z must settle, so the handset gets exactly one SMS
 * and the next start resends nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../firmware/src/clock.ts';
import { modemSchema } from '../../firmware/src/config/schema.ts';
import { openDeviceKey } from '../../firmware/src/store/device-key.ts';
import {
  openOutbox,
  type DurableOutbox,
  type OutboxRecord,
  type SmsResendAudit,
} from '../../firmware/src/dispatch/outbox.ts';
import { ModemPool } from '../../firmware/src/modem/pool.ts';
import { serialTransport } from '../../firmware/src/modem/transport.ts';
import { startSimulator, type ModemSimulator } from '../../firmware/src/modem/simulator/index.ts';
import { openStore, type Store } from '../../firmware/src/store/store.ts';
import { PTY_TIMEOUTS, PTY_TIMINGS } from '../support/pty-timings.ts';

// The network takes 5.5 s to answer: longer than the outbox's old fixed 5 s stop wait.
const SMS_DELAY_MS = 5500;
const TIMEOUTS = { ...PTY_TIMEOUTS, send: 8000 };
const TIMINGS = PTY_TIMINGS;

let dir: string;
let store: Store;
let sim: ModemSimulator | undefined;
let pool: ModemPool | undefined;
let outbox: DurableOutbox | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfabox-outbox-stop-'));
  store = await openStore(join(dir, 'db'));
});
afterEach(async () => {
  await outbox?.close(500);
  await pool?.stop();
  await sim?.stop();
  await store.close();
  await rm(dir, { recursive: true, force: true });
  outbox = undefined;
  pool = undefined;
  sim = undefined;
});

async function startBox(): Promise<DurableOutbox> {
  const s = sim as ModemSimulator;
  const p = new ModemPool(
    [modemSchema.parse({ name: 'sim1', path: s.path, maxPerMinute: 60 })],
    store,
    systemClock,
    { transportFactory: serialTransport, timeouts: TIMEOUTS, timings: TIMINGS, retryBackoffMs: 50 },
  );
  pool = p;
  p.start();
  outbox = await openOutbox({
    store,
    sender: p,
    deviceKey: (await openDeviceKey({ path: join(dir, 'device.key'), dataDir: dir })).raw(),
    dataDir: dir,
  });
  await until(() => p.ready(), 15_000, 'modem registered');
  return outbox;
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('outbox graceful stop → ModemPool → pty → simulator', () => {
  it('close() during a send waiting for its final: exactly one SMS, no resend at the next start', async () => {
    sim = await startSimulator({ profile: 'generic', smsDelayMs: SMS_DELAY_MS });
    const ob = await startBox();
    const text = 'g1 Your MFA Box passcode is 135790.';
    await ob.enqueue({ challengeId: 'g1', to: '+15550000001', text, expiresAt: Date.now() + 300_000 });
    await until(async () => (await ob.status('g1')) === 'submitting', 10_000, 'submitting');

    // What main does on SIGTERM: the outbox first (it waits for the send), then the pool.
    await ob.close();
    await pool?.stop();
    outbox = undefined;
    pool = undefined;

    const idx = await store.table<{ seq: string }>('outbox').get('c!g1');
    const rec = await store.table<OutboxRecord>('outbox').get(`q!${idx?.seq ?? ''}`);
    expect(rec?.status).toBe('sent');

    // The next start: nothing to resend.
    await startBox();
    await new Promise((r) => setTimeout(r, 1000));
    expect(sim.inbox.messages.map((m) => m.text)).toEqual([text]);
    const audits: SmsResendAudit[] = [];
    for await (const [, v] of store.table<SmsResendAudit>('audit').entries()) audits.push(v);
    expect(audits).toEqual([]);
  }, 40_000);
});
