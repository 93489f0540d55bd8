/**
 * `npm run bench -- radius`: MFA Box's RADIUS server beside FreeRADIUS, same machine, same run,
 * same radclient load (Message-Authenticator on every request, ~100 in flight).
 *
 * The measured step is the passcode verify: State + passcode → Access-Accept.
 *  - FreeRADIUS (scripts/start-freeradius.sh): user "chal", State checked in unlang, PAP, MA on
 *    the reply. No state storage: the strongest baseline it can give.
 *  - MFA Box (test/bench/radius-child.ts, its own process, esbuild-compiled as a release runs):
 *      A. the spec's load shape, 200 distinct packets × radclient -c 200: a State there repeats, and
 *         the real engine's States are single use, so this run uses a handler doing a durable
 *         LevelDB get + update of a challenge record per request.
 *      B. the real auth engine (challenge records in LevelDB, durable writes) with one fresh State
 *         per request: one radclient × 20000 distinct packets, 100 in flight.
 *         Step 1 ran in another process (BENCH_MODE=prepare), so the engine finds only the live
 *         challenges that engine.start() loaded into its bounded cache in memory and reads the
 *         rest from LevelDB: harder than production, where step 1 ran in the same process.
 *         radclient itself tops out well below its -c rate with packet files this size, so
 *         FreeRADIUS gets the very same load for the ratio; the ratio against FreeRADIUS's -c peak
 *         is printed too. B runs twice: node's defaults and the environment of scripts/mfabox.service
 *         (NODE_OPTIONS, MALLOC_ARENA_MAX, read from the unit file), each with its own store.
 *  - Peaks are the median of PEAK_RUNS runs, interleaved across the servers; every line carries
 *    the server's and radclient's CPU per request, and the load average is printed.
 *  - Latency: both at the same fixed offered load (radclient -n, ~¼ of FreeRADIUS's -c peak),
 *    probed by a separate client sending 100 requests/s; MFA Box's RSS sampled from /proc.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { encodeRequest } from '../../firmware/src/radius/codec.ts';
import { configureLogging } from '../../firmware/src/log.ts';
import { serviceEnvironment } from './service-env.ts';
import { benchCommand, cpuUs, freePort, rssKb, startBenchChild, type BenchChild } from './children.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const SECRET = 'bench-nas-secret-0123456789';
const IN_FLIGHT = 100;
/**
 * One radclient for the distinct-State load: radclient busy-waits for replies, so ten processes
 * with 10 in flight each burned 330-600 µs of CPU per request against MFA Box (whose replies
 * wait for an fsync) and starved it of the 2 cores; one process with 100 in flight costs ~120 µs.
 */
const DISTINCT_FILES = 1;
const DISTINCT_PER_FILE = 20000;
const FIXED_SECONDS = 3;
const FIXED_PROCESSES = 2;
/** Each of the 200 packets is sent this many times (radclient -c) in a peak run: 40k requests. */
const PEAK_COUNT = 200;
/** Peaks are the best of this many runs, for both servers alike: other work on shared cores only slows a run down. */
const PEAK_RUNS = 3;
const PROBE_EVERY_MS = 10;
const PROBES = Math.ceil((FIXED_SECONDS * 1000) / PROBE_EVERY_MS) + 200;

interface LoadResult {
  requests: number;
  seconds: number;
  rate: number;
  accepted: number;
  rejected: number;
  lost: number;
  /** Server CPU (user + system) per request, µs: what a request costs whatever else runs on the cores. */
  cpuUsPerRequest?: number;
  /** radclient's own CPU per request, µs (all its processes): the load generator shares the 2 cores. */
  clientCpuUsPerRequest?: number;
}

function sh(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

/** One radclient per file, all at once; sums radclient's own summary (-s). */
export async function radclientLoad(
  port: number,
  files: string[],
  opts: { count: number; parallel: number; ratePerProcess?: number; serverPid?: number },
): Promise<LoadResult> {
  const args = (f: string): string[] => [
    '-q',
    '-s',
    '-t',
    '5',
    '-r',
    '1',
    '-c',
    String(opts.count),
    '-p',
    String(opts.parallel),
    ...(opts.ratePerProcess ? ['-n', String(opts.ratePerProcess)] : []),
    '-f',
    f,
    `127.0.0.1:${port}`,
    'auth',
    SECRET,
  ];
  const cpu0 = opts.serverPid ? cpuUs(opts.serverPid) : NaN;
  const t0 = performance.now();
  // Through bash so `times` can report radclient's CPU (a child's rusage is not in node's reach).
  const outs = await Promise.all(
    files.map((f) =>
      sh('bash', ['-c', 'radclient "$@"; s=$?; echo "@@times"; times; exit $s', 'radclient', ...args(f)]),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  const sum = (label: string): number =>
    outs.reduce((n, o) => n + Number(new RegExp(`${label}\\s*:\\s*(\\d+)`).exec(o.out)?.[1] ?? 0), 0);
  const accepted = sum('Accepted');
  const rejected = sum('Rejected');
  const lost = sum('Lost');
  const requests = accepted + rejected + lost;
  const cpu = opts.serverPid ? (cpuUs(opts.serverPid) - cpu0) / requests : NaN;
  const clientCpu = outs.reduce((n, o) => n + childTimesUs(o.out), 0) / requests;
  return {
    requests,
    seconds,
    rate: requests / seconds,
    accepted,
    rejected,
    lost,
    ...(Number.isFinite(cpu) ? { cpuUsPerRequest: cpu } : {}),
    ...(Number.isFinite(clientCpu) ? { clientCpuUsPerRequest: clientCpu } : {}),
  };
}

/** bash `times` prints the shell's then its children's user and system time: "0m1.234s 0m0.056s". */
function childTimesUs(out: string): number {
  const tail = out.slice(out.lastIndexOf('@@times'));
  const lines = tail.split('\n').filter((l) => /\dm[\d.]+s/.test(l));
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(lines[1] ?? '');
  return m ? (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1e6 : NaN;
}

/** Sends one probe every PROBE_EVERY_MS while `until` is pending; returns round-trip times in ms. */
async function probe(
  port: number,
  packets: Buffer[],
  until: Promise<unknown>,
): Promise<{ rtts: number[]; lost: number }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const sent = new Map<number, number>();
  const rtts: number[] = [];
  sock.on('message', (m) => {
    const t = sent.get(m[1]!);
    if (t !== undefined) {
      rtts.push(performance.now() - t);
      sent.delete(m[1]!);
    }
  });
  let done = false;
  void until.finally(() => (done = true));
  await new Promise((r) => setTimeout(r, 200));
  let i = 0;
  while (!done && i < packets.length) {
    const p = packets[i]!;
    sent.set(p[1]!, performance.now());
    sock.send(p, port, '127.0.0.1');
    i++;
    await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
  }
  await new Promise((r) => setTimeout(r, 500));
  sock.close();
  return { rtts, lost: sent.size };
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function chalPackets(dir: string, name: string, files: number, per: number): string[] {
  const one = (i: number): string =>
    `User-Name = "chal"\nUser-Password = "123456"\nState = 0x6162636431323334\nCalling-Station-Id = "198.51.100.${i % 250}"\nMessage-Authenticator = 0x00\n`;
  const out: string[] = [];
  for (let f = 0; f < files; f++) {
    const path = join(dir, `${name}-${f}.txt`);
    writeFileSync(path, Array.from({ length: per }, (_, i) => one(i)).join('\n'));
    out.push(path);
  }
  return out;
}

export async function startFreeRadius(dir: string): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn('bash', [join(root, 'scripts/start-freeradius.sh')], {
    env: { ...process.env, PORT: String(port), DIR: join(dir, 'fr'), SECRET },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const probeFile = join(dir, 'fr-ready.txt');
  writeFileSync(
    probeFile,
    'User-Name = "chal"\nUser-Password = "123456"\nState = 0x6162636431323334\nMessage-Authenticator = 0x00\n',
  );
  for (let i = 0; i < 50; i++) {
    const r = await sh('radclient', [
      '-q',
      '-t',
      '0.3',
      '-r',
      '1',
      '-f',
      probeFile,
      `127.0.0.1:${port}`,
      'auth',
      SECRET,
    ]);
    if (r.code === 0) return { port, proc };
    await new Promise((res) => setTimeout(res, 200));
  }
  proc.kill('SIGKILL');
  throw new Error('FreeRADIUS did not answer');
}

interface Probe {
  user: string;
  state: string;
  code: string;
}

/**
 * Step 1 of the real engine for one user per future request, into the store the MFA Box child
 * will serve from, in a process of its own (radius-child.ts, BENCH_MODE=prepare) so neither its
 * memory nor its logs land here. Returns radclient packet files for step 2 and probe packets.
 */
export async function prepareChallenges(
  cmd: string[],
  dbDir: string,
  fileDir: string,
  groups: { name: string; files: number; per: number }[],
  probeCount: number,
  deviceSecret: Buffer,
  prefix = 'mb',
  format: 'radclient' | 'tsv' = 'radclient',
): Promise<{ files: Record<string, string[]>; probes: Probe[] }> {
  const out = await new Promise<string>((resolve, reject) => {
    const proc = spawn(process.execPath, cmd, {
      env: {
        ...process.env,
        MFABOX_LOG_LEVEL: 'warn',
        BENCH_MODE: 'prepare',
        BENCH_DB: dbDir,
        BENCH_DIR: fileDir,
        BENCH_GROUPS: JSON.stringify(groups),
        BENCH_PROBES: String(probeCount),
        BENCH_DEVICE_SECRET: deviceSecret.toString('hex'),
        BENCH_PREFIX: prefix,
        BENCH_FORMAT: format,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buf = '';
    proc.stdout.on('data', (d: Buffer) => (buf += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => (code === 0 ? resolve(buf) : reject(new Error(`prepare exited ${code}`))));
  });
  return JSON.parse(out) as { files: Record<string, string[]>; probes: Probe[] };
}

/** The run with the median rate (an odd count of runs). */
function median(rs: LoadResult[]): LoadResult {
  return [...rs].sort((a, b) => a.rate - b.rate)[Math.floor(rs.length / 2)]!;
}

function rates(rs: LoadResult[]): string {
  return rs.map((r) => Math.round(r.rate)).join(', ');
}

function fmt(r: LoadResult): string {
  const cpu =
    (r.cpuUsPerRequest === undefined ? '' : `, server CPU ${r.cpuUsPerRequest.toFixed(0)} µs/request`) +
    (r.clientCpuUsPerRequest === undefined
      ? ''
      : `, radclient CPU ${r.clientCpuUsPerRequest.toFixed(0)} µs/request`);
  return `${Math.round(r.rate)} req/s${cpu} (${r.requests} in ${r.seconds.toFixed(2)} s; accepted ${r.accepted}, rejected ${r.rejected}, lost ${r.lost})`;
}

interface Fixed {
  load: LoadResult;
  p50: number;
  p99: number;
  probes: number;
  lost: number;
  peakRssKb?: number;
  /**
   * Peak anonymous (private) RSS: VmRSS also counts file-backed pages, the node binary's ~40 MB
   * of text (shared by every node process) and LevelDB's mmapped tables (page cache).
   */
  peakAnonKb?: number;
}

/** The fixed-load phase: radclient load at `perProc` req/s per process, probes alongside, RSS sampled. */
async function fixedLoad(
  port: number,
  files: string[],
  count: number,
  perProc: number,
  probes: Buffer[],
  pid?: number,
  serverPid = pid,
): Promise<Fixed> {
  let peak = pid ? rssKb(pid, 'VmRSS') : 0;
  let anon = pid ? rssKb(pid, 'RssAnon') : 0;
  const sampler = pid
    ? setInterval(() => {
        peak = Math.max(peak, rssKb(pid, 'VmRSS'));
        anon = Math.max(anon, rssKb(pid, 'RssAnon'));
      }, 50)
    : undefined;
  const loadP = radclientLoad(port, files, {
    count,
    parallel: IN_FLIGHT / files.length,
    ratePerProcess: perProc,
    ...(serverPid ? { serverPid } : {}),
  });
  const pr = await probe(port, probes, loadP);
  const load = await loadP;
  if (sampler) clearInterval(sampler);
  return {
    load,
    p50: pct(pr.rtts, 50),
    p99: pct(pr.rtts, 99),
    probes: pr.rtts.length,
    lost: pr.lost,
    ...(pid ? { peakRssKb: peak, peakAnonKb: anon } : {}),
  };
}

function probePacket(i: number, user: string, password: string, state: Buffer): Buffer {
  return encodeRequest({
    identifier: i & 255,
    authenticator: randomBytes(16),
    secret: Buffer.from(SECRET),
    attributes: [
      ['User-Name', user],
      ['User-Password', password],
      ['State', state],
    ],
  });
}

function fixedLine(name: string, f: Fixed): string {
  const rss =
    f.peakRssKb === undefined
      ? ''
      : `; peak RSS ${(f.peakRssKb / 1024).toFixed(1)} MB (anonymous ${((f.peakAnonKb ?? 0) / 1024).toFixed(1)} MB)`;
  return `  ${name}: ${fmt(f.load)}; probe p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms (${f.probes} probes, ${f.lost} lost)${rss}`;
}

export async function run(): Promise<void> {
  configureLogging({ level: process.env.MFABOX_LOG_LEVEL ?? 'warn' });
  const dir = mkdtempSync(join(tmpdir(), 'mfabox-radius-bench-'));
  const killers: (() => void)[] = [];
  const onExit = (): void => killers.forEach((k) => k());
  process.on('exit', onExit);
  const load0 = loadavg();
  const serviceEnv = serviceEnvironment();
  const serviceDesc = Object.entries(serviceEnv)
    .filter(([k]) => k !== 'NODE_ENV')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  try {
    const fr = await startFreeRadius(dir);
    killers.push(() => fr.proc.kill('SIGKILL'));
    const frPid = fr.proc.pid!;
    const frC200 = chalPackets(dir, 'fr-c200', 1, 200);
    const frDistinctFiles = chalPackets(dir, 'fr-distinct', DISTINCT_FILES, DISTINCT_PER_FILE);
    await radclientLoad(fr.port, frC200, { count: 20, parallel: IN_FLIGHT }); // warm-up
    // The fixed load is a quarter of FreeRADIUS's -c peak, so one -c run first sizes it.
    const frFirst = await radclientLoad(fr.port, frC200, {
      count: PEAK_COUNT,
      parallel: IN_FLIGHT,
      serverPid: frPid,
    });
    const fixedRate = Math.round(frFirst.rate / 4);
    const perProc = Math.ceil(fixedRate / FIXED_PROCESSES);

    const child = await benchCommand('radius-child.ts');
    // MFA Box B: the real auth engine, one fresh State per request, under node's default flags
    // and under the service's NODE_OPTIONS, each with its own store and prepared challenges.
    const deviceSecret = randomBytes(32);
    const groups = [
      ...Array.from({ length: PEAK_RUNS }, (_, i) => ({
        name: `peak${i}`,
        files: DISTINCT_FILES,
        per: DISTINCT_PER_FILE,
      })),
      { name: 'fixed', files: FIXED_PROCESSES, per: perProc * FIXED_SECONDS },
    ];
    const flagSets = [
      { name: 'default flags', options: undefined },
      { name: `service env (${serviceDesc})`, options: serviceEnv },
    ];
    const bs: {
      name: string;
      child: BenchChild;
      prepared: { files: Record<string, string[]>; probes: Probe[] };
    }[] = [];
    for (const [i, f] of flagSets.entries()) {
      const db = join(dir, `db-b${i}`);
      const prepared = await prepareChallenges(
        child.args,
        db,
        join(dir),
        groups,
        PROBES,
        deviceSecret,
        `b${i}`,
      );
      const c = await startBenchChild(
        child.args,
        {
          BENCH_MODE: 'engine',
          BENCH_SECRET: SECRET,
          BENCH_DB: db,
          BENCH_DEVICE_SECRET: deviceSecret.toString('hex'),
        },
        f.options,
      );
      killers.push(() => c.proc.kill('SIGKILL'));
      bs.push({ name: f.name, child: c, prepared });
    }

    // MFA Box A: the -c shape (a State repeats, so not the real engine), durable get + update.
    const c200mb = join(dir, 'mb-c200.txt');
    const stateA = (i: number): Buffer => Buffer.from(`st${i}`);
    writeFileSync(
      c200mb,
      Array.from(
        { length: 200 },
        (_, i) =>
          `User-Name = "u${i}"\nUser-Password = "123456"\nState = 0x${stateA(i).toString('hex')}\nMessage-Authenticator = 0x00\n`,
      ).join('\n'),
    );
    const a = await startBenchChild(
      child.args,
      { BENCH_MODE: 'leveldb', BENCH_SECRET: SECRET, BENCH_DB: join(dir, 'db-a') },
      serviceEnv,
    );
    killers.push(() => a.proc.kill('SIGKILL'));
    const idleA = rssKb(a.proc.pid!, 'VmRSS');
    const idleB = bs.map((b) => rssKb(b.child.proc.pid!, 'VmRSS'));
    await radclientLoad(a.port, [c200mb], { count: 20, parallel: IN_FLIGHT });

    // Peaks, interleaved so that other work on the shared cores hits every server alike.
    const frC: LoadResult[] = [frFirst];
    const frD: LoadResult[] = [];
    const mbA: LoadResult[] = [];
    const mbB: LoadResult[][] = bs.map(() => []);
    for (let r = 0; r < PEAK_RUNS; r++) {
      if (r > 0)
        frC.push(
          await radclientLoad(fr.port, frC200, { count: PEAK_COUNT, parallel: IN_FLIGHT, serverPid: frPid }),
        );
      mbA.push(
        await radclientLoad(a.port, [c200mb], {
          count: PEAK_COUNT,
          parallel: IN_FLIGHT,
          serverPid: a.proc.pid!,
        }),
      );
      frD.push(
        await radclientLoad(fr.port, frDistinctFiles, {
          count: 1,
          parallel: IN_FLIGHT / DISTINCT_FILES,
          serverPid: frPid,
        }),
      );
      for (const [i, b] of bs.entries())
        mbB[i]!.push(
          await radclientLoad(b.child.port, b.prepared.files[`peak${r}`]!, {
            count: 1,
            parallel: IN_FLIGHT / DISTINCT_FILES,
            serverPid: b.child.proc.pid!,
          }),
        );
    }
    await a.stop();

    const fixedCount = Math.ceil((perProc * FIXED_SECONDS) / 200);
    const frFixed = await fixedLoad(
      fr.port,
      Array.from({ length: FIXED_PROCESSES }, () => frC200[0]!),
      fixedCount,
      perProc,
      Array.from({ length: PROBES }, (_, i) => probePacket(i, 'chal', '123456', Buffer.from('abcd1234'))),
      undefined,
      frPid,
    );
    fr.proc.kill('SIGTERM');
    const mbFixed: Fixed[] = [];
    const hwm: number[] = [];
    const finals: string[] = [];
    for (const b of bs) {
      mbFixed.push(
        await fixedLoad(
          b.child.port,
          b.prepared.files.fixed!,
          1,
          perProc,
          b.prepared.probes.map((p, i) => probePacket(i, p.user, p.code, Buffer.from(p.state, 'hex'))),
          b.child.proc.pid,
        ),
      );
      hwm.push(rssKb(b.child.proc.pid!, 'VmHWM'));
      finals.push(await b.child.stop());
    }

    const ratio = (x: LoadResult, y: LoadResult): string => (x.rate / y.rate).toFixed(2);
    const cpuRatio = (peer: LoadResult, ours: LoadResult): string =>
      peer.cpuUsPerRequest && ours.cpuUsPerRequest
        ? (peer.cpuUsPerRequest / ours.cpuUsPerRequest).toFixed(2)
        : 'n/a';
    const la = (l: number[]): string => l.map((x) => x.toFixed(1)).join(' ');
    const mb = (kb: number | undefined): string => `${((kb ?? 0) / 1024).toFixed(1)} MB`;
    const medFrC = median(frC);
    const medFrD = median(frD);
    const medA = median(mbA);
    const medB = mbB.map(median);
    const lines = [
      'RADIUS benchmark: passcode verify (State + passcode → Access-Accept); Message-Authenticator on every request and reply',
      `machine load average ${la(load0)} at start, ${la(loadavg())} at end (2 shared cores: figures are noisy)`,
      `Peak, ${IN_FLIGHT} in flight, median of ${PEAK_RUNS} interleaved runs each (all runs' req/s in brackets):`,
      `  FreeRADIUS, 200 packets × -c ${PEAK_COUNT}: ${fmt(medFrC)} [${rates(frC)}]`,
      `  MFA Box A (durable LevelDB get+update, service env), same load: ${fmt(medA)} [${rates(mbA)}]`,
      `  FreeRADIUS, ${DISTINCT_FILES} radclients × ${DISTINCT_PER_FILE} distinct packets: ${fmt(medFrD)} [${rates(frD)}]`,
      ...bs.map(
        (b, i) =>
          `  MFA Box B (real auth engine, ${b.name}), same load: ${fmt(medB[i]!)} [${rates(mbB[i]!)}]`,
      ),
      'Ratio MFA Box ÷ FreeRADIUS requests/s (target ≥ 0.5, aim ≥ 1.0):',
      `  A, -c load: ${ratio(medA, medFrC)}`,
      ...bs.map(
        (b, i) =>
          `  B (real engine, ${b.name}), distinct load: ${ratio(medB[i]!, medFrD)}; vs FreeRADIUS's -c peak: ${ratio(medB[i]!, medFrC)}`,
      ),
      'CPU cost ratio FreeRADIUS ÷ MFA Box µs per request (MFA Box requests per CPU-second relative to FreeRADIUS; less sensitive to other load on the cores):',
      `  A: ${cpuRatio(medFrC, medA)}   ${bs.map((b, i) => `B ${b.name.split(' (')[0]}: ${cpuRatio(medFrD, medB[i]!)}`).join('   ')}`,
      `  radclient's own CPU per request is printed with each line: with 2 cores shared by radclient and the server, a radclient cost near the server's caps both.`,
      `Fixed load: ${FIXED_PROCESSES} radclient processes × -n ${perProc} (nominal ${perProc * FIXED_PROCESSES} req/s = ¼ of FreeRADIUS's -c peak), ~${FIXED_SECONDS} s, a probe every ${PROBE_EVERY_MS} ms:`,
      fixedLine('FreeRADIUS (-c shape)', frFixed),
      ...bs.map((b, i) => fixedLine(`MFA Box B (real engine, ${b.name})`, mbFixed[i]!)),
      `  p99 MFA Box B ÷ FreeRADIUS: ${bs.map((b, i) => `${b.name.split(' (')[0]} ${(mbFixed[i]!.p99 / frFixed.p99).toFixed(2)}`).join(', ')}`,
      `MFA Box RSS (${child.how}; limit 150 MB under load):`,
      ...bs.map(
        (b, i) =>
          `  ${b.name}: idle ${mb(idleB[i])}, peak under the fixed load ${mb(mbFixed[i]!.peakRssKb)} (of it anonymous, i.e. not the node binary or LevelDB's mmapped tables: ${mb(mbFixed[i]!.peakAnonKb)}), high-water mark ${mb(hwm[i])}`,
      ),
      `  A (service env): idle ${mb(idleA)}`,
      ...bs.map((b, i) => `MFA Box B (${b.name}) at exit: ${finals[i]}`),
    ];
    console.log(lines.join('\n'));
  } finally {
    onExit();
    process.off('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
