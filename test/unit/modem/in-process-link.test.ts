/**
 * The simulator on the in-process serialport binding (the demo's link): the driver's real serial
 * stack (SerialPortStream, the transport, the AT channel) sends through it, and an unplug is seen
 * and recovered from as on a tty, with the binding telling the ladder when the port is back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { systemClock } from '../../../firmware/src/clock.ts';
import { modemSchema } from '../../../firmware/src/config/schema.ts';
import { ModemPool } from '../../../firmware/src/modem/pool.ts';
import { startSimulator, type ModemSimulator } from '../../../firmware/src/modem/simulator/index.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import { PTY_TIMEOUTS, PTY_TIMINGS } from '../../support/pty-timings.ts';

let dir: string;
let store: Store;
let sim: ModemSimulator;
let pool: ModemPool;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfabox-inproc-'));
  store = await openStore(dir);
  sim = await startSimulator({ wire: 'in-process', smsDelayMs: 20 });
  const factory = sim.transportFactory;
  if (!factory) throw new Error('no in-process transport');
  pool = new ModemPool([modemSchema.parse({ name: 'sim', path: sim.path })], store, systemClock, {
    transportFactory: factory,
    timeouts: PTY_TIMEOUTS,
    timings: PTY_TIMINGS,
    retryBackoffMs: 50,
  });
  pool.start();
});
afterEach(async () => {
  await pool.stop();
  await sim.stop();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

it('sends a 2-part message through serialport on the in-process binding', async () => {
  expect(sim.path).toBe('in-process:generic');
  await pool.whenReady(10_000);
  const text = `in-process ${'x'.repeat(160)}`;
  const got = sim.inbox.next((m) => m.text === text, 10_000);
  const r = await pool.send('+15550001234', text, { remainingMs: 60_000 });
  expect(r.messageRefs).toHaveLength(2);
  expect((await got).messageRefs).toEqual(r.messageRefs);
});

it('an unplug is a lost port; the modem comes back when the device does, and sends again', async () => {
  await pool.whenReady(10_000);
  const states: string[] = [];
  pool.onHealth((hs) => states.push(...hs.map((h) => h.state)));
  await sim.unplug(300);
  await pool.whenReady(15_000);
  expect(states).toContain('absent');
  const got = sim.inbox.next((m) => m.text === 'after unplug', 10_000);
  await pool.send('+15550001234', 'after unplug', { remainingMs: 60_000 });
  await got;
});
