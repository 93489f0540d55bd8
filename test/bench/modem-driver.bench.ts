/**
 * The AT driver's own costs (`npm run bench -- modem-driver`), each as a ratio against a limit
 * measured or fixed in the same run:
 * - framer throughput ÷ the byte rate of a 115200-baud serial line (how much headroom parsing has);
 * - host overhead per SMS (wall time per send minus the simulator's network time) ÷ that network time;
 * - the extra cost of a one-off +CMS ERROR: 512 and of SIM busy after boot ÷ the 2 s limit of issue 3.
 * The modems are the pty simulator, so the real serialport code runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../firmware/src/clock.ts';
import { modemSchema } from '../../firmware/src/config/schema.ts';
import { AtFramer } from '../../firmware/src/modem/at/framer.ts';
import { ModemPool } from '../../firmware/src/modem/pool.ts';
import { serialTransport } from '../../firmware/src/modem/transport.ts';
import { startSimulator } from '../../firmware/src/modem/simulator/index.ts';
import { openStore, type Store } from '../../firmware/src/store/store.ts';

const SERIAL_BYTES_PER_S = 115200 / 10;
const NETWORK_MS = 300;
const SENDS = 20;
const LIMIT_MS = 2000;

function framerThroughput(): number {
  const sample =
    'AT+CSQ\r\r\n+CSQ: 23,99\r\n\r\n+CMTI: "SM",3\r\n\r\nOK\r\n' +
    '\r\n^SYSINFO:2,3,0\r\n+CMTI: "SM",29\r\n,5,1,,4\r\n\r\nOK\r\n' +
    'AT+CMGS=19\r\r\n> 0011000B915155550000F10000A705C8329BFD06\x1a\r\n\r\n+CMGS: 42\r\n\r\nOK\r\n';
  const buf = Buffer.from(sample.repeat(20000), 'latin1');
  const framer = new AtFramer();
  framer.expect({ echo: 'AT+CSQ', prompt: true });
  const started = performance.now();
  let events = 0;
  for (let i = 0; i < buf.length; i += 64) events += framer.push(buf.subarray(i, i + 64)).length;
  const s = (performance.now() - started) / 1000;
  console.log(`framer: ${(buf.length / 1e6).toFixed(1)} MB, ${events} events in ${(s * 1000).toFixed(0)} ms`);
  return buf.length / s;
}

async function withPool<T>(
  store: Store,
  profile: string,
  prepare: (sim: Awaited<ReturnType<typeof startSimulator>>) => void,
  fn: (pool: ModemPool, sim: Awaited<ReturnType<typeof startSimulator>>, started: number) => Promise<T>,
): Promise<T> {
  const sim = await startSimulator({ profile, smsDelayMs: NETWORK_MS });
  prepare(sim);
  const started = performance.now();
  const pool = new ModemPool(
    [modemSchema.parse({ name: 'bench', path: sim.path, maxPerMinute: 60 })],
    store,
    systemClock,
    { transportFactory: serialTransport },
  );
  pool.start();
  try {
    return await fn(pool, sim, started);
  } finally {
    await pool.stop();
    await sim.stop();
  }
}

export async function run(): Promise<void> {
  const bps = framerThroughput();
  console.log(`framer throughput ÷ 115200-baud line: ${(bps / SERIAL_BYTES_PER_S).toFixed(0)}×`);

  const dir = await mkdtemp(join(tmpdir(), 'mfabox-bench-modem-'));
  const store = await openStore(dir);
  const LIFE_MS = 300_000;
  try {
    const baselineReady = await withPool(
      store,
      'generic',
      () => undefined,
      async (pool, _sim, started) => {
        await pool.whenReady(20_000);
        const ready = performance.now() - started;
        const t0 = performance.now();
        for (let i = 0; i < SENDS; i++)
          await pool.send('+15550001234', `code ${i}`, { remainingMs: LIFE_MS });
        const per = (performance.now() - t0) / SENDS;
        const overhead = per - NETWORK_MS;
        console.log(
          `per SMS ${per.toFixed(1)} ms with ${NETWORK_MS} ms network time: host+wire overhead ${overhead.toFixed(1)} ms`,
        );
        console.log(`host overhead ÷ network time: ${(overhead / NETWORK_MS).toFixed(3)}`);

        {
          _sim.fault({ kind: 'cms-error', code: 512, times: 'once' });
          const t1 = performance.now();
          await pool.send('+15550001234', 'after 512', { remainingMs: LIFE_MS });
          const extra = performance.now() - t1 - per;
          console.log(
            `one-off CMS 512 extra cost ${extra.toFixed(0)} ms; ÷ ${LIMIT_MS} ms limit: ${(extra / LIMIT_MS).toFixed(2)}`,
          );
        }
        return ready;
      },
    );

    const BUSY_MS = 1500;
    await withPool(
      store,
      'generic',
      (sim) => sim.fault({ kind: 'sim-busy', ms: BUSY_MS }),
      async (pool, _sim, started) => {
        await pool.whenReady(20_000);
        const ready = performance.now() - started;
        // The wait itself is the SIM's; the cost is how late after the SIM cleared the modem is ready.
        const extra = Math.max(0, ready - Math.max(BUSY_MS, baselineReady));
        console.log(
          `SIM busy ${BUSY_MS} ms: ready after ${ready.toFixed(0)} ms (no busy: ${baselineReady.toFixed(0)} ms); extra ${extra.toFixed(0)} ms ÷ ${LIMIT_MS} ms limit: ${(extra / LIMIT_MS).toFixed(2)}`,
        );
      },
    );
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}
