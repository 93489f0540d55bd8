/**
 * One `Modem` driven over the scripted fake modem (test/support/fake-modem.ts), shared by the
 * modem-*.test.ts files: short timeouts and timings, a fresh store per test, and every modem a
 * test made stopped after it. Call `modemFixture` once at the top level of a test file: it
 * registers its own `beforeEach`/`afterEach`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { systemClock } from '../../../firmware/src/clock.ts';
import { modemSchema } from '../../../firmware/src/config/schema.ts';
import { Modem, type ModemOptions } from '../../../firmware/src/modem/modem.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import type { MemoryTransport } from '../../support/memory-transport.ts';

export const TIMEOUTS = { basic: 300, prompt: 300, send: 400, slow: 400, drainQuiet: 20, drainMax: 100 };
export const TIMINGS = {
  probe: 200,
  probeTries: 2,
  pollSearching: 50,
  pollRegistered: 200,
  reopenPoll: 20,
  reenumerate: 200,
};

/** Waits until the modem's health reaches `state`; throws with the state it is stuck in. */
export async function until(m: Modem, state: string, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (m.health().state !== state) {
    if (performance.now() > end)
      throw new Error(`state ${m.health().state} (${m.health().detail}), wanted ${state}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** What one test works with. `dir` and `store` are replaced before each test: read them inside it. */
export interface ModemFixture {
  dir: string;
  store: Store;
  /** Stopped after the test: a test that builds a `Modem` itself pushes it here. */
  readonly modems: Modem[];
  /** A modem named m1 over `t` (config `over`, the SIM PIN keyed with `pinKey`), not started. */
  make(t: MemoryTransport, over?: Record<string, unknown>, pinKey?: Buffer): Modem;
  /** Like `make`, with the clock or timings a test needs instead of the defaults. */
  tuned(
    t: MemoryTransport,
    tuning: Partial<Pick<ModemOptions, 'clock' | 'timings'>>,
    over?: Record<string, unknown>,
  ): Modem;
  /** A modem made, started, and waited for until it reaches `state`. */
  started(t: MemoryTransport, over: Record<string, unknown>, state: string, pinKey?: Buffer): Promise<Modem>;
}

export function modemFixture(): ModemFixture {
  const fx: ModemFixture = {
    dir: '',
    store: undefined as unknown as Store,
    modems: [],
    make: (t, over = {}, pinKey) => build(t, over, pinKey ? { pinKey } : {}),
    tuned: (t, tuning, over = {}) => build(t, over, tuning),
    async started(t, over, state, pinKey) {
      const m = fx.make(t, over, pinKey);
      m.start();
      await until(m, state);
      return m;
    },
  };

  function build(t: MemoryTransport, over: Record<string, unknown>, extra: Partial<ModemOptions>): Modem {
    const m = new Modem({
      config: modemSchema.parse({ name: 'm1', path: '/dev/null', ...over }),
      store: fx.store,
      clock: systemClock,
      transportFactory: () => t,
      timeouts: TIMEOUTS,
      timings: TIMINGS,
      ...extra,
    });
    fx.modems.push(m);
    return m;
  }

  beforeEach(async () => {
    fx.dir = await mkdtemp(join(tmpdir(), 'mfabox-modem-'));
    fx.store = await openStore(fx.dir);
  });
  afterEach(async () => {
    await Promise.all(fx.modems.splice(0).map((m) => m.stop()));
    await fx.store.close();
    await rm(fx.dir, { recursive: true, force: true });
  });
  return fx;
}
