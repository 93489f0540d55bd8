/**
 * The whole SMS path for real: Outbox → ModemPool → serialport on a socat pty → the modem
 * simulator's handset inbox. Counts what the handset received per challenge across a failover
 * between two simulated modems and an unplug in the middle of a send.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../firmware/src/clock.ts';
import { modemSchema } from '../../firmware/src/config/schema.ts';
import { openDeviceKey } from '../../firmware/src/store/device-key.ts';
import { openOutbox, type DurableOutbox, type SmsResendAudit } from '../../firmware/src/dispatch/outbox.ts';
import { ModemPool } from '../../firmware/src/modem/pool.ts';
import { serialTransport } from '../../firmware/src/modem/transport.ts';
import { startSimulator, type ModemSimulator } from '../../firmware/src/modem/simulator/index.ts';
import { openStore, type Store } from '../../firmware/src/store/store.ts';
import { PTY_TIMEOUTS, PTY_TIMINGS } from '../support/pty-timings.ts';

const TIMEOUTS = PTY_TIMEOUTS;
const TIMINGS = PTY_TIMINGS;

let dir: string;
let store: Store;
let sims: ModemSimulator[];
let pool: ModemPool | undefined;
let outbox: DurableOutbox | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfabox-outbox-pty-'));
  store = await openStore(join(dir, 'db'));
  sims = [];
});
afterEach(async () => {
  await outbox?.close(500);
  await pool?.stop();
  await Promise.all(sims.map((s) => s.stop()));
  await store.close();
  await rm(dir, { recursive: true, force: true });
  outbox = undefined;
  pool = undefined;
});

async function startBox(n: number): Promise<void> {
  for (let i = 0; i < n; i++) sims.push(await startSimulator({ profile: 'generic', smsDelayMs: 60 }));
  pool = new ModemPool(
    sims.map((s, i) => modemSchema.parse({ name: `sim${i + 1}`, path: s.path, maxPerMinute: 60 })),
    store,
    systemClock,
    { transportFactory: serialTransport, timeouts: TIMEOUTS, timings: TIMINGS, retryBackoffMs: 50 },
  );
  pool.start();
  outbox = await openOutbox({
    store,
    sender: pool,
    deviceKey: (await openDeviceKey({ path: join(dir, 'device.key'), dataDir: dir })).raw(),
    dataDir: dir,
    options: { retryBaseMs: 50 },
  });
  const p = pool;
  await until(() => p.health().every((h) => h.state === 'registered'), 15_000, 'modems registered');
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const received = (): Map<string, string[]> => {
  const m = new Map<string, string[]>();
  for (const s of sims)
    for (const sms of s.inbox.messages) {
      const id = sms.text.split(' ')[0] ?? '';
      m.set(id, [...(m.get(id) ?? []), sms.text]);
    }
  return m;
};
const passcode = (id: string) => ({
  challengeId: id,
  to: '+15550000001',
  text: `${id} Your MFA Box passcode is 246810.`,
  expiresAt: Date.now() + 300_000,
});
async function audits(): Promise<SmsResendAudit[]> {
  const out: SmsResendAudit[] = [];
  for await (const [, v] of store.table<SmsResendAudit>('audit').entries()) out.push(v);
  return out;
}
const finalAll = (ids: string[]) => async () => {
  for (const id of ids) {
    const s = await outbox?.status(id);
    if (s === 'queued' || s === 'submitting' || s === undefined) return false;
  }
  return true;
};

describe('outbox → ModemPool → pty → simulator', () => {
  it('delivers exactly one SMS per challenge over two modems, and fails over when one dies', async () => {
    await startBox(2);
    const ob = outbox as DurableOutbox;
    const first = Array.from({ length: 6 }, (_, i) => `a${i}`);
    for (const id of first) await ob.enqueue(passcode(id));
    await until(finalAll(first), 15_000, 'first batch');
    // Both modems took part.
    expect(sims.every((s) => s.inbox.messages.length > 0)).toBe(true);

    // sim1 loses its SIM: the pool moves the work to sim2.
    sims[0]?.fault({ kind: 'dead-sim' });
    const second = Array.from({ length: 6 }, (_, i) => `b${i}`);
    for (const id of second) await ob.enqueue(passcode(id));
    await until(finalAll(second), 20_000, 'second batch');

    // Everything after the SIM died went out through sim2.
    const viaSim2 = new Set(sims[1]?.inbox.messages.map((m) => m.text.split(' ')[0]));
    for (const id of second) expect(viaSim2.has(id), id).toBe(true);
    const got = received();
    for (const id of [...first, ...second]) {
      expect(got.get(id), id).toEqual([passcode(id).text]);
      expect(await ob.status(id)).toBe('sent');
    }
    expect(await audits()).toEqual([]);
  }, 60_000);

  it('unplug mid-send, message lost: resent once (audited) on the other modem, exactly one SMS each', async () => {
    await startBox(2);
    const ob = outbox as DurableOutbox;
    sims[0]?.fault({ kind: 'unplug-mid-send', ms: 500, delivered: false });
    const ids = ['u1', 'u2', 'u3', 'u4'];
    for (const id of ids) {
      await ob.enqueue(passcode(id));
      await until(finalAll([id]), 20_000, `${id} final`);
    }
    expect(sims[0]?.log.some((e) => e.kind === 'unplug')).toBe(true);
    const got = received();
    for (const id of ids) {
      expect(got.get(id), id).toEqual([passcode(id).text]);
      expect(await ob.status(id)).toBe('sent');
    }
    const a = await audits();
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ kind: 'sms-resend-unknown-outcome', outcome: 'sent', to: '******0001' });
  }, 60_000);

  it('unplug mid-send after the network took it: at most one more copy, identical, audited', async () => {
    await startBox(2);
    const ob = outbox as DurableOutbox;
    sims[0]?.fault({ kind: 'unplug-mid-send', ms: 500, delivered: true });
    const ids = ['v1', 'v2', 'v3'];
    for (const id of ids) {
      await ob.enqueue(passcode(id));
      await until(finalAll([id]), 20_000, `${id} final`);
    }
    const [a] = await audits();
    expect(a).toBeDefined();
    const got = received();
    for (const id of ids) {
      const copies = got.get(id) ?? [];
      // The unplugged one may arrive twice (the network had it; the resend is the one allowed
      // extra copy); never three times, never a different text. The others exactly once.
      expect(copies.length, id).toBe(id === a?.challengeId ? 2 : 1);
      for (const c of copies) expect(c).toBe(passcode(id).text);
    }
  }, 60_000);
});
