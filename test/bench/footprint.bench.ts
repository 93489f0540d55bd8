/**
 * `npm run bench -- footprint`: the box's idle RSS and start-to-ready time, each against the
 * floor `node -e "setInterval(()=>{},1e9)"` measured in the same run, both under the unit's
 * environment (NODE_OPTIONS heap flags, MALLOC_ARENA_MAX, UV_THREADPOOL_SIZE, the node flags of
 * its ExecStart line, and the cache directory systemd gives it: CacheDirectory= sets
 * $CACHE_DIRECTORY). The box runs the compiled
 * build (as on a Pi, no tsx) with a simulated modem on a real pty.
 *
 * "Ready" is the moment RADIUS answers: the `RADIUS udp …` line, printed when `mfabox start`
 * says READY=1 to systemd. The web page starts right after it; its `Web http…` line is timed too.
 * Three kinds of start are measured:
 *  - the first start as a box runs it: an empty data directory with the device key and admin
 *    that first boot makes, and the caches that first boot's warm-up (scripts/warm-cache.mjs,
 *    run here exactly as first-boot.mjs runs it, from the built box's unit file) wrote; once
 *    per box and once per release after `mfabox upgrade`. The first of them is kept running
 *    until it has replaced the warm-up's trial code cache with its full one
 *    (scripts/code-cache.mjs: REWRITE_AFTER_START_MS after it started), as a box's first start
 *    does, and its RSS is read again after that write;
 *  - a restart: that data directory and that full cache, what every later boot does (and, for
 *    comparison, restarts on a copy of the warm-up's trial cache: what every restart ran on
 *    before the rewrite; each is stopped after IDLE_MS, before it would rewrite);
 *  - the truly cold first start, labelled so: no code cache, config never validated, no admin
 *    yet (what a first start did before first boot warmed the caches; still what a box whose
 *    warm-up failed does once).
 * Targets (issue 11): idle RSS < 80 MB; ready within 3 × the floor's start + the store's open.
 * The bench's config has a simulated modem and no directory (kind none), so the restart's gain
 * from the full cache is the modem driver's and serialport's; a box with an LDAP directory also
 * has the LDAP client's in it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../../firmware/src/modem/simulator/index.ts';
import { openStore } from '../../firmware/src/store/store.ts';
import { resetAdminPassword } from '../../firmware/src/web-api/admins.ts';
import { buildBoxInto, writeStartConfig } from '../helpers/built-box.ts';
import { serviceEnvironment, serviceNodeArgs } from './service-env.ts';
// @ts-expect-error: a plain ES module of the launcher's, without types.
import { REWRITE_AFTER_START_MS } from '../../scripts/code-cache.mjs';

const RUNS = 5;
/** First starts after a warm-up (each one warms a fresh cache directory first: ~5 s more). */
const WARM_FIRST_RUNS = 3;
const IDLE_MS = 5000;
/** How long after the first start's code cache rewrite its RSS is read again. */
const REWRITE_SETTLE_MS = 15_000;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN) / 1024;
}

/** CPU time the process's main thread has run, in ms (/proc/PID/schedstat: ns, not 10 ms ticks). */
function mainThreadCpuMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

interface Start {
  /** ms to the ready line (RADIUS answers; READY=1). */
  startMs: number;
  /** The main thread's CPU ms to the ready line: load inflates it far less than wall time. */
  cpuMs: number;
  /** ms to the `Web http…` line (the floor has none: its ready line). */
  webMs: number;
  /** MB, after IDLE_MS. */
  rss: number;
}

/** Spawns, waits for `ready` (and `web`) on stdout, idles, reads RSS, runs `hold` (if any), stops. */
async function measure(
  args: string[],
  ready: RegExp,
  web: RegExp,
  env: NodeJS.ProcessEnv,
  hold?: (pid: number) => Promise<void>,
): Promise<Start> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let startMs = 0;
  let cpuMs = 0;
  try {
    const webMs = await new Promise<number>((res, rej) => {
      const on = (d: Buffer): void => {
        out += d.toString();
        if (!startMs && ready.test(out)) {
          startMs = performance.now() - t0;
          cpuMs = mainThreadCpuMs(child.pid ?? 0);
        }
        if (startMs && web.test(out)) res(performance.now() - t0);
      };
      child.stdout.on('data', on);
      child.stderr.on('data', on);
      child.on('exit', (c) => rej(new Error(`exited ${c}: ${out}`)));
    });
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const rss = rssMb(child.pid ?? 0);
    await hold?.(child.pid ?? 0);
    return { startMs, cpuMs, webMs, rss };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const spread = (xs: number[], unit: string, digits = 0): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]?.toFixed(digits)} ${unit} (min ${s[0]?.toFixed(digits)}, max ${s[s.length - 1]?.toFixed(digits)})`;
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mfabox-footprint-'));
  const sim = await startSimulator({ profile: 'generic', smsDelayMs: 50 });
  try {
    buildBoxInto(dir);
    const cacheDir = join(dir, 'cache');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...serviceEnvironment(),
      MFABOX_LEDS: 'none',
      // What CacheDirectory=mfabox gives the service (NODE_COMPILE_CACHE: Node >= 22.1 only).
      CACHE_DIRECTORY: cacheDir,
      NODE_COMPILE_CACHE: join(cacheDir, 'compile'),
    };
    delete env.MFABOX_FROM_SOURCE;
    const nodeArgs = serviceNodeArgs();
    const box = (data: string, i: number): string[] => [
      ...nodeArgs,
      join(dir, 'scripts/mfabox.mjs'),
      'start',
      '--config',
      writeStartConfig(join(dir, `config-${i}.json`), data, [{ name: 'sim0', path: sim.path }]),
    ];
    const ready = /RADIUS\s+udp/;
    const web = /Web\s+http/;
    const load = [loadAverage()];

    const floor: Start[] = [];
    const restarts: Start[] = [];
    // Restarts on a copy of the warm-up's trial code cache, taken before the first start replaced
    // it: what every restart ran on before that rewrite (no modem driver, serialport or LDAP).
    const restartsTrial: Start[] = [];
    const trialCache = join(dir, 'cache-trial');
    // The first start's one rewrite of the code cache: when (s after its IDLE_MS RSS reading) and
    // its RSS REWRITE_SETTLE_MS after it.
    let rewrite: { afterS: number; rss: number } | undefined;
    const untilRewritten =
      (cache: string) =>
      async (pid: number): Promise<void> => {
        const t = performance.now();
        const full = (): boolean => readdirSync(cache).some((f) => /^mfabox-code-[0-9a-f]+\.v8$/.test(f));
        const trial = (): boolean => readdirSync(cache).some((f) => f.endsWith('.trial.v8'));
        while (!full() || trial()) {
          if (performance.now() - t > REWRITE_AFTER_START_MS + 60_000)
            throw new Error(
              `the first start did not rewrite its code cache: ${readdirSync(cache).join(', ')}`,
            );
          await new Promise((r) => setTimeout(r, 200));
        }
        const afterS = (performance.now() - t) / 1000;
        await new Promise((r) => setTimeout(r, REWRITE_SETTLE_MS));
        rewrite = { afterS, rss: rssMb(pid) };
      };
    const warmFirst: Start[] = [];
    const warmUpMs: number[] = [];
    const storeMs: number[] = [];
    // What first boot does before the service's first start: the device key, the first admin,
    // then the warm-up, as first-boot.mjs runs it (the built box's unit file; the bench has no
    // user mfabox, so it runs as itself).
    const firstBoot = async (i: number): Promise<{ data: string; cache: string }> => {
      const data = join(dir, `data-${i}`);
      const cache = join(dir, `cache-${i}`);
      writeFileSync(`${data}.device.key`, randomBytes(32), { mode: 0o600 });
      await resetAdminPassword({ dataDir: data });
      const config = box(data, 100 + i).at(-1) ?? '';
      const t = performance.now();
      const r = spawnSync(
        process.execPath,
        [
          join(dir, 'scripts/warm-cache.mjs'),
          ...['--config', config, '--unit', join(dir, 'scripts/mfabox.service')],
          ...['--cache-dir', cache, '--same-user'],
        ],
        { encoding: 'utf8' },
      );
      warmUpMs.push(performance.now() - t);
      if (!/mfabox warm: .*code cache written/.test(r.stdout))
        throw new Error(`the warm-up did not warm: ${r.stdout}${r.stderr}`);
      return { data, cache };
    };
    const withCache = (cache: string): NodeJS.ProcessEnv => ({
      ...env,
      CACHE_DIRECTORY: cache,
      NODE_COMPILE_CACHE: join(cache, 'compile'),
    });
    // The truly cold first start: empty data directory, no code cache (it writes one about 1 s
    // after it started), config never validated, no admin (it makes one).
    const first = await measure(box(join(dir, 'data'), 0), ready, web, env);
    let boxData = '';
    let boxCache = '';
    for (let i = 0; i < RUNS; i++) {
      // First boot's warm-up, then the floor (5 s of idle) before the first start: on this
      // shared host the warm-up's own CPU and disk work (a 2.7 MB cache, a store created and
      // deleted) stays out of the start measured after it. A box starts right after first boot.
      const booted = i < WARM_FIRST_RUNS ? await firstBoot(i) : undefined;
      floor.push(
        await measure(
          [...nodeArgs, '-e', "console.log('ready');setInterval(()=>{},1e9)"],
          /ready/,
          /ready/,
          env,
        ),
      );
      const t = performance.now();
      const store = await openStore(join(dir, `store-${i}`));
      storeMs.push(performance.now() - t);
      await store.close();
      if (booted) {
        // The box's first start: kept running until it has written its full code cache, so the
        // restarts below run on what a box's restarts run on.
        if (i === 0) cpSync(booted.cache, trialCache, { recursive: true });
        const hold = i === 0 ? untilRewritten(booted.cache) : undefined;
        warmFirst.push(await measure(box(booted.data, 100 + i), ready, web, withCache(booted.cache), hold));
        if (i === 0) [boxData, boxCache] = [booted.data, booted.cache];
      }
      restarts.push(await measure(box(boxData, 200 + i), ready, web, withCache(boxCache)));
      if (i < WARM_FIRST_RUNS)
        restartsTrial.push(await measure(box(boxData, 300 + i), ready, web, withCache(trialCache)));
      load.push(loadAverage());
    }
    const floorStart = median(floor.map((f) => f.startMs));
    const floorCpu = median(floor.map((f) => f.cpuMs));
    const limit = 3 * floorStart + median(storeMs);
    const floorRss = median(floor.map((f) => f.rss));
    const of = (xs: Start[], k: keyof Start, unit: string, digits = 0): string =>
      spread(
        xs.map((x) => x[k]),
        unit,
        digits,
      );
    const line = (xs: Start[]): string =>
      `ready (RADIUS answers, READY=1) ${of(xs, 'startMs', 'ms')}, main-thread CPU to ready ${of(xs, 'cpuMs', 'ms')}; web page up ${of(xs, 'webMs', 'ms')}; idle RSS ${of(xs, 'rss', 'MB', 1)}`;
    console.log(
      `environment: ${[...nodeArgs, env.NODE_OPTIONS].join(' ')}, MALLOC_ARENA_MAX=${env.MALLOC_ARENA_MAX}, a code cache directory; ${RUNS} runs each (first start after the warm-up: ${WARM_FIRST_RUNS}), idle ${IDLE_MS / 1000} s; a shared machine (load average ${load.join(' → ')})`,
    );
    console.log(
      `floor node -e setInterval: start ${of(floor, 'startMs', 'ms')}, main-thread CPU ${of(floor, 'cpuMs', 'ms')}, idle RSS ${of(floor, 'rss', 'MB', 1)}`,
    );
    console.log(`store open (LevelDB, empty): ${spread(storeMs, 'ms', 1)}`);
    console.log(`first boot's warm-up (scripts/warm-cache.mjs, a trial start): ${spread(warmUpMs, 'ms')}`);
    console.log(
      `MFA Box first start after first boot's warm-up (empty data directory, key and admin from first boot, caches from the warm-up): ${line(warmFirst)}`,
    );
    console.log(
      `the first start's one code cache rewrite (trial → full): written ${rewrite?.afterS.toFixed(1)} s after its ${IDLE_MS / 1000} s RSS reading; its RSS ${REWRITE_SETTLE_MS / 1000} s after that write: ${rewrite?.rss.toFixed(1)} MB`,
    );
    console.log(
      `MFA Box restart (data from that first start, the full code cache it wrote): ${line(restarts)}`,
    );
    console.log(
      `MFA Box restart on the warm-up's trial code cache (a copy; what restarts ran on before the rewrite; ${WARM_FIRST_RUNS} runs): ${line(restartsTrial)}`,
    );
    console.log(
      `MFA Box truly cold first start (no warm-up: no code cache, config never validated, no admin yet; 1 run): ready ${first.startMs.toFixed(0)} ms, main-thread CPU ${first.cpuMs.toFixed(0)} ms, web page up ${first.webMs.toFixed(0)} ms, idle RSS ${first.rss.toFixed(1)} MB`,
    );
    const verdict = (ok: boolean): string => (ok ? 'OK' : 'OVER');
    for (const [name, xs] of [
      ['restart', restarts],
      ["restart on the warm-up's trial cache", restartsTrial],
      ['first start after warm-up', warmFirst],
      ['truly cold first start', [first]],
    ] as const) {
      const rss = median(xs.map((b) => b.rss));
      const startMs = median(xs.map((b) => b.startMs));
      const cpuMs = median(xs.map((b) => b.cpuMs));
      const webMs = median(xs.map((b) => b.webMs));
      console.log(
        `${name} (median): idle RSS ${rss.toFixed(1)} MB vs target 80 MB: ${verdict(rss < 80)} (${(rss / floorRss).toFixed(1)}× the floor's); ready ${startMs.toFixed(0)} ms vs 3 × floor start + store open = ${limit.toFixed(0)} ms: ${verdict(startMs <= limit)} (${(startMs / floorStart).toFixed(2)}× the floor; main-thread CPU ${(cpuMs / floorCpu).toFixed(2)}× the floor's); web page up ${webMs.toFixed(0)} ms (${(webMs / floorStart).toFixed(1)}× the floor)`,
      );
    }
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
