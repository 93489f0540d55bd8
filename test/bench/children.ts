/**
 * What the benches share about their processes: the server under test runs in a child of its own
 * (so its CPU and RSS are its own, read from /proc), compiled with esbuild as a release runs, and
 * the child side answers a one-line handshake (ready on stdout, stats on stdin close).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

/**
 * utime and stime of a process apart, in µs (from /proc, in clock ticks of 10 ms); NaN once it is
 * gone. fsync's and the socket calls' kernel work is stime.
 */
export function cpuSplitUs(pid: number): { user: number; system: number; minorFaults: number } {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return { user: Number(f[11]) * 10_000, system: Number(f[12]) * 10_000, minorFaults: Number(f[7]) };
  } catch {
    return { user: NaN, system: NaN, minorFaults: NaN };
  }
}

/**
 * Time a process's threads have run, in µs, to the nanosecond, from each thread's
 * /proc/PID/task/TID/schedstat: the main thread, and all the others as one figure (Node names none
 * of its threads: V8's GC and compiler helpers, libuv's pool with LevelDB's writes and fsync,
 * LevelDB's compaction thread). /proc/PID/stat counts in 10 ms ticks, so a round of 1,700 requests
 * at ~50 µs each (FreeRADIUS's passcode step) read as 8 or 9 ticks, ±12 %. For processes whose
 * threads live as long as the measurement (a thread that exits in between is missed): the bench
 * servers, not slapd. Undefined once the process is gone.
 */
export function runtimeByThreadUs(pid: number): { main: number; others: number } | undefined {
  try {
    const out = { main: 0, others: 0 };
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      out[tid === String(pid) ? 'main' : 'others'] += ns / 1000;
    }
    return out;
  } catch {
    return undefined;
  }
}

/**
 * The second MFA Box of an A/B (`npm run bench -- login`, both steps), measured in the same rounds:
 * MFABOX_BENCH_B_ARGS='--node-flag …' and/or MFABOX_BENCH_B_ENV='{"NAME":"value"}', and/or
 * MFABOX_BENCH_B_TREE=/path/to/another/checkout (with its node_modules): side B then runs that
 * checkout's code, so a change is measured against main in the same rounds. Undefined when none is set.
 */
export function benchSideB():
  { args: string[]; env: Record<string, string>; tree?: string; label: string } | undefined {
  const args = (process.env.MFABOX_BENCH_B_ARGS ?? '').split(' ').filter(Boolean);
  const env = JSON.parse(process.env.MFABOX_BENCH_B_ENV ?? '{}') as Record<string, string>;
  const tree = process.env.MFABOX_BENCH_B_TREE || undefined;
  if (args.length === 0 && Object.keys(env).length === 0 && !tree) return undefined;
  const label = `${tree ? `code of ${tree} ` : ''}${args.join(' ')} ${JSON.stringify(env)}`.trim();
  return { args, env, ...(tree ? { tree } : {}), label };
}

/** utime + stime of a process, in µs; NaN once it is gone. */
export function cpuUs(pid: number): number {
  const c = cpuSplitUs(pid);
  return c.user + c.system;
}

export function rssKb(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssAnon'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * The node arguments that run `test/bench/<name>`: an esbuild bundle when esbuild is there (a
 * release runs compiled JavaScript, and tsx's loader alone adds ~30 MB of RSS), tsx otherwise.
 * The bundle goes inside the checkout so its bare imports (level, pino, ...) resolve.
 */
export async function benchCommand(name: string, tree = root): Promise<{ args: string[]; how: string }> {
  const src = join(tree, 'test', 'bench', name);
  try {
    const esbuild = await import('esbuild');
    const out = join(tree, 'dist', 'bench', name.replace(/\.ts$/, '.mjs'));
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

export interface BenchChild {
  proc: ChildProcess;
  pid: number;
  port: number;
  /** The child's ready line (its port, and whatever else it reported). */
  ready: Record<string, unknown>;
  /** Sends SIGUSR2 and resolves with the next line the child prints (a child that answers it). */
  query(): Promise<Record<string, unknown>>;
  /** Closes its stdin; resolves with what it printed after the ready line (its stats). */
  stop(): Promise<string>;
}

/**
 * Starts a bench server child and waits for its `{"port":…}` line. NODE_OPTIONS and
 * MALLOC_ARENA_MAX are cleared (node's defaults) unless `service` sets them;
 * MFABOX_BENCH_NODE_FLAGS adds node flags (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
 */
export async function startBenchChild(
  cmd: string[],
  env: Record<string, string>,
  service?: Record<string, string>,
): Promise<BenchChild> {
  const flags = (process.env.MFABOX_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const base: NodeJS.ProcessEnv = { ...process.env };
  delete base.NODE_OPTIONS;
  delete base.MALLOC_ARENA_MAX;
  const proc = spawn(process.execPath, [...flags, ...cmd], {
    env: { ...base, MFABOX_LOG_LEVEL: 'warn', ...env, ...service },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  // Every line after the ready one goes to a query() waiting for it, or is kept for stop().
  let buf = '';
  const kept: string[] = [];
  let waiter: ((line: string) => void) | undefined;
  let onReady: ((line: string) => void) | undefined;
  proc.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const take = onReady ?? waiter;
      if (onReady) onReady = undefined;
      else waiter = undefined;
      if (take) take(line);
      else kept.push(line);
    }
  });
  const ready = await new Promise<{ port: number } & Record<string, unknown>>((resolve, reject) => {
    proc.once('exit', (c) => reject(new Error(`bench child exited ${c}`)));
    onReady = (line) => resolve(JSON.parse(line) as { port: number } & Record<string, unknown>);
  });
  return {
    proc,
    pid: proc.pid!,
    port: ready.port,
    ready,
    query: () =>
      new Promise<Record<string, unknown>>((resolve) => {
        waiter = (line) => resolve(JSON.parse(line) as Record<string, unknown>);
        proc.kill('SIGUSR2');
      }),
    stop: () =>
      new Promise<string>((resolve) => {
        proc.removeAllListeners('exit');
        proc.once('exit', () => resolve([...kept, buf].join('\n').trim()));
        proc.stdin.end();
        setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

/**
 * The child's side of the handshake: prints `{port, pid}`, and on stdin close (or SIGTERM) prints
 * `stats()` as one line, runs `close()` and exits.
 */
export function serveBench(
  port: number,
  stats: () => unknown,
  close: () => Promise<void>,
  ready: object = {},
): void {
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const line = JSON.stringify(stats()) + '\n';
    await new Promise<void>((resolve) => process.stdout.write(line, () => resolve()));
    await close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.stdin.on('end', () => void shutdown());
  process.stdin.resume();
  process.stdout.write(JSON.stringify({ ...ready, port, pid: process.pid }) + '\n');
}

/** What test/bench/login-client.ts reports for one load run. */
export interface ClientResult {
  sent: number;
  answered: number;
  lost: number;
  codes: Record<string, number>;
  seconds: number;
  p50: number;
  p99: number;
  /** The client's own CPU (user + system), µs. */
  cpuUs: number;
}

/** One run of the cheap load client (test/bench/login-client.ts) against 127.0.0.1:`port`. */
export function runLoadClient(
  cmd: string[],
  port: number,
  env: Record<string, string>,
): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, cmd, {
      env: { ...process.env, BENCH_PORT: String(port), ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.once('error', reject);
    p.once('exit', (c) =>
      c === 0 ? resolve(JSON.parse(out.trim()) as ClientResult) : reject(new Error(`client exited ${c}`)),
    );
  });
}
