/**
 * `npm run bench -- modem`: the whole SMS path (Outbox → ModemPool → real pty → simulator) against
 * Debian's smstools daemon on the same simulated modem timing, in the same run.
 *
 * Every figure is read from the simulators' wire logs, the same way for both:
 * - sending time = Σ (+CMGS answered − PDU/Ctrl-Z received): the simulated network time;
 * - wall = first `AT+CMGS` seen on the wire (any modem) → last `+CMGS` answer (any modem);
 * - utilisation = sending time ÷ (wall × modems), the issue's formula: when the queue runs dry one
 *   modem may finish up to one SMS before the other, and that idle tail counts against it;
 * - host overhead per SMS = Σ over modems (own window − own sending) ÷ SMS, each modem's window
 *   being its first `AT+CMGS` → its last answer: the idle tail is not the host's work;
 * - idle pickup = passcode queued on an idle box → its `AT+CMGS` seen on the wire (median).
 * Recovery costs are measured end to end through the outbox and compared with the 2 s limit.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModemConfig } from '../../firmware/src/config/schema.ts';
import type { DurableOutbox } from '../../firmware/src/dispatch/outbox.ts';
import type { ModemPool } from '../../firmware/src/modem/pool.ts';
import type { ModemSimulator, SimEvent } from '../../firmware/src/modem/simulator/index.ts';
import type { Store } from '../../firmware/src/store/store.ts';
import { startSmsd } from './smstools-peer.ts';

/**
 * The firmware modules, imported only once run() has silenced logging: their module-level
 * loggers take the level at import time, and 200 SMS of info lines would bury the figures.
 */
async function load() {
  const [clock, schema, key, outbox, pool, sim, store, transport] = await Promise.all([
    import('../../firmware/src/clock.ts'),
    import('../../firmware/src/config/schema.ts'),
    import('../../firmware/src/store/device-key.ts'),
    import('../../firmware/src/dispatch/outbox.ts'),
    import('../../firmware/src/modem/pool.ts'),
    import('../../firmware/src/modem/simulator/index.ts'),
    import('../../firmware/src/store/store.ts'),
    import('../../firmware/src/modem/transport.ts'),
  ]);
  return {
    systemClock: clock.systemClock,
    modemSchema: schema.modemSchema,
    openDeviceKey: key.openDeviceKey,
    openOutbox: outbox.openOutbox,
    ModemPool: pool.ModemPool,
    startSimulator: sim.startSimulator,
    openStore: store.openStore,
    serialTransport: transport.serialTransport,
  };
}
let fw!: Awaited<ReturnType<typeof load>>;
const startSimulator = (o: { profile: string; smsDelayMs: number }): Promise<ModemSimulator> =>
  fw.startSimulator(o);

/** What the figures need from a simulator, in-process or not. */
interface SimLike {
  path: string;
  log: SimEvent[];
  inbox: { messages: { text: string; receivedAt: number }[] };
  /** Reads what an out-of-process simulator wrote since the last call (no-op in process). */
  sync?(): void;
  stop(): Promise<void>;
}

/**
 * A simulator in its own process (`mfabox sim --json --link PATH`), used for every throughput
 * figure, ours and smstools' alike: in process, the simulator's work would land on the event
 * loop of the driver under test and count as its overhead. Its JSON lines go to a file, read
 * only when a figure or a wait needs them, so no pipe wakes the process under test either.
 */
async function externalSim(link: string): Promise<SimLike> {
  const file = `${link}.jsonl`;
  const out = openSync(file, 'w');
  const child = spawn(
    process.execPath,
    [
      join(import.meta.dirname, '../../scripts/mfabox.mjs'),
      'sim',
      '--profile',
      'generic',
      '--sms-ms',
      String(NETWORK_MS),
      '--json',
      '--link',
      link,
    ],
    { stdio: ['ignore', out, 'ignore'], env: { ...process.env, MFABOX_LOG_LEVEL: 'silent' } },
  );
  closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const fd = openSync(file, 'r');
  let offset = 0;
  let partial = '';
  let ready = false;
  const sim: SimLike = {
    path: link,
    log: [],
    inbox: { messages: [] },
    sync() {
      const buf = Buffer.alloc(1 << 20);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        offset += n;
        const lines = (partial + buf.subarray(0, n).toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          let o: Record<string, unknown>;
          try {
            o = JSON.parse(line) as Record<string, unknown>;
          } catch {
            continue;
          }
          if (o.kind === 'ready') ready = true;
          else if (o.kind === 'sms')
            sim.inbox.messages.push({ text: String(o.text), receivedAt: Number(o.receivedAt) });
          else sim.log.push(o as unknown as SimEvent);
        }
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      closeSync(fd);
    },
  };
  await waitUntil(
    () => {
      if (child.exitCode !== null) throw new Error('mfabox sim exited before it was ready');
      sim.sync?.();
      return ready;
    },
    30_000,
    'mfabox sim',
  );
  return sim;
}

const NETWORK_MS = 1000;
const BURST = Number(process.env.MFABOX_BENCH_BURST ?? 200);
const PEER_BURST = Number(process.env.MFABOX_BENCH_PEER_BURST ?? 50);
const IDLE_SAMPLES = 5;
const TO = '+15550000001';
const LIMIT_RECOVERY_MS = 2000;

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = now() + ms;
  while (!cond()) {
    if (now() > end) throw new Error(`timed out waiting for ${what}`);
    // Coarse on purpose: the figures come from the wire logs, and a tight poll here would steal
    // the event loop from the driver under test.
    await sleep(50);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

interface Throughput {
  sms: number;
  modems: number;
  wallMs: number;
  sendingMs: number;
  /** The formula: sending time ÷ (wall time × modems), wall = first `AT+CMGS` → last answer. */
  utilisation: number;
  /** Sending time ÷ the sum of each modem's own window (no idle tail when the queue runs dry). */
  utilisationOwnWindows: number;
  overheadMsPerSms: number;
}

/** Throughput figures from the wire logs of the given simulators, for events after `since`. */
function throughput(sims: SimLike[], since: number): Throughput {
  for (const s of sims) s.sync?.();
  let sendingMs = 0;
  let sms = 0;
  // Each modem's own window, first AT+CMGS → last answer: when the queue runs dry one modem
  // finishes up to one SMS before the other, and that tail is not host overhead.
  let windows = 0;
  let firstAll = Infinity;
  let lastAll = 0;
  for (const s of sims) {
    let start: number | undefined;
    let first = Infinity;
    let last = 0;
    for (const e of s.log) {
      if (e.t < since) continue;
      if (e.kind === 'cmgs-command') first = Math.min(first, e.t);
      else if (e.kind === 'submit-start') start = e.t;
      else if ((e.kind === 'submit-done' || e.kind === 'submit-failed') && start !== undefined) {
        sendingMs += e.t - start;
        last = Math.max(last, e.t);
        if (e.kind === 'submit-done') sms++;
        start = undefined;
      }
    }
    if (last > first) {
      windows += last - first;
      firstAll = Math.min(firstAll, first);
      lastAll = Math.max(lastAll, last);
    }
  }
  const wallMs = lastAll - firstAll;
  return {
    sms,
    modems: sims.length,
    wallMs,
    sendingMs,
    utilisation: sendingMs / (wallMs * sims.length),
    utilisationOwnWindows: sendingMs / windows,
    overheadMsPerSms: (windows - sendingMs) / sms,
  };
}

interface Phases {
  /** `+CMGS` answered → next `AT+CMGS` on the same modem (host: result, hand-over, next command). */
  doneToCmd: number[];
  /** `> ` prompt → PDU and Ctrl-Z received (host: the durable `submitting` mark, the PDU write). */
  promptToSubmit: number[];
}

/** Where the host's time per SMS goes, from the wire log (for a breakdown line). */
function phases(sims: SimLike[], since: number): Phases {
  for (const s of sims) s.sync?.();
  const out: Phases = { doneToCmd: [], promptToSubmit: [] };
  for (const s of sims) {
    let done: number | undefined;
    let prompt: number | undefined;
    for (const e of s.log) {
      if (e.t < since) continue;
      if (e.kind === 'cmgs-command' && done !== undefined) out.doneToCmd.push(e.t - done);
      if (e.kind === 'prompt') prompt = e.t;
      if (e.kind === 'submit-start' && prompt !== undefined) out.promptToSubmit.push(e.t - prompt);
      if (e.kind === 'submit-done') done = e.t;
      if (e.kind === 'cmgs-command' || e.kind === 'submit-failed') done = undefined;
    }
  }
  return out;
}

function pctl(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}

const breakdown = (p: Phases): string =>
  `done→next AT+CMGS median ${pctl(p.doneToCmd, 0.5).toFixed(2)} / p90 ${pctl(p.doneToCmd, 0.9).toFixed(2)} / max ${pctl(p.doneToCmd, 1).toFixed(1)} ms; ` +
  `prompt→Ctrl-Z median ${pctl(p.promptToSubmit, 0.5).toFixed(2)} / p90 ${pctl(p.promptToSubmit, 0.9).toFixed(2)} / max ${pctl(p.promptToSubmit, 1).toFixed(1)} ms`;

/** SMS the handsets received so far. */
function delivered(sims: SimLike[]): number {
  let n = 0;
  for (const s of sims) {
    s.sync?.();
    n += s.inbox.messages.length;
  }
  return n;
}

/** The first `AT+CMGS` any of the simulators saw at or after `t0`. */
function firstCmgsAfter(sims: SimLike[], t0: number): number | undefined {
  for (const s of sims) s.sync?.();
  let best: number | undefined;
  for (const s of sims)
    for (const e of s.log)
      if (e.kind === 'cmgs-command' && e.t >= t0 && (best === undefined || e.t < best)) best = e.t;
  return best;
}

function modemConfig(name: string, path: string): ModemConfig {
  // The per-SIM rate budget (config max 60/min) is not under test here: lift it, so the figures
  // measure host overhead and not the operator-protection throttle.
  return { ...fw.modemSchema.parse({ name, path }), maxPerMinute: 100_000 };
}

interface Box {
  sims: SimLike[];
  pool: ModemPool;
  store: Store;
  outbox: DurableOutbox;
  close(): Promise<void>;
}

async function startBox(dir: string, sims: SimLike[]): Promise<Box> {
  const store = await fw.openStore(join(dir, 'db'));
  const pool = new fw.ModemPool(
    sims.map((s, i) => modemConfig(`sim${i + 1}`, s.path)),
    store,
    fw.systemClock,
    { transportFactory: fw.serialTransport },
  );
  pool.start();
  const outbox = await fw.openOutbox({
    store,
    sender: pool,
    deviceKey: (await fw.openDeviceKey({ path: join(dir, 'device.key'), dataDir: dir })).raw(),
    dataDir: dir,
  });
  return {
    sims,
    pool,
    store,
    outbox,
    async close() {
      await outbox.close(1000);
      await pool.stop();
      await store.close();
    },
  };
}

let seq = 0;
function passcode(lifeMs = 300_000): { challengeId: string; to: string; text: string; expiresAt: number } {
  const id = `b${++seq}`;
  return {
    challengeId: id,
    to: TO,
    text: `${id} Your MFA Box passcode is ${String(100000 + seq).slice(-6)}. It expires in 5 min.`,
    expiresAt: Date.now() + lifeMs,
  };
}

const idOf = (text: string): string => text.split(' ')[0] ?? '';

async function benchOurs(dir: string): Promise<{
  tp: Throughput;
  ph: Phases;
  idleMs: number[];
  duplicates: number;
  afterExpiry: number;
  expiredDropped: number;
  queued: number;
}> {
  await mkdir(dir, { recursive: true });
  const sims = [await externalSim(join(dir, 'modem1')), await externalSim(join(dir, 'modem2'))];
  const box = await startBox(dir, sims);
  try {
    await waitUntil(() => box.pool.health().every((h) => h.state === 'registered'), 30_000, 'both modems');
    const sent = (): number => delivered(sims);

    // Idle pickup: one passcode at a time on an idle box.
    const idleMs: number[] = [];
    for (let i = 0; i < IDLE_SAMPLES; i++) {
      await sleep(300);
      const before = sent();
      const t0 = now();
      await box.outbox.enqueue(passcode());
      await waitUntil(() => sent() > before, 10_000, 'idle send');
      const t1 = firstCmgsAfter(sims, t0);
      if (t1 !== undefined) idleMs.push(t1 - t0);
    }
    await sleep(300);

    // The burst. Every 10th passcode has a short life, so those far back in the queue expire
    // before their turn: they must be dropped, never sent late.
    const expiries = new Map<string, number>();
    const since = now();
    const entries = Array.from({ length: BURST }, (_, i) => passcode(i % 10 === 9 ? 20_000 : 300_000));
    for (const e of entries) expiries.set(e.challengeId, e.expiresAt);
    await Promise.all(entries.map((e) => box.outbox.enqueue(e)));
    await waitUntil(
      () => box.outbox.stats().queued === 0 && box.outbox.stats().inFlight === 0,
      BURST * NETWORK_MS * 2,
      'the burst to drain',
    );
    const tp = throughput(sims, since);
    const ph = phases(sims, since);

    const counts = new Map<string, number>();
    let afterExpiry = 0;
    for (const s of sims)
      for (const m of s.inbox.messages) {
        const id = idOf(m.text);
        counts.set(id, (counts.get(id) ?? 0) + 1);
        const exp = expiries.get(id);
        if (exp !== undefined && m.receivedAt > exp) afterExpiry++;
      }
    let duplicates = 0;
    for (const n of counts.values()) duplicates += n - 1;
    let expiredDropped = 0;
    for (const e of entries) if ((await box.outbox.status(e.challengeId)) === 'expired') expiredDropped++;
    return { tp, ph, idleMs, duplicates, afterExpiry, expiredDropped, queued: BURST };
  } finally {
    await box.close();
    await Promise.all(sims.map((s) => s.stop()));
  }
}

async function benchSmstools(
  dir: string,
): Promise<{ tp: Throughput; ph: Phases; idleMs: number[]; sent: number }> {
  await mkdir(dir, { recursive: true });
  const sim = await externalSim(join(dir, 'modem'));
  const smsd = await startSmsd(join(dir, 'smsd'), sim.path);
  try {
    // smstools initialises the modem on its first message; warm it up so idle pickup is fair.
    await smsd.queue(TO, 'warm-up');
    await waitUntil(() => delivered([sim]) >= 1, 60_000, 'smsd warm-up');
    const idleMs: number[] = [];
    for (let i = 0; i < IDLE_SAMPLES; i++) {
      await sleep(300 + Math.random() * 700);
      const before = delivered([sim]);
      const t0 = now();
      await smsd.queue(TO, `idle${i} Your MFA Box passcode is 123456.`);
      await waitUntil(() => delivered([sim]) > before, 30_000, 'smsd idle send');
      const t1 = firstCmgsAfter([sim], t0);
      if (t1 !== undefined) idleMs.push(t1 - t0);
    }
    await sleep(300);
    const since = now();
    const before = delivered([sim]);
    for (let i = 0; i < PEER_BURST; i++) await smsd.queue(TO, `p${i} Your MFA Box passcode is 123456.`);
    await waitUntil(
      () => delivered([sim]) >= before + PEER_BURST,
      PEER_BURST * NETWORK_MS * 3,
      'the smsd burst',
    );
    return {
      tp: throughput([sim], since),
      ph: phases([sim], since),
      idleMs,
      sent: delivered([sim]) - before,
    };
  } finally {
    await smsd.stop();
    await sim.stop();
  }
}

/** SIM busy (+CME ERROR: 14) after boot: time past the end of the busy window until the passcode is on the wire. */
async function benchSimBusy(dir: string, busyMs: number): Promise<number> {
  const sim = await startSimulator({ profile: 'generic', smsDelayMs: NETWORK_MS });
  sim.fault({ kind: 'sim-busy', ms: busyMs });
  const t0 = now();
  const box = await startBox(dir, [sim]);
  try {
    await box.outbox.enqueue(passcode());
    await waitUntil(() => firstCmgsAfter([sim], t0) !== undefined, 30_000, 'a send after SIM busy');
    return (firstCmgsAfter([sim], t0) as number) - t0 - busyMs;
  } finally {
    await box.close();
    await sim.stop();
  }
}

/** A one-off +CMS ERROR: 512: extra time to deliver one passcode, against the same send without it. */
async function benchCms512(dir: string): Promise<{ costMs: number; baseMs: number }> {
  const sim = await startSimulator({ profile: 'generic', smsDelayMs: NETWORK_MS });
  const box = await startBox(dir, [sim]);
  try {
    await waitUntil(() => box.pool.ready(), 30_000, 'the modem');
    const timeOne = async (): Promise<number> => {
      const before = sim.inbox.messages.length;
      const t0 = now();
      await box.outbox.enqueue(passcode());
      await waitUntil(() => sim.inbox.messages.length > before, 30_000, 'a delivery');
      return (sim.inbox.messages[sim.inbox.messages.length - 1]?.receivedAt ?? now()) - t0;
    };
    const base = median([await timeOne(), await timeOne(), await timeOne()]);
    sim.fault({ kind: 'cms-error', code: 512, times: 'once' });
    const withFault = await timeOne();
    return { costMs: withFault - base, baseMs: base };
  } finally {
    await box.close();
    await sim.stop();
  }
}

const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;
const ms = (x: number): string => `${x.toFixed(x < 10 ? 2 : 0)} ms`;
const verdict = (ok: boolean): string => (ok ? 'ok' : 'MISSED');

export async function run(): Promise<void> {
  process.env.MFABOX_LOG_LEVEL ??= 'silent';
  fw = await load();
  const dir = await mkdtemp(join(tmpdir(), 'mfabox-bench-modem-'));
  const started = now();
  try {
    console.log(
      `modem bench: ${NETWORK_MS} ms network time per SMS; MFA Box: ${BURST} passcodes on 2 simulated modems; smstools: ${PEER_BURST} on 1`,
    );
    // The machine is shared, and load moves between runs. smstools runs before and after ours
    // and keeps its better run (lower overhead), so the ratio errs in the peer's favour.
    const onlyOurs = process.env.MFABOX_BENCH_ONLY === 'ours';
    const peerBefore = onlyOurs ? undefined : await benchSmstools(join(dir, 'peer1'));
    const ours = await benchOurs(join(dir, 'ours'));
    if (onlyOurs || !peerBefore) {
      console.log(`ours: ${JSON.stringify(ours.tp)}`);
      console.log(`breakdown ours: ${breakdown(ours.ph)}`);
      return;
    }
    const peerAfter = await benchSmstools(join(dir, 'peer2'));
    const best = peerAfter.tp.overheadMsPerSms < peerBefore.tp.overheadMsPerSms ? peerAfter : peerBefore;
    const peer = { ...best, idleMs: [...peerBefore.idleMs, ...peerAfter.idleMs] };
    console.log(
      `smstools runs: host overhead ${ms(peerBefore.tp.overheadMsPerSms)} before ours, ${ms(peerAfter.tp.overheadMsPerSms)} after; the better one is used`,
    );
    const busy = await benchSimBusy(join(dir, 'busy'), 3000);
    const cms = await benchCms512(join(dir, 'cms'));

    const oIdle = median(ours.idleMs);
    const pIdle = median(peer.idleMs);
    const overheadRatio = ours.tp.overheadMsPerSms / peer.tp.overheadMsPerSms;
    const idleRatio = oIdle / pIdle;
    const rows: [string, string, string, string][] = [
      ['', 'MFA Box (2 modems)', 'smstools 3.1.21 (1 modem)', 'target'],
      ['SMS sent in the burst', String(ours.tp.sms), String(peer.tp.sms), ''],
      ['wall time', ms(ours.tp.wallMs), ms(peer.tp.wallMs), ''],
      [
        'modem utilisation (÷ wall × modems)',
        pct(ours.tp.utilisation),
        pct(peer.tp.utilisation),
        `≥ 99 %: ${verdict(ours.tp.utilisation >= 0.99)}`,
      ],
      [
        "  within each modem's own window",
        pct(ours.tp.utilisationOwnWindows),
        pct(peer.tp.utilisationOwnWindows),
        '',
      ],
      ['host overhead per SMS', ms(ours.tp.overheadMsPerSms), ms(peer.tp.overheadMsPerSms), ''],
      [`idle pickup (median of ${ours.idleMs.length} / ${peer.idleMs.length})`, ms(oIdle), ms(pIdle), ''],
    ];
    const w = [38, 22, 28, 20];
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i] ?? 10)).join(''));
    console.log(
      `idle pickup samples: ours ${ours.idleMs.map((x) => x.toFixed(1)).join(', ')} ms; smstools ${peer.idleMs.map((x) => x.toFixed(0)).join(', ')} ms`,
    );
    console.log(`breakdown ours:     ${breakdown(ours.ph)}`);
    console.log(`breakdown smstools: ${breakdown(peer.ph)}`);
    console.log(
      `ratio host overhead ours ÷ smstools = ${overheadRatio.toFixed(3)} (target ≤ 0.6: ${verdict(overheadRatio <= 0.6)})`,
    );
    console.log(
      `ratio idle pickup ours ÷ smstools = ${idleRatio.toFixed(4)} (target ≤ 1.0: ${verdict(idleRatio <= 1)})`,
    );
    console.log(
      `duplicates: ${ours.duplicates} (target 0: ${verdict(ours.duplicates === 0)}); sent after expiry: ${ours.afterExpiry} (target 0: ${verdict(ours.afterExpiry === 0)}); short-lived passcodes dropped as expired: ${ours.expiredDropped} of ${Math.floor(BURST / 10)}`,
    );
    console.log(
      `recovery: SIM busy (+CME ERROR: 14) for 3 s after boot costs ${ms(busy)} past the busy window (limit ${LIMIT_RECOVERY_MS} ms: ${verdict(busy < LIMIT_RECOVERY_MS)}; ratio ${(busy / LIMIT_RECOVERY_MS).toFixed(2)})`,
    );
    console.log(
      `recovery: one-off +CMS ERROR: 512 costs ${ms(cms.costMs)} over a clean send of ${ms(cms.baseMs)} (limit ${LIMIT_RECOVERY_MS} ms: ${verdict(cms.costMs < LIMIT_RECOVERY_MS)}; ratio ${(cms.costMs / LIMIT_RECOVERY_MS).toFixed(2)})`,
    );
    console.log(`bench took ${((now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
