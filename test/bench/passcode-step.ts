/**
 * Step 2 of a login (State + passcode → Access-Accept) for `npm run bench -- login`, with the same
 * cheap client as step 1 (login-client.ts: radclient busy-waits and burns more CPU than either
 * server), FreeRADIUS and MFA Box interleaved A/B/A/B in the same run.
 *  - FreeRADIUS: scripts/start-freeradius.sh, user "chal": one fixed State and passcode held in
 *    memory, no store, nothing marked used.
 *  - MFA Box: the real auth engine (test/bench/radius-child.ts, engine mode) under the unit's
 *    environment and ExecStart's node flags (scripts/mfabox.service), challenges in LevelDB with durable group-committed
 *    writes, one fresh State per request. Step 1 ran in the same process first, as in production,
 *    so the challenges are in the engine's bounded cache (`npm run bench -- radius` measures the
 *    harder case: step 1 in another process, most challenges read from LevelDB).
 *  - Floors, in the same closed rounds: the same RADIUS server answering every request at once, and
 *    answering after one durable write of a spent challenge record (radius-child.ts, modes accept and
 *    write). What Node and this server, and the durable write the issue requires, cost before any
 *    of the engine's checks; MFABOX_BENCH_FLOORS=0 leaves them out.
 * Figures: server CPU per request from /proc (the lead), req/s at CONCURRENCY in flight, p50/p99 at
 * a fixed FIXED_RATE req/s from the open loop.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  benchCommand,
  cpuSplitUs,
  rssKb,
  runLoadClient,
  benchSideB,
  runtimeByThreadUs,
  startBenchChild,
  type ClientResult,
} from './children.ts';
import { startFreeRadius } from './radius.bench.ts';
import { serviceEnvironment, serviceNodeArgs } from './service-env.ts';
import { MAX_CACHED_CHALLENGES } from '../../firmware/src/auth/challenges.ts';

const SECRET = 'bench-nas-secret-0123456789';
const CONCURRENCY = 32;
const FIXED_RATE = 200;
/**
 * Requests per closed-loop round at most: each State is single use, and the measured rounds'
 * challenges (and the open loops') fit the engine's cache of 8192, as a box's logins in flight do.
 */
const CLOSED_MAX = 1700;
/**
 * The warm-up's requests. A box serves for days: its figure is the JIT-compiled steady state.
 * 1,000 were too few (the first measured round still cost 1.5–2× the later ones, profiled);
 * the warm-up's own challenges are the oldest, so those past the cache are read from disk.
 */
const WARM = 3000;
// Between its rounds a side idles while the others are measured. V8's memory reducer then runs a
// full GC, the maps only the last round's requests used die, and every optimized function that
// embedded one is thrown away ("weak objects": 90–130 functions at once, traced with
// --trace-deopt --trace-gc), so each round also pays for recompiling them, on the other threads
// mostly. A box under steady load does not idle. An unmeasured re-warm before each round was tried
// (stop 24): its 1,500 extra durable writes a round set off LevelDB compactions inside the measured
// rounds instead (5 compactions writing 16–19 MiB against 1 writing 3.8; 3.9–5.1× against
// 3.0–3.9×), so the rounds stay as they were and this cost stays in the figure.

/** The open loop's seconds: FIXED_RATE × this many States per round. */
const OPEN_SECONDS = 3;

interface Run {
  rate: number;
  serverUs: number;
  /** The kernel's part of serverUs (stime): socket calls, fsync, thread wake-ups. */
  systemUs: number;
  clientUs: number;
  p50: number;
  p99: number;
  accepts: number;
  answered: number;
  lost: number;
  /** serverUs split: the main thread, and the others (runtimeByThreadUs). */
  threads: { main: number; others: number };
  /** Page faults served without I/O (fresh heap or malloc pages touched), per request. */
  faults: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const spread = (xs: number[], digits = 0) =>
  `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

async function measure(
  clientCmd: string[],
  port: number,
  pid: number,
  env: Record<string, string>,
): Promise<Run> {
  const c0 = cpuSplitUs(pid);
  const t0 = runtimeByThreadUs(pid);
  const r: ClientResult = await runLoadClient(clientCmd, port, { BENCH_SECRET: SECRET, ...env });
  const t1 = runtimeByThreadUs(pid);
  const c1 = cpuSplitUs(pid);
  const n = Math.max(1, r.answered);
  // NaN (printed as such) when the process was gone at either end.
  const threads = {
    main: ((t1?.main ?? NaN) - (t0?.main ?? NaN)) / n,
    others: ((t1?.others ?? NaN) - (t0?.others ?? NaN)) / n,
  };
  return {
    rate: r.answered / r.seconds,
    // Run time to the nanosecond (schedstat); the user/kernel split below is in 10 ms ticks.
    serverUs: threads.main + threads.others,
    systemUs: (c1.system - c0.system) / n,
    clientUs: r.cpuUs / n,
    p50: r.p50,
    p99: r.p99,
    accepts: r.codes['2'] ?? 0,
    answered: r.answered,
    lost: r.lost,
    threads,
    faults: (c1.minorFaults - c0.minorFaults) / n,
  };
}

/**
 * LevelDB's own account of its background work so far, from the LOG in the store's directory:
 * compactions and the bytes they wrote, and memtables flushed to level-0 tables.
 */
function levelDbWork(dbDir: string): { compactions: number; compactedBytes: number; flushes: number } {
  let log: string;
  try {
    log = readFileSync(join(dbDir, 'LOG'), 'utf8');
  } catch {
    return { compactions: NaN, compactedBytes: NaN, flushes: NaN };
  }
  let compactions = 0;
  let compactedBytes = 0;
  for (const m of log.matchAll(/Compacted .* => (\d+) bytes/g)) {
    compactions++;
    compactedBytes += Number(m[1]);
  }
  return {
    compactions,
    compactedBytes,
    flushes: (log.match(/Level-0 table #\d+: \d+ bytes OK/g) ?? []).length,
  };
}

/**
 * The prepared challenges that do not fit the engine's cache: the oldest (the warm-up's first, then
 * with more than 3 rounds the first rounds') are read from LevelDB when used, a cost a box's
 * logins in flight do not pay. Said beside the figures so runs of different lengths are not mixed.
 */
function pastCache(groups: { name: string; per: number }[]): string {
  let over = groups.reduce((n, g) => n + g.per, 0) - MAX_CACHED_CHALLENGES;
  if (over <= 0) return '';
  const hit: string[] = [];
  for (const g of groups) {
    if (over <= 0) break;
    hit.push(g.name);
    over -= g.per;
  }
  return ` (past the engine's cache of ${MAX_CACHED_CHALLENGES}, read from disk when used: ${hit.join(', ')})`;
}

/** Waits (at most 30 s) until a process uses under 2 % of a core over half a second. */
async function quiet(pid: number): Promise<void> {
  for (let i = 0; i < 60; i++) {
    const a = cpuSplitUs(pid);
    await new Promise((r) => setTimeout(r, 500));
    const b = cpuSplitUs(pid);
    if (b.user + b.system - a.user - a.system < 10_000) return;
  }
}

export async function passcodeStep(dir: string, rounds: number, seconds: number): Promise<void> {
  const clientCmd = (await benchCommand('login-client.ts')).args;
  const child = await benchCommand('radius-child.ts');
  const service = serviceEnvironment();
  const openMax = FIXED_RATE * OPEN_SECONDS + 20;
  const groups = [
    { name: 'warm', files: 1, per: WARM },
    ...Array.from({ length: rounds }, (_, i) => [
      { name: `closed${i}`, files: 1, per: CLOSED_MAX },
      { name: `open${i}`, files: 1, per: openMax },
    ]).flat(),
  ];
  const t0 = performance.now();
  const deviceSecret = randomBytes(32);
  const frFile = join(dir, 'fr-step2.tsv');
  writeFileSync(frFile, 'chal\t123456\t6162636431323334\n');
  const fr = await startFreeRadius(dir);
  // ExecStart's node flags too (--min-semi-space-size): the young generation the service starts with.
  const startBox = async (
    prefix: string,
    args: string[],
    env: Record<string, string>,
    childArgs = child.args,
  ) => {
    const db = join(dir, `db-${prefix}`);
    const box = await startBenchChild(
      [...serviceNodeArgs(), ...args, ...childArgs],
      {
        BENCH_MODE: 'engine',
        BENCH_INPROCESS: '1',
        BENCH_SECRET: SECRET,
        BENCH_DB: db,
        BENCH_DEVICE_SECRET: deviceSecret.toString('hex'),
        BENCH_GROUPS: JSON.stringify(groups),
        BENCH_DIR: dir,
        BENCH_FORMAT: 'tsv',
        BENCH_PREFIX: prefix,
      },
      { ...service, ...env },
    );
    // Step 1 for ~10,000 users leaves LevelDB compacting in the child's background thread for
    // seconds: that CPU is the preparation's, so wait for the child to go quiet first.
    await quiet(box.pid);
    const prepared = box.ready as unknown as { files: Record<string, string[]> };
    return { child: box, file: (name: string) => prepared.files[name]![0]!, gc: [] as string[], db };
  };
  const mbBox = await startBox('step2', [], {});
  const mb = mbBox.child;
  const prepSeconds = (performance.now() - t0) / 1000;
  const idleKb = rssKb(mb.pid, 'VmRSS');
  // A second box measured in the same rounds (benchSideB: other node flags, environment or code),
  // an A/B of a change free of the drift between runs.
  const sideB = benchSideB();
  const bChild = sideB?.tree ? (await benchCommand('radius-child.ts', sideB.tree)).args : child.args;
  const bBox = sideB ? await startBox('step2b', sideB.args, sideB.env, bChild) : undefined;
  const boxes = { mb: mbBox, ...(bBox ? { b: bBox } : {}) } as Record<'mb' | 'b', typeof mbBox | undefined>;
  // The floors (see the header), each a child of its own with a store of its own.
  const startFloor = (mode: 'accept' | 'write') =>
    startBenchChild(
      [...serviceNodeArgs(), ...child.args],
      { BENCH_MODE: mode, BENCH_SECRET: SECRET, BENCH_DB: join(dir, `db-floor-${mode}`) },
      service,
    );
  const floors =
    process.env.MFABOX_BENCH_FLOORS === '0'
      ? undefined
      : await Promise.all([startFloor('accept'), startFloor('write')]).then(([accept, write]) => ({
          accept,
          write,
        }));
  try {
    const closed = (f: string) => ({
      BENCH_REQUESTS: f,
      BENCH_MODE: 'closed',
      BENCH_CONCURRENCY: String(CONCURRENCY),
      BENCH_SECONDS: String(seconds),
      BENCH_MAX: String(CLOSED_MAX),
    });
    const open = (f: string) => ({
      BENCH_REQUESTS: f,
      BENCH_MODE: 'open',
      BENCH_RATE: String(FIXED_RATE),
      BENCH_SECONDS: String(OPEN_SECONDS),
      BENCH_MAX: String(openMax),
    });
    await measure(clientCmd, fr.port, fr.proc.pid!, { ...closed(frFile), BENCH_SECONDS: '2' });
    for (const box of [mbBox, bBox])
      if (box)
        await measure(clientCmd, box.child.port, box.child.pid, {
          ...closed(box.file('warm')),
          BENCH_MAX: String(WARM),
        });
    // The floors replay the engine box's packets: they answer whatever State they are sent.
    for (const f of Object.values(floors ?? {}))
      await measure(clientCmd, f.port, f.pid, { ...closed(mbBox.file('warm')), BENCH_MAX: String(WARM) });
    const ldb0 = { mb: levelDbWork(mbBox.db), b: levelDbWork(bBox?.db ?? '') };
    const runs = {
      fr: { closed: [] as Run[], open: [] as Run[] },
      mb: { closed: [] as Run[], open: [] as Run[] },
      b: { closed: [] as Run[], open: [] as Run[] },
      accept: { closed: [] as Run[], open: [] as Run[] },
      write: { closed: [] as Run[], open: [] as Run[] },
    };
    // Group commit per phase: the box's fsyncs and passcode checks, asked before and after each run.
    const shared = { closed: { syncs: 0, checks: 0 }, open: { syncs: 0, checks: 0 } };
    const counted = async (side: 'mb' | 'b', phase: 'closed' | 'open', f: string): Promise<Run> => {
      const box = boxes[side]!;
      const a = await box.child.query();
      const r = await measure(
        clientCmd,
        box.child.port,
        box.child.pid,
        phase === 'closed' ? closed(f) : open(f),
      );
      const b = await box.child.query();
      const d = (k: string) => Number(b[k]) - Number(a[k]);
      if (side === 'mb') {
        shared[phase].syncs += d('syncs');
        shared[phase].checks += d('requests');
      }
      if (phase === 'closed')
        box.gc.push(
          `${d('minor')} scavenges ${d('minorMs').toFixed(0)} ms, ${d('major')} mark-compacts ${d('majorMs').toFixed(0)} ms`,
        );
      return r;
    };
    const sides = ['fr', 'mb', ...(bBox ? ['b'] : []), ...(floors ? ['accept', 'write'] : [])] as (
      'fr' | 'mb' | 'b' | 'accept' | 'write'
    )[];
    for (let i = 0; i < rounds; i++) {
      // Each round starts with the next side, so none always runs first.
      const order = sides.map((_, k) => sides[(k + i) % sides.length]!);
      for (const phase of ['closed', 'open'] as const)
        for (const s of order) {
          if (s === 'accept' || s === 'write') {
            // CPU per request is what the floors are for: closed rounds only.
            const f = floors![s];
            if (phase === 'closed')
              runs[s].closed.push(await measure(clientCmd, f.port, f.pid, closed(mbBox.file(`closed${i}`))));
            continue;
          }
          runs[s][phase].push(
            s === 'fr'
              ? await measure(
                  clientCmd,
                  fr.port,
                  fr.proc.pid!,
                  phase === 'closed' ? closed(frFile) : open(frFile),
                )
              : await counted(s, phase, boxes[s]!.file(`${phase}${i}`)),
          );
        }
    }
    // LevelDB's background work during the rounds (LOG is written as it happens).
    const ldb = (side: 'mb' | 'b') => {
      const a = ldb0[side];
      const b = levelDbWork(boxes[side]!.db);
      return `${b.compactions - a.compactions} compactions writing ${((b.compactedBytes - a.compactedBytes) / 1048576).toFixed(1)} MiB, ${b.flushes - a.flushes} memtable flushes`;
    };
    const peakKb = rssKb(mb.pid, 'VmHWM');
    const cpuRatios = (side: 'mb' | 'b' | 'accept' | 'write') =>
      runs[side].closed.map((r, i) => r.serverUs / runs.fr.closed[i]!.serverUs);
    const p99Ratios = (side: 'mb' | 'b') => runs[side].open.map((r, i) => r.p99 / runs.fr.open[i]!.p99);
    const env = Object.entries(service)
      .filter(([k]) => k === 'NODE_OPTIONS' || k === 'MALLOC_ARENA_MAX')
      .map(([k, v]) => `${k}=${v}`)
      .concat(serviceNodeArgs())
      .join(' ');
    console.log(
      `\n  step 2, the passcode (State + code → Access-Accept), median of ${rounds}; spread min–max; load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
    console.log(
      `    server CPU per request: MFA Box / FreeRADIUS = ${median(cpuRatios('mb')).toFixed(2)}× (rounds ${cpuRatios(
        'mb',
      )
        .map((x) => x.toFixed(2))
        .join(' ')}; target ≤ 3; before: 6×)`,
    );
    console.log(
      `    p99 at ${FIXED_RATE} req/s: MFA Box / FreeRADIUS = ${median(p99Ratios('mb')).toFixed(2)}× (rounds ${p99Ratios(
        'mb',
      )
        .map((x) => x.toFixed(2))
        .join(' ')}; target ≤ 3; before: 16×)`,
    );
    for (const [name, side] of [
      ['FreeRADIUS (users file)', runs.fr],
      [`MFA Box (real engine, ${env})`, runs.mb],
      ...(bBox ? [[`side B (${sideB?.label})`, runs.b] as const] : []),
    ] as const) {
      const bad = side.closed.concat(side.open).filter((r) => r.accepts < r.answered);
      console.log(
        `    ${name}: ${median(side.closed.map((r) => r.serverUs)).toFixed(0)} µs/request (rounds ${side.closed.map((r) => r.serverUs.toFixed(0)).join(' ')}; kernel ${median(side.closed.map((r) => r.systemUs)).toFixed(0)}),` +
          ` ${median(side.closed.map((r) => r.rate)).toFixed(0)} req/s (${spread(side.closed.map((r) => r.rate))}) at ${CONCURRENCY} in flight;` +
          ` p50 ${median(side.open.map((r) => r.p50)).toFixed(1)} ms, p99 ${median(side.open.map((r) => r.p99)).toFixed(1)} ms (${spread(
            side.open.map((r) => r.p99),
            1,
          )}) at ${FIXED_RATE} req/s; client ${median(side.closed.map((r) => r.clientUs)).toFixed(0)} µs/request` +
          (bad.length > 0 ? '; WARNING some answers were not Access-Accept' : ''),
      );
    }
    if (floors) {
      const floor = (side: 'accept' | 'write') =>
        `${median(cpuRatios(side)).toFixed(2)}× (rounds ${cpuRatios(side)
          .map((x) => x.toFixed(2))
          .join(' ')}; ${median(runs[side].closed.map((r) => r.serverUs)).toFixed(0)} µs, main ${median(
          runs[side].closed.map((r) => r.threads.main),
        ).toFixed(0)} + others ${median(runs[side].closed.map((r) => r.threads.others)).toFixed(0)})`;
      const over = runs.mb.closed.map((r, i) => r.serverUs - runs.write.closed[i]!.serverUs);
      console.log(
        `    floors, same server and rounds, CPU per request / FreeRADIUS: answering at once ${floor('accept')};` +
          ` after the one durable write of an Accept (a spent record, group-committed) ${floor('write')};` +
          ` the engine's checks above that floor ${median(over).toFixed(0)} µs (rounds ${over.map((x) => x.toFixed(0)).join(' ')})`,
      );
    }
    for (const side of bBox ? (['mb', 'b'] as const) : (['mb'] as const)) {
      console.log(
        `    ${side === 'mb' ? 'MFA Box' : 'side B'}: CPU by thread, µs/request in each closed round: ${(
          ['main', 'others'] as const
        )
          .map((t) => `${t} ${runs[side].closed.map((r) => r.threads[t].toFixed(0)).join('/')}`)
          .join(
            ', ',
          )}; minor page faults per request ${runs[side].closed.map((r) => r.faults.toFixed(1)).join('/')}; garbage collection: ${boxes[side]!.gc.join('; ')}; LevelDB in the rounds: ${ldb(side)}`,
      );
      if (side === 'b')
        console.log(
          `    side B / FreeRADIUS: CPU ${median(cpuRatios('b')).toFixed(2)}× (rounds ${cpuRatios('b')
            .map((x) => x.toFixed(2))
            .join(' ')}), p99 ${median(p99Ratios('b')).toFixed(2)}× (rounds ${p99Ratios('b')
            .map((x) => x.toFixed(2))
            .join(
              ' ',
            )}); B / A CPU ${runs.b.closed.map((r, i) => (r.serverUs / runs.mb.closed[i]!.serverUs).toFixed(2)).join(' ')}`,
        );
    }
    console.log(
      `    MFA Box RSS: idle ${(idleKb / 1024).toFixed(0)} MiB, peak ${(peakKb / 1024).toFixed(0)} MiB; ${groups.reduce((n, g) => n + g.per, 0)} challenges prepared in ${prepSeconds.toFixed(0)} s${pastCache(groups)}`,
    );
    // Group commit: how many passcode checks shared each fsync (a durable write per Accept).
    // Side B exits on its own too: a --cpu-prof profile is written only at a clean exit.
    const [mbEnd] = await Promise.all([mb.stop(), bBox?.child.stop()]);
    const end = JSON.parse(mbEnd.split('\n').pop() ?? '{}') as {
      syncs?: number;
      counters?: { requests?: number };
    };
    const syncs = (end.syncs ?? NaN) - Number(mb.ready.syncs ?? NaN);
    const per = (p: { syncs: number; checks: number }) => (p.checks / Math.max(1, p.syncs)).toFixed(1);
    console.log(
      `    MFA Box durable writes: ${syncs} fsyncs for ${end.counters?.requests ?? '?'} passcode checks in all (${((end.counters?.requests ?? NaN) / syncs).toFixed(1)} per fsync);` +
        ` closed loop (${CONCURRENCY} in flight) ${per(shared.closed)} checks per fsync, open loop at ${FIXED_RATE} req/s ${per(shared.open)} (one check at a time has its fsync alone)`,
    );
  } finally {
    fr.proc.kill('SIGTERM');
    mb.proc.kill('SIGKILL');
    bBox?.child.proc.kill('SIGKILL');
    for (const f of Object.values(floors ?? {})) f.proc.kill('SIGKILL');
  }
}
