/**
 * `npm run bench -- footprint`: the box's idle RSS and start-to-ready time, each against the
 * floor `node -e "setInterval(()=>{},1e9)"` measured in the same run, both under the unit's
 * environment (NODE_OPTIONS heap flags, MALLOC_ARENA_MAX, UV_THREADPOOL_SIZE). The box runs the
 * compiled build (as on a Pi, no tsx) with a simulated modem on a real pty.
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
import { serviceEnvironment } from './service-env.ts';

const RUNS = 3;
const IDLE_MS = 5000;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN) / 1024;
}

/** Spawns, waits for `ready` on stdout, idles, reads RSS, stops. */
async function measure(
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv,
): Promise<{ startMs: number; rss: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  try {
    const startMs = await new Promise<number>((res, rej) => {
      const on = (d: Buffer): void => {
        out += d.toString();
        if (ready.test(out)) res(performance.now() - t0);
      };
      child.stdout.on('data', on);
      child.stderr.on('data', on);
      child.on('exit', (c) => rej(new Error(`exited ${c}: ${out}`)));
    });
    await new Promise((r) => setTimeout(r, IDLE_MS));
    return { startMs, rss: rssMb(child.pid ?? 0) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const spread = (xs: number[], unit: string, digits = 0): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]?.toFixed(digits)} ${unit} (min ${s[0]?.toFixed(digits)}, max ${s[s.length - 1]?.toFixed(digits)})`;
};

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mfabox-footprint-'));
  const sim = await startSimulator({ profile: 'generic', smsDelayMs: 50 });
  try {
    buildBoxInto(dir);
    const env: NodeJS.ProcessEnv = { ...process.env, ...serviceEnvironment(), MFABOX_LEDS: 'none' };
    delete env.MFABOX_FROM_SOURCE;

    const floor: { startMs: number; rss: number }[] = [];
    const box: { startMs: number; rss: number }[] = [];
    const storeMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      floor.push(await measure(['-e', "console.log('ready');setInterval(()=>{},1e9)"], /ready/, env));
      const t = performance.now();
      const store = await openStore(join(dir, `store-${i}`));
      storeMs.push(performance.now() - t);
      await store.close();
      const cfg = writeStartConfig(join(dir, `config-${i}.json`), join(dir, `data-${i}`), [
        { name: 'sim0', path: sim.path },
      ]);
      box.push(await measure([join(dir, 'scripts/mfabox.mjs'), 'start', '--config', cfg], /Web\s+http/, env));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const boxRss = median(box.map((b) => b.rss));
    const floorStart = median(floor.map((f) => f.startMs));
    const limit = 3 * floorStart + median(storeMs);
    const boxStart = median(box.map((b) => b.startMs));
    console.log(
      `environment: ${env.NODE_OPTIONS}, MALLOC_ARENA_MAX=${env.MALLOC_ARENA_MAX}; ${RUNS} runs each, idle ${IDLE_MS / 1000} s; a shared machine`,
    );
    console.log(
      `floor node -e setInterval: start ${spread(
        floor.map((f) => f.startMs),
        'ms',
      )}, idle RSS ${spread(
        floor.map((f) => f.rss),
        'MB',
        1,
      )}`,
    );
    console.log(`store open (LevelDB, empty): ${spread(storeMs, 'ms', 1)}`);
    console.log(
      `MFA Box start → ready: ${spread(
        box.map((b) => b.startMs),
        'ms',
      )}, idle RSS ${spread(
        box.map((b) => b.rss),
        'MB',
        1,
      )}`,
    );
    console.log(
      `idle RSS ${boxRss.toFixed(1)} MB vs target 80 MB: ${boxRss < 80 ? 'OK' : 'OVER'} (${(boxRss / median(floor.map((f) => f.rss))).toFixed(1)}× the floor)`,
    );
    console.log(
      `ready ${boxStart.toFixed(0)} ms vs 3 × floor start + store open = ${limit.toFixed(0)} ms: ${boxStart <= limit ? 'OK' : 'OVER'} (${(boxStart / floorStart).toFixed(1)}× the floor)`,
    );
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
