/**
 * `npm run bench -- login`: step 1 of a login (the password checked in the directory, then an
 * Access-Challenge) side by side with FreeRADIUS 3.2 + rlm_ldap (scripts/start-freeradius-ldap.sh)
 * on the same slapd with 1,000 users, over StartTLS and over plain LDAP.
 *  - MFA Box: test/bench/login-child.ts, the real RADIUS server over the real LDAP directory, in its
 *    own process (esbuild-compiled as a release runs). Not the engine's durable challenge write or
 *    SMS queueing: FreeRADIUS does neither (`npm run bench -- radius` covers the passcode step).
 *  - Load: test/bench/login-client.ts, a cheap UDP client in its own process (no per-request
 *    processes, no busy wait), closed loop (CONCURRENCY in flight) for throughput and CPU, open
 *    loop at a fixed 200 req/s for p50/p99. Its own CPU is printed beside each figure.
 *  - CPU per request: utime + stime from /proc/PID/stat of the server and of slapd, over the run.
 *  - LDAP operations per request: slapd's cn=Operations,cn=Monitor counters, by operation.
 *  - The sides alternate A/B/A/B, so other work on a shared machine hits both alike; the median of
 *    ROUNDS runs is the figure and min–max is printed as the spread.
 * MFABOX_BENCH_B_ENV='{"NAME":"value"}' adds a second MFA Box child with that environment to the
 * same rounds (side B): an A/B of one change, free of the drift between runs.
 * Then MFA Box alone under the unit's V8 flags with --max-semi-space-size 2, 4, 8, 16: CPU per
 * request against RSS, to pick the flag by the numbers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPeer, type Facts } from '../integration/peers.ts';
import { serviceEnvironment, serviceNodeArgs } from './service-env.ts';
import { passcodeStep } from './passcode-step.ts';
import {
  benchCommand,
  benchSideB,
  cpuUs,
  freePort,
  rssKb,
  runLoadClient,
  startBenchChild,
  type ClientResult,
} from './children.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const SECRET = 'bench-nas-secret-0123456789';
const USERS = 1000;
const ROUNDS = Number(process.env.MFABOX_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.MFABOX_BENCH_SECONDS ?? 4);
const CONCURRENCY = 32;
const FIXED_RATE = 200;
/** Connections per side: rlm_ldap's pool max (start 8) and the box's bindConnections. */
const POOL = 32;

/** The issue's figures before pooled binds (same machine class, same bench shape). */
const BEFORE = {
  plain: { frRate: 2221, mbRate: 530, frCpu: 608, mbCpu: 2261 },
  starttls: { frRate: 2461, mbRate: 189, frP50: 1.3, frP99: 5.3, mbP50: 21, mbP99: 432 },
};

interface Side {
  name: 'FreeRADIUS+rlm_ldap' | 'MFA Box' | 'MFA Box (B)';
  port: number;
  pid: number;
  proc: ChildProcess;
  /** The box: how busy its event loop was since the last call (login-child.ts answers SIGUSR2). */
  query?(): Promise<Record<string, unknown>>;
}

interface Run {
  /** The box's event-loop utilisation during the run (0–1). */
  loopBusy?: number | undefined;
  rate: number;
  serverUs: number;
  slapdUs: number;
  clientUs: number;
  ops: Record<string, number>;
  p50: number;
  p99: number;
  lost: number;
  challenges: number;
  requests: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const spread = (xs: number[], digits = 0) =>
  `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

/** slapd's completed operations by kind (Bind, Search, Extended, Unbind, ...), from cn=Monitor. */
function monitorOps(f: Facts): Record<string, number> {
  const r = spawnSync(
    'ldapsearch',
    [
      '-x',
      '-LLL',
      '-H',
      f.LDAP_URL,
      '-D',
      f.ADMIN_DN,
      '-w',
      f.ADMIN_PW,
      '-b',
      'cn=Operations,cn=Monitor',
      '-s',
      'one',
      'monitorOpCompleted',
    ],
    { encoding: 'utf8' },
  );
  const out: Record<string, number> = {};
  let kind = '';
  for (const line of r.stdout.split('\n')) {
    const dn = /^dn: cn=([^,]+),/.exec(line);
    if (dn) kind = dn[1]!;
    const v = /^monitorOpCompleted: (\d+)/.exec(line);
    if (v && kind) out[kind] = Number(v[1]);
  }
  return out;
}

async function startFreeRadius(f: Facts, dir: string, startTls: boolean): Promise<Side> {
  const port = await freePort();
  const ldap = new URL(f.LDAP_URL);
  const proc = spawn('bash', [join(root, 'scripts/start-freeradius-ldap.sh')], {
    env: {
      ...process.env,
      PORT: String(port),
      SECRET,
      DIR: join(dir, `fr-${startTls ? 'tls' : 'plain'}`),
      LDAP_HOST: ldap.hostname,
      LDAP_PORT: ldap.port,
      START_TLS: startTls ? 'yes' : 'no',
      CA_FILE: f.CA_FILE,
      BASE: f.BASE,
      SERVICE_DN: f.SERVICE_DN,
      SERVICE_PW: f.SERVICE_PW,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { name: 'FreeRADIUS+rlm_ldap', port, pid: proc.pid!, proc };
}

async function startBox(
  cmd: string[],
  f: Facts,
  startTls: boolean,
  nodeOptions?: string,
  sideB?: { args: string[]; env: Record<string, string> },
): Promise<Side & { stop(): Promise<string> }> {
  const directory = {
    kind: 'ldap',
    dialect: 'openldap',
    urls: [f.LDAP_URL],
    caFile: f.CA_FILE,
    startTls,
    allowInsecure: !startTls,
    baseDn: f.BASE,
    bindDn: f.SERVICE_DN,
    bindPassword: f.SERVICE_PW,
    // rlm_ldap's pool below may grow to 32 connections; the box's user-bind pool gets the same.
    bindConnections: POOL,
  };
  // As the service runs: the unit's environment (NODE_OPTIONS, MALLOC_ARENA_MAX, …) and ExecStart's
  // node flags; side B's environment and node flags on top.
  // The heap-flag sweep's young generation may be smaller than ExecStart's starting size.
  const semi = /--max-semi-space-size=(\d+)/.exec(nodeOptions ?? '')?.[1];
  const nodeArgs = serviceNodeArgs().map((a) =>
    semi !== undefined && /^--min-semi-space-size=(\d+)$/.test(a) && Number(a.split('=')[1]) > Number(semi)
      ? `--min-semi-space-size=${semi}`
      : a,
  );
  const c = await startBenchChild(
    [...nodeArgs, ...(sideB?.args ?? []), ...cmd],
    { BENCH_SECRET: SECRET, BENCH_DIRECTORY: JSON.stringify(directory) },
    {
      ...serviceEnvironment(),
      ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }),
      ...sideB?.env,
    },
  );
  return { name: sideB ? 'MFA Box (B)' : 'MFA Box', ...c };
}

function client(cmd: string[], port: number, env: Record<string, string>): Promise<ClientResult> {
  return runLoadClient(cmd, port, {
    BENCH_SECRET: SECRET,
    BENCH_USERS: String(USERS),
    BENCH_SECONDS: String(SECONDS),
    ...env,
  });
}

async function measure(
  clientCmd: string[],
  side: Side,
  f: Facts,
  slapdPid: number,
  env: Record<string, string>,
): Promise<Run> {
  await side.query?.();
  const ops0 = monitorOps(f);
  const s0 = cpuUs(side.pid);
  const l0 = cpuUs(slapdPid);
  const r = await client(clientCmd, side.port, env);
  const s1 = cpuUs(side.pid);
  const l1 = cpuUs(slapdPid);
  const ops1 = monitorOps(f);
  const busy = (await side.query?.())?.busy;
  const n = Math.max(1, r.answered);
  const ops: Record<string, number> = {};
  // The two ldapsearch reads of the counters cost a bind, a search and an unbind each; left in (±0.01/request).
  for (const k of Object.keys(ops1)) ops[k] = ((ops1[k] ?? 0) - (ops0[k] ?? 0)) / n;
  return {
    rate: r.answered / r.seconds,
    serverUs: (s1 - s0) / n,
    slapdUs: (l1 - l0) / n,
    clientUs: r.cpuUs / n,
    ops,
    p50: r.p50,
    p99: r.p99,
    lost: r.lost,
    challenges: r.codes['11'] ?? 0,
    loopBusy: typeof busy === 'number' ? busy : undefined,
    requests: r.sent,
  };
}

function opsText(runs: Run[]): string {
  const kinds = ['Bind', 'Search', 'Extended', 'Unbind', 'Abandon'];
  const parts = kinds
    .map((k) => [k, median(runs.map((r) => r.ops[k] ?? 0))] as const)
    .filter(([, v]) => v >= 0.005);
  const total = parts.reduce((a, [, v]) => a + v, 0);
  return `${total.toFixed(2)} (${parts.map(([k, v]) => `${k.toLowerCase()} ${v.toFixed(2)}`).join(', ')})`;
}

export async function run(): Promise<void> {
  const t0 = performance.now();
  const peer = await startPeer('scripts/start-slapd.sh', { BULK_USERS: String(USERS) }, 600_000);
  const f = peer.facts;
  const slapdPid = Number(f.SLAPD_PID);
  const dir = mkdtempSync(join(tmpdir(), 'mfabox-login-bench-'));
  const childCmd = (await benchCommand('login-child.ts')).args;
  const clientCmd = (await benchCommand('login-client.ts')).args;
  const base = { BENCH_PASSWORD: f.USER_PW };
  console.log(
    `login bench: slapd with ${USERS} users ready in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
      `${ROUNDS} rounds × ${SECONDS} s per side, A/B interleaved; load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')} (a shared machine)`,
  );
  try {
    // MFABOX_BENCH_LOGIN=tls,plain,passcode (the default: all three) picks the parts to run;
    // `password` is step 1 alone, both ways (tls,plain).
    const parts = (process.env.MFABOX_BENCH_LOGIN ?? 'tls,plain,passcode')
      .split(',')
      .flatMap((p) => (p === 'password' ? ['tls', 'plain'] : [p]));
    for (const startTls of [true, false].filter((t) => parts.includes(t ? 'tls' : 'plain'))) {
      const label = startTls ? 'StartTLS' : 'plain LDAP';
      const fr = await startFreeRadius(f, dir, startTls);
      const mb = await startBox(childCmd, f, startTls);
      // A second box measured in the same rounds (an A/B of a change, free of the drift between
      // runs on a shared machine).
      const sideB = benchSideB();
      const bCmd = sideB?.tree ? (await benchCommand('login-child.ts', sideB.tree)).args : childCmd;
      const b = sideB ? await startBox(bCmd, f, startTls, undefined, sideB) : undefined;
      const sides = b ? [fr, mb, b] : [fr, mb];
      const key = (s: Side) => (s === fr ? 'fr' : s === mb ? 'mb' : 'b');
      try {
        await new Promise((r) => setTimeout(r, 1500)); // FreeRADIUS opens its LDAP pool
        // Warm-up: JIT (a box serves logins for months; its first seconds are not its speed), pools,
        // slapd caches; unmeasured.
        for (const s of sides)
          await client(clientCmd, s.port, {
            ...base,
            BENCH_MODE: 'closed',
            BENCH_CONCURRENCY: String(CONCURRENCY),
            BENCH_SECONDS: '3',
          });
        const closed: Record<string, Run[]> = { fr: [], mb: [], b: [] };
        const open: Record<string, Run[]> = { fr: [], mb: [], b: [] };
        for (let i = 0; i < ROUNDS; i++) {
          // Each round starts with the next side, so none always runs first.
          const order = sides.map((_, k) => sides[(k + i) % sides.length]!);
          for (const s of order)
            closed[key(s)]!.push(
              await measure(clientCmd, s, f, slapdPid, {
                ...base,
                BENCH_MODE: 'closed',
                BENCH_CONCURRENCY: String(CONCURRENCY),
              }),
            );
          for (const s of order)
            open[key(s)]!.push(
              await measure(clientCmd, s, f, slapdPid, {
                ...base,
                BENCH_MODE: 'open',
                BENCH_RATE: String(FIXED_RATE),
              }),
            );
        }
        if (b) {
          report(
            `${label}, side B (${sideB?.label})`,
            { fr: closed.fr!, mb: closed.b! },
            { fr: open.fr!, mb: open.b! },
            {},
          );
          await b.stop();
        }
        report(label, closed, open, startTls ? BEFORE.starttls : BEFORE.plain);
        console.log(
          `    pools: rlm_ldap up to ${POOL} connections (searches and binds share them), MFA Box 1 service connection + up to ${POOL} bind connections`,
        );
        const stats = await mb.stop();
        const last = stats.split('\n').pop() ?? '{}';
        const s = JSON.parse(last) as { stats?: { opened: number; tls: { full: number; resumed: number } } };
        console.log(
          `    MFA Box opened ${s.stats?.opened ?? '?'} user-bind connection(s) in all (TLS handshakes: ${s.stats?.tls.full ?? '?'} full, ${s.stats?.tls.resumed ?? '?'} resumed; slapd does not resume)`,
        );
      } finally {
        fr.proc.kill('SIGTERM');
        mb.proc.kill('SIGTERM');
        b?.proc.kill('SIGTERM');
      }
    }
    if (parts.includes('passcode')) await passcodeStep(dir, ROUNDS, SECONDS);
    // MFABOX_BENCH_HEAP=0 skips the semi-space sweep (about 3 minutes).
    if (process.env.MFABOX_BENCH_HEAP !== '0') await heapFlags(childCmd, clientCmd, f, slapdPid, base);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await peer.stop();
  }
}

function report(
  label: string,
  closed: Record<string, Run[]>,
  open: Record<string, Run[]>,
  before: Partial<
    Record<'frRate' | 'mbRate' | 'frCpu' | 'mbCpu' | 'frP50' | 'frP99' | 'mbP50' | 'mbP99', number>
  >,
): void {
  const fr = closed.fr!;
  const mb = closed.mb!;
  const total = (r: Run) => r.serverUs + r.slapdUs;
  const ratio = (a: Run[], b: Run[], k: (r: Run) => number) => median(a.map(k)) / median(b.map(k));
  const cpuRatios = mb.map((r, i) => total(r) / total(fr[i]!));
  const rateRatios = mb.map((r, i) => r.rate / fr[i]!.rate);
  console.log(`\n  step 1 over ${label} (median of ${ROUNDS}; spread min–max)`);
  console.log(
    `    CPU per request, server + slapd: MFA Box / FreeRADIUS = ${ratio(mb, fr, total).toFixed(2)}× (rounds ${cpuRatios.map((x) => x.toFixed(2)).join(' ')}; target ≤ 1.0)` +
      (before.mbCpu && before.frCpu ? `   before: ${(before.mbCpu / before.frCpu).toFixed(1)}×` : ''),
  );
  console.log(
    `    req/s: MFA Box / FreeRADIUS = ${ratio(mb, fr, (r) => r.rate).toFixed(2)} (rounds ${rateRatios.map((x) => x.toFixed(2)).join(' ')}; target ≥ 1.0)` +
      (before.mbRate && before.frRate ? `   before: ${(before.mbRate / before.frRate).toFixed(3)}` : ''),
  );
  const line = (
    name: string,
    rs: Run[],
    os: Run[],
    b: { rate?: number; cpu?: number; p50?: number; p99?: number },
  ) => {
    const fmtBefore = [
      b.rate ? `${b.rate} req/s` : '',
      b.cpu ? `${b.cpu} µs` : '',
      b.p50 ? `p50/p99 ${b.p50}/${b.p99} ms` : '',
    ]
      .filter(Boolean)
      .join(', ');
    console.log(
      `    ${name.padEnd(20)} ${median(rs.map((r) => r.rate))
        .toFixed(0)
        .padStart(5)} req/s (${spread(rs.map((r) => r.rate))}) at ${CONCURRENCY} in flight;` +
        ` CPU/request server ${median(rs.map((r) => r.serverUs)).toFixed(0)} µs + slapd ${median(rs.map((r) => r.slapdUs)).toFixed(0)} µs` +
        ` = ${median(rs.map(total)).toFixed(0)} µs (${spread(rs.map(total))}); client ${median(rs.map((r) => r.clientUs)).toFixed(0)} µs;` +
        ` LDAP ops/request ${opsText(rs)}` +
        (rs[0]?.loopBusy !== undefined
          ? `; event loop busy ${(100 * median(rs.map((r) => r.loopBusy ?? 0))).toFixed(0)} %`
          : ''),
    );
    console.log(
      `    ${''.padEnd(20)} at ${FIXED_RATE} req/s (open loop): p50 ${median(os.map((r) => r.p50)).toFixed(1)} ms, p99 ${median(os.map((r) => r.p99)).toFixed(1)} ms` +
        ` (p99 ${spread(
          os.map((r) => r.p99),
          1,
        )}); lost ${os.reduce((a, r) => a + r.lost, 0)}; client CPU ${median(os.map((r) => r.clientUs)).toFixed(0)} µs/request` +
        (fmtBefore ? `   before: ${fmtBefore}` : ''),
    );
    const bad = rs.concat(os).filter((r) => r.challenges < r.requests - r.lost);
    if (bad.length > 0) console.log(`    ${name}: WARNING some answers were not Access-Challenge`);
  };
  line('FreeRADIUS+rlm_ldap', fr, open.fr!, {
    rate: before.frRate,
    cpu: before.frCpu,
    p50: before.frP50,
    p99: before.frP99,
  });
  line('MFA Box', mb, open.mb!, {
    rate: before.mbRate,
    cpu: before.mbCpu,
    p50: before.mbP50,
    p99: before.mbP99,
  });
  const p99 = median(open.mb!.map((r) => r.p99)) / median(open.fr!.map((r) => r.p99));
  console.log(`    p99 at ${FIXED_RATE} req/s: MFA Box / FreeRADIUS = ${p99.toFixed(2)}× (target ≤ 2)`);
}

/**
 * MFA Box alone over StartTLS under the unit's NODE_OPTIONS with --max-semi-space-size 2…16:
 * CPU per request (closed loop) and RSS (idle after warm-up, and the peak).
 */
async function heapFlags(
  childCmd: string[],
  clientCmd: string[],
  f: Facts,
  slapdPid: number,
  base: Record<string, string>,
): Promise<void> {
  const unit = serviceEnvironment().NODE_OPTIONS ?? '';
  console.log(
    `\n  heap flags (the unit's NODE_OPTIONS="${unit}", semi-space varied; StartTLS, closed loop):`,
  );
  const flags = [2, 4, 8, 16];
  const runs = new Map<number, Run[]>(flags.map((x) => [x, []]));
  const idle = new Map<number, number[]>(flags.map((x) => [x, []]));
  const peak = new Map<number, number[]>(flags.map((x) => [x, []]));
  // Interleaved: each round runs every flag once, in a rotated order, so load from other work
  // falls on all of them alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < flags.length; k++) {
      const semi = flags[(k + round) % flags.length]!;
      const opts = `${unit.replace(/--max-semi-space-size=\d+/, '').trim()} --max-semi-space-size=${semi}`;
      const mb = await startBox(childCmd, f, true, opts);
      try {
        await client(clientCmd, mb.port, {
          ...base,
          BENCH_MODE: 'closed',
          BENCH_CONCURRENCY: String(CONCURRENCY),
          BENCH_SECONDS: '3',
        });
        await new Promise((r) => setTimeout(r, 1000));
        idle.get(semi)!.push(rssKb(mb.pid, 'VmRSS') / 1024);
        runs.get(semi)!.push(
          await measure(clientCmd, mb, f, slapdPid, {
            ...base,
            BENCH_MODE: 'closed',
            BENCH_CONCURRENCY: String(CONCURRENCY),
          }),
        );
        peak.get(semi)!.push(rssKb(mb.pid, 'VmHWM') / 1024);
      } finally {
        await mb.stop();
      }
    }
  }
  for (const semi of flags) {
    const rs = runs.get(semi)!;
    console.log(
      `    --max-semi-space-size=${String(semi).padEnd(2)} server CPU ${median(rs.map((r) => r.serverUs)).toFixed(0)} µs/request (${spread(rs.map((r) => r.serverUs))}),` +
        ` ${median(rs.map((r) => r.rate)).toFixed(0)} req/s; RSS 1 s after warm-up ${median(idle.get(semi)!).toFixed(0)} MiB (${spread(idle.get(semi)!)}), peak ${Math.max(...peak.get(semi)!).toFixed(0)} MiB`,
    );
  }
}
