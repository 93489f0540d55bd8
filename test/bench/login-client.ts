/**
 * The login bench's load generator, in its own process so its CPU is measured apart: step-1
 * Access-Requests (User-Name bulkNNNNN, the users' password, Message-Authenticator) over UDP, or
 * with BENCH_REQUESTS (a file of `user<TAB>password<TAB>State hex` lines, taken in turn and
 * wrapped round) step-2 ones carrying a State.
 *  - closed loop: BENCH_CONCURRENCY requests in flight, each answer sends the next (throughput);
 *  - open loop: BENCH_RATE requests/s on a fixed schedule whatever the answers (latency at a load).
 * Cheap on purpose: no reply authenticator checks, a few sockets, no per-request processes.
 * Env: BENCH_PORT, BENCH_SECRET, BENCH_USERS, BENCH_PASSWORD, BENCH_REQUESTS, BENCH_MODE (closed|open),
 * BENCH_CONCURRENCY, BENCH_RATE, BENCH_SECONDS, BENCH_MAX (stop sending after this many, so
 * single-use States are not sent twice). Prints one JSON line with the counts and RTTs.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { encodeRequest } from '../../firmware/src/radius/codec.ts';

const port = Number(process.env.BENCH_PORT);
const secret = Buffer.from(process.env.BENCH_SECRET ?? 'bench-nas-secret-0123456789');
const users = Number(process.env.BENCH_USERS ?? 1000);
const password = process.env.BENCH_PASSWORD ?? '';
const mode = process.env.BENCH_MODE ?? 'closed';
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const rate = Number(process.env.BENCH_RATE ?? 200);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const max = Number(process.env.BENCH_MAX ?? Infinity);
const TIMEOUT_MS = 3000;
const listed = process.env.BENCH_REQUESTS
  ? readFileSync(process.env.BENCH_REQUESTS, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [user = '', pw = '', state = ''] = l.split('\t');
        return { user, password: pw, state: Buffer.from(state, 'hex') };
      })
  : undefined;

interface Slot {
  sock: dgram.Socket;
  id: number;
}
/** 256 identifiers per socket: enough sockets for what may be in flight. */
const socks = await Promise.all(
  Array.from(
    { length: Math.max(1, Math.ceil((mode === 'open' ? rate * 3 : concurrency) / 200)) },
    async () => {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
      return s;
    },
  ),
);
const free: Slot[] = socks.flatMap((sock) => Array.from({ length: 256 }, (_, id) => ({ sock, id })));
const pending = new Map<string, { t: number; slot: Slot; timer: NodeJS.Timeout }>();
const codes: Record<string, number> = {};
const rtts: number[] = [];
let sent = 0;
let lost = 0;
let next = 0;
let stopped = false;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const key = (s: dgram.Socket, id: number) => `${socks.indexOf(s)}:${id}`;

const done = new Promise<void>((resolve) => {
  const settle = (slot: Slot, code: string | undefined) => {
    free.push(slot);
    if (code) codes[code] = (codes[code] ?? 0) + 1;
    if (mode === 'closed' && !stopped) send();
    if (stopped && pending.size === 0) resolve();
  };
  for (const s of socks)
    s.on('message', (m) => {
      const k = key(s, m[1] ?? 0);
      const p = pending.get(k);
      if (!p) return;
      pending.delete(k);
      clearTimeout(p.timer);
      rtts.push(performance.now() - p.t);
      settle(p.slot, String(m[0]));
    });
  function send(): void {
    if (sent >= max) {
      stopped = true;
      if (pending.size === 0) resolve();
      return;
    }
    const slot = free.shift();
    if (!slot) return;
    const item = listed?.[next % listed.length];
    const n = (next++ % users) + 1;
    const pkt = encodeRequest({
      identifier: slot.id,
      authenticator: randomBytes(16),
      secret,
      attributes: item
        ? [
            ['User-Name', item.user],
            ['State', item.state],
          ]
        : [['User-Name', `bulk${String(n).padStart(5, '0')}`]],
      password: item?.password ?? password,
    });
    const k = key(slot.sock, slot.id);
    const timer = setTimeout(() => {
      pending.delete(k);
      lost++;
      settle(slot, undefined);
    }, TIMEOUT_MS);
    pending.set(k, { t: performance.now(), slot, timer });
    sent++;
    slot.sock.send(pkt, port, '127.0.0.1');
  }
  if (mode === 'closed') for (let i = 0; i < concurrency; i++) send();
  else {
    const tick = setInterval(() => {
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      while (sent < due && !stopped) send();
    }, 2);
    setTimeout(() => clearInterval(tick), seconds * 1000);
  }
  setTimeout(() => {
    stopped = true;
    if (pending.size === 0) resolve();
  }, seconds * 1000);
});
await done;
const elapsed = (performance.now() - t0) / 1000;
for (const s of socks) s.close();
const sorted = [...rtts].sort((a, b) => a - b);
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  JSON.stringify({
    sent,
    answered: rtts.length,
    lost,
    codes,
    seconds: elapsed,
    p50: pct(50),
    p99: pct(99),
    cpuUs: cpu.user + cpu.system,
  }) + '\n',
);
