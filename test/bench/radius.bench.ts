/**
 * `npm run bench -- radius`: MFA Box's RADIUS server beside FreeRADIUS, same machine, same run,
 * same radclient load (Message-Authenticator on every request, ~100 in flight).
 *
 * The measured step is the passcode verify: State + passcode → Access-Accept.
 *  - FreeRADIUS (scripts/start-freeradius.sh): user "chal", State checked in unlang, PAP, MA on
 *    the reply. No state storage: the strongest baseline it can give.
 *  - MFA Box (test/bench/radius-child.ts, its own process):
 *      A. the spec's load shape, 200 distinct packets × radclient -c 100: a State there repeats, and
 *         the real engine's States are single use, so this run uses a handler doing a durable
 *         LevelDB get + update of a challenge record per request.
 *      B. the real auth engine (challenge records in LevelDB, durable writes) with one fresh State
 *         per request: 10 radclient processes × 2000 distinct packets, 10 in flight each. radclient
 *         itself tops out near 12k/s with packet files this size, so FreeRADIUS gets the very same
 *         load for the ratio, and the conservative ratio against FreeRADIUS's -c peak is printed too.
 *  - Latency: both at the same fixed offered load (radclient -n, ~¼ of FreeRADIUS's -c peak),
 *    probed by a separate client sending 100 requests/s; MFA Box's RSS sampled from /proc.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { encodeRequest } from '../../firmware/src/radius/codec.ts';
import { cryptoRandom, systemClock } from '../../firmware/src/clock.ts';
import { openStore } from '../../firmware/src/store/store.ts';
import { passcodeSchema, policySchema } from '../../firmware/src/config/schema.ts';
import { DemoDirectory } from '../../firmware/src/directory/demo.ts';
import type { DemoUser } from '../../firmware/src/directory/demo.ts';
import type { Outbox } from '../../firmware/src/dispatch/types.ts';
import { configureLogging } from '../../firmware/src/log.ts';
import type { NasClient } from '../../firmware/src/radius/types.ts';
import { quietOutboxParts } from '../helpers/outbox.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const SECRET = 'testing123';
const IN_FLIGHT = 100;
const DISTINCT_FILES = 10;
const DISTINCT_PER_FILE = 2000;
const FIXED_SECONDS = 3;
const FIXED_PROCESSES = 10;
/** Each of the 200 packets is sent this many times (radclient -c) in a peak run: 100k requests. */
const PEAK_COUNT = 500;
const PROBE_EVERY_MS = 10;
const PROBES = Math.ceil((FIXED_SECONDS * 1000) / PROBE_EVERY_MS) + 200;

interface LoadResult {
  requests: number;
  seconds: number;
  rate: number;
  accepted: number;
  rejected: number;
  lost: number;
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
  opts: { count: number; parallel: number; ratePerProcess?: number },
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
  const t0 = performance.now();
  const outs = await Promise.all(files.map((f) => sh('radclient', args(f))));
  const seconds = (performance.now() - t0) / 1000;
  const sum = (label: string): number =>
    outs.reduce((n, o) => n + Number(new RegExp(`${label}\\s*:\\s*(\\d+)`).exec(o.out)?.[1] ?? 0), 0);
  const accepted = sum('Accepted');
  const rejected = sum('Rejected');
  const lost = sum('Lost');
  const requests = accepted + rejected + lost;
  return { requests, seconds, rate: requests / seconds, accepted, rejected, lost };
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

function rssKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
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

async function startFreeRadius(dir: string): Promise<{ port: number; proc: ChildProcess }> {
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
 * Step 1 of the real engine for one user per future request, in this (the bench's) process, into
 * the store the MFA Box child will serve from. Writes radclient packet files for step 2.
 */
export async function prepareChallenges(
  dbDir: string,
  fileDir: string,
  groups: { name: string; files: number; per: number }[],
  probeCount: number,
  deviceSecret: Buffer,
): Promise<{ files: Record<string, string[]>; probes: Probe[] }> {
  const total = groups.reduce((n, g) => n + g.files * g.per, 0) + probeCount;
  const users: DemoUser[] = Array.from({ length: total }, (_, i) => ({
    username: `u${i}`,
    dn: `CN=u${i},DC=bench`,
    password: 'pw',
    mobiles: [`+1555${String(i).padStart(7, '0')}`],
    groups: ['MFA Users'],
    disabled: false,
  }));
  // Imported here, after run() quietened the logs: the engine makes its logger when loaded.
  const { createAuthEngine } = await import('../../firmware/src/auth/engine.ts');
  const store = await openStore(dbDir);
  const codes = new Map<string, string>();
  const outbox: Outbox = {
    prepare(entry) {
      const code = /\b(\d{4,10})\b/.exec(entry.text)?.[1];
      if (entry.username && code) codes.set(entry.username, code);
      // The real outbox writes its entry in the challenge's durable batch; so does this one.
      return [
        store
          .table<{ to: string; expiresAt: number }>('outbox')
          .op({ type: 'put', key: entry.challengeId, value: { to: entry.to, expiresAt: entry.expiresAt } }),
      ];
    },
    wake: () => undefined,
    enqueue: () => Promise.resolve(),
    ready: () => true,
    expectedWaitMs: () => 0,
    status: () => Promise.resolve('queued'),
    ...quietOutboxParts,
  };
  const engine = createAuthEngine({
    directory: new DemoDirectory(users),
    outbox,
    store,
    clock: systemClock,
    random: cryptoRandom,
    config: {
      passcode: passcodeSchema.parse({ ttlSeconds: 1800 }),
      policy: policySchema.parse({}),
      defaultCountry: 'US',
      deviceSecret,
    },
  });
  const client: NasClient = {
    name: 'bench',
    match: '127.0.0.1',
    requireMessageAuthenticator: 'yes',
    passwordCheck: 'directory',
    acceptAttributes: [],
  };
  const states: string[] = new Array<string>(total);
  for (let i = 0; i < total; i += 500) {
    await Promise.all(
      users.slice(i, i + 500).map(async (u, j) => {
        const r = await engine.handle(
          { source: { address: '127.0.0.1', port: 1 }, identifier: 0, userName: u.username, password: 'pw' },
          client,
        );
        const st = r.attributes.find(([k]) => k === 'State')?.[1];
        if (r.code !== 'Access-Challenge' || !Buffer.isBuffer(st))
          throw new Error(`step 1 for ${u.username}: ${r.code}`);
        states[i + j] = st.toString('hex');
      }),
    );
  }
  await store.close();
  let n = 0;
  const packet = (k: number): string =>
    `User-Name = "u${k}"\nUser-Password = "${codes.get(`u${k}`)}"\nState = 0x${states[k]}\nMessage-Authenticator = 0x00\n`;
  const files: Record<string, string[]> = {};
  for (const g of groups) {
    files[g.name] = [];
    for (let f = 0; f < g.files; f++) {
      const path = join(fileDir, `mb-${g.name}-${f}.txt`);
      writeFileSync(path, Array.from({ length: g.per }, () => packet(n++)).join('\n'));
      files[g.name]!.push(path);
    }
  }
  const probes: Probe[] = [];
  for (let p = 0; p < probeCount; p++, n++)
    probes.push({ user: `u${n}`, state: states[n]!, code: codes.get(`u${n}`)! });
  return { files, probes };
}

interface Child {
  proc: ChildProcess;
  port: number;
  stop(): Promise<string>;
}

/**
 * A release runs compiled JavaScript, not tsx (whose loader alone adds ~30 MB of RSS), so the
 * child is bundled with esbuild (tsx's own dependency) when it is there; tsx otherwise.
 */
async function childCommand(): Promise<{ args: string[]; how: string }> {
  const src = join(here, 'radius-child.ts');
  try {
    const esbuild = await import('esbuild');
    // Inside the checkout so the bundle's bare imports (level, pino, ...) resolve from node_modules.
    const out = join(root, 'dist', 'bench', 'radius-child.mjs');
    await esbuild.build({
      entryPoints: [src],
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      outfile: out,
      logLevel: 'error',
    });
    return { args: [out], how: 'compiled (esbuild bundle)' };
  } catch {
    return { args: ['--import', 'tsx', src], how: 'tsx' };
  }
}

export async function startChild(cmd: string[], env: Record<string, string>): Promise<Child> {
  const proc = spawn(process.execPath, cmd, {
    env: { ...process.env, ...env, MFABOX_LOG_LEVEL: 'warn' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let buf = '';
  const ready = await new Promise<{ port: number }>((resolve, reject) => {
    proc.on('exit', (c) => reject(new Error(`bench child exited ${c}`)));
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        proc.stdout.off('data', onData);
        resolve(JSON.parse(buf.slice(0, nl)) as { port: number });
        buf = buf.slice(nl + 1);
      }
    };
    proc.stdout.on('data', onData);
  });
  return {
    proc,
    port: ready.port,
    stop: () =>
      new Promise<string>((resolve) => {
        let out = buf;
        proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
        proc.removeAllListeners('exit');
        proc.on('exit', () => resolve(out.trim()));
        proc.stdin.end();
        setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

function fmt(r: LoadResult): string {
  return `${Math.round(r.rate)} req/s (${r.requests} in ${r.seconds.toFixed(2)} s; accepted ${r.accepted}, rejected ${r.rejected}, lost ${r.lost})`;
}

interface Fixed {
  load: LoadResult;
  p50: number;
  p99: number;
  probes: number;
  lost: number;
  peakRssKb?: number;
}

/** The fixed-load phase: radclient load at `perProc` req/s per process, probes alongside, RSS sampled. */
async function fixedLoad(
  port: number,
  files: string[],
  count: number,
  perProc: number,
  probes: Buffer[],
  pid?: number,
): Promise<Fixed> {
  let peak = pid ? rssKb(pid, 'VmRSS') : 0;
  const sampler = pid ? setInterval(() => (peak = Math.max(peak, rssKb(pid, 'VmRSS'))), 50) : undefined;
  const loadP = radclientLoad(port, files, {
    count,
    parallel: IN_FLIGHT / files.length,
    ratePerProcess: perProc,
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
    ...(pid ? { peakRssKb: peak } : {}),
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
  const rss = f.peakRssKb === undefined ? '' : `; peak RSS ${(f.peakRssKb / 1024).toFixed(1)} MB`;
  return `  ${name}: ${fmt(f.load)}; probe p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms (${f.probes} probes, ${f.lost} lost)${rss}`;
}

export async function run(): Promise<void> {
  configureLogging({ level: process.env.MFABOX_LOG_LEVEL ?? 'warn' });
  const dir = mkdtempSync(join(tmpdir(), 'mfabox-radius-bench-'));
  const killers: (() => void)[] = [];
  const onExit = (): void => killers.forEach((k) => k());
  process.on('exit', onExit);
  const load0 = loadavg();
  try {
    // FreeRADIUS: peaks first, since the fixed load is a quarter of its -c peak.
    const fr = await startFreeRadius(dir);
    killers.push(() => fr.proc.kill('SIGKILL'));
    const frC200 = chalPackets(dir, 'fr-c200', 1, 200);
    await radclientLoad(fr.port, frC200, { count: 20, parallel: IN_FLIGHT }); // warm-up
    const frC = await radclientLoad(fr.port, frC200, { count: PEAK_COUNT, parallel: IN_FLIGHT });
    const frDistinct = await radclientLoad(
      fr.port,
      chalPackets(dir, 'fr-distinct', DISTINCT_FILES, DISTINCT_PER_FILE),
      {
        count: 1,
        parallel: IN_FLIGHT / DISTINCT_FILES,
      },
    );
    const fixedRate = Math.round(frC.rate / 4);
    const perProc = Math.ceil(fixedRate / FIXED_PROCESSES);
    const fixedCount = Math.ceil((perProc * FIXED_SECONDS) / 200);
    const frFixed = await fixedLoad(
      fr.port,
      Array.from({ length: FIXED_PROCESSES }, () => frC200[0]!),
      fixedCount,
      perProc,
      Array.from({ length: PROBES }, (_, i) => probePacket(i, 'chal', '123456', Buffer.from('abcd1234'))),
    );
    fr.proc.kill('SIGTERM');

    const child = await childCommand();

    // MFA Box A: the -c shape, durable LevelDB get + update handler.
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
    const a = await startChild(child.args, {
      BENCH_MODE: 'leveldb',
      BENCH_SECRET: SECRET,
      BENCH_DB: join(dir, 'db-a'),
    });
    killers.push(() => a.proc.kill('SIGKILL'));
    const idleA = rssKb(a.proc.pid!, 'VmRSS');
    await radclientLoad(a.port, [c200mb], { count: 20, parallel: IN_FLIGHT });
    const mbC = await radclientLoad(a.port, [c200mb], { count: PEAK_COUNT, parallel: IN_FLIGHT });
    const mbFixedA = await fixedLoad(
      a.port,
      Array.from({ length: FIXED_PROCESSES }, () => c200mb),
      fixedCount,
      perProc,
      Array.from({ length: PROBES }, (_, i) => probePacket(i, `u${i % 200}`, '123456', stateA(i % 200))),
      a.proc.pid,
    );
    await a.stop();

    // MFA Box B: the real auth engine, one fresh State per request.
    const deviceSecret = randomBytes(32);
    const prepared = await prepareChallenges(
      join(dir, 'db-b'),
      dir,
      [
        { name: 'peak', files: DISTINCT_FILES, per: DISTINCT_PER_FILE },
        { name: 'fixed', files: FIXED_PROCESSES, per: perProc * FIXED_SECONDS },
      ],
      PROBES,
      deviceSecret,
    );
    const b = await startChild(child.args, {
      BENCH_MODE: 'engine',
      BENCH_SECRET: SECRET,
      BENCH_DB: join(dir, 'db-b'),
      BENCH_DEVICE_SECRET: deviceSecret.toString('hex'),
    });
    killers.push(() => b.proc.kill('SIGKILL'));
    const mbDistinct = await radclientLoad(b.port, prepared.files.peak!, {
      count: 1,
      parallel: IN_FLIGHT / DISTINCT_FILES,
    });
    const mbFixedB = await fixedLoad(
      b.port,
      prepared.files.fixed!,
      1,
      perProc,
      prepared.probes.map((p, i) => probePacket(i, p.user, p.code, Buffer.from(p.state, 'hex'))),
      b.proc.pid,
    );
    const hwmB = rssKb(b.proc.pid!, 'VmHWM');
    const final = await b.stop();

    const ratio = (x: LoadResult, y: LoadResult): string => (x.rate / y.rate).toFixed(2);
    const lines = [
      'RADIUS benchmark: passcode verify (State + passcode → Access-Accept); Message-Authenticator on every request and reply',
      `machine load average ${load0.map((x) => x.toFixed(1)).join(' ')} at start, ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')} at end (2 shared cores: figures are noisy)`,
      'Peak, 100 in flight:',
      `  FreeRADIUS, 200 packets × -c ${PEAK_COUNT}:                 ${fmt(frC)}`,
      `  MFA Box A (durable LevelDB get+update), same load: ${fmt(mbC)}`,
      `  FreeRADIUS, ${DISTINCT_FILES} × ${DISTINCT_PER_FILE} distinct packets:          ${fmt(frDistinct)}`,
      `  MFA Box B (real auth engine), same load:            ${fmt(mbDistinct)}`,
      'Ratio MFA Box ÷ FreeRADIUS requests/s (target ≥ 0.5, aim ≥ 1.0):',
      `  A, -c load: ${ratio(mbC, frC)}   B (real engine), distinct load: ${ratio(mbDistinct, frDistinct)}   B vs FreeRADIUS -c peak: ${ratio(mbDistinct, frC)}`,
      `Fixed load: ${FIXED_PROCESSES} radclient processes × -n ${perProc} (nominal ${perProc * FIXED_PROCESSES} req/s = ¼ of FreeRADIUS's -c peak), ~${FIXED_SECONDS} s, a probe every ${PROBE_EVERY_MS} ms:`,
      fixedLine('FreeRADIUS (-c shape)', frFixed),
      fixedLine('MFA Box A  (-c shape)', mbFixedA),
      fixedLine('MFA Box B  (real engine, distinct)', mbFixedB),
      `  p99 MFA Box ÷ FreeRADIUS: A ${(mbFixedA.p99 / frFixed.p99).toFixed(2)}, B ${(mbFixedB.p99 / frFixed.p99).toFixed(2)}`,
      `MFA Box RSS (${child.how}): A idle ${(idleA / 1024).toFixed(1)} MB; peak under the fixed load A ${((mbFixedA.peakRssKb ?? 0) / 1024).toFixed(1)} MB, B ${((mbFixedB.peakRssKb ?? 0) / 1024).toFixed(1)} MB (limit 150 MB); B high-water mark ${(hwmB / 1024).toFixed(1)} MB`,
      `MFA Box B at exit: ${final}`,
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
