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
 * Two kinds of start are measured:
 *  - a normal (re)start: an existing data directory and the code cache an earlier start wrote,
 *    what every boot of a box in service does; the targets are judged on this one;
 *  - the first start: an empty data directory and no code cache (device key, first admin
 *    password, cache written after it), what the first boot of a new box does once.
 * Targets (issue 11): idle RSS < 80 MB; ready within 3 × the floor's start + the store's open.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../../firmware/src/modem/simulator/index.ts';
import { openStore } from '../../firmware/src/store/store.ts';
import { buildBoxInto, writeStartConfig } from '../helpers/built-box.ts';
import { serviceEnvironment, serviceNodeArgs } from './service-env.ts';

const RUNS = 5;
const IDLE_MS = 5000;

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

/** Spawns, waits for `ready` (and `web`) on stdout, idles, reads RSS, stops. */
async function measure(args: string[], ready: RegExp, web: RegExp, env: NodeJS.ProcessEnv): Promise<Start> {
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
    return { startMs, cpuMs, webMs, rss: rssMb(child.pid ?? 0) };
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
    const storeMs: number[] = [];
    // The first start: empty data directory, no code cache (it writes one about 1 s after it started).
    const first = await measure(box(join(dir, 'data'), 0), ready, web, env);
    for (let i = 0; i < RUNS; i++) {
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
      restarts.push(await measure(box(join(dir, 'data'), i + 1), ready, web, env));
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
    console.log(
      `environment: ${[...nodeArgs, env.NODE_OPTIONS].join(' ')}, MALLOC_ARENA_MAX=${env.MALLOC_ARENA_MAX}, a code cache directory; ${RUNS} runs each, idle ${IDLE_MS / 1000} s; a shared machine (load average ${load.join(' → ')})`,
    );
    console.log(
      `floor node -e setInterval: start ${of(floor, 'startMs', 'ms')}, main-thread CPU ${of(floor, 'cpuMs', 'ms')}, idle RSS ${of(floor, 'rss', 'MB', 1)}`,
    );
    console.log(`store open (LevelDB, empty): ${spread(storeMs, 'ms', 1)}`);
    console.log(
      `MFA Box restart (data and code cache from an earlier start): ready (RADIUS answers, READY=1) ${of(restarts, 'startMs', 'ms')}, main-thread CPU to ready ${of(restarts, 'cpuMs', 'ms')}; web page up ${of(restarts, 'webMs', 'ms')}; idle RSS ${of(restarts, 'rss', 'MB', 1)}`,
    );
    console.log(
      `MFA Box first start (empty data directory, no code cache, config not validated before; once per box, 1 run): ready ${first.startMs.toFixed(0)} ms, main-thread CPU ${first.cpuMs.toFixed(0)} ms, web page up ${first.webMs.toFixed(0)} ms, idle RSS ${first.rss.toFixed(1)} MB`,
    );
    const rss = median(restarts.map((b) => b.rss));
    const startMs = median(restarts.map((b) => b.startMs));
    const cpuMs = median(restarts.map((b) => b.cpuMs));
    const webMs = median(restarts.map((b) => b.webMs));
    const verdict = (ok: boolean): string => (ok ? 'OK' : 'OVER');
    console.log(
      `idle RSS (restart, median) ${rss.toFixed(1)} MB vs target 80 MB: ${verdict(rss < 80)} (${(rss / floorRss).toFixed(1)}× the floor's); first start ${first.rss.toFixed(1)} MB: ${verdict(first.rss < 80)}`,
    );
    console.log(
      `ready (restart, median) ${startMs.toFixed(0)} ms vs 3 × floor start + store open = ${limit.toFixed(0)} ms: ${verdict(startMs <= limit)} (${(startMs / floorStart).toFixed(1)}× the floor; main-thread CPU ${(cpuMs / floorCpu).toFixed(1)}× the floor's); first start ${first.startMs.toFixed(0)} ms: ${verdict(first.startMs <= limit)} (${(first.startMs / floorStart).toFixed(1)}×); web page up ${webMs.toFixed(0)} ms (${(webMs / floorStart).toFixed(1)}× the floor)`,
    );
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
