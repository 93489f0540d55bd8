/**
 * The assembled appliance for the reliability suite: `mfabox start` as a child process under the
 * systemd unit's memory flags, the simulator's modems on real ptys, a real slapd, and radclient as
 * the NAS. Scenarios get a `Box` they can kill -9, restart, starve of disk or feed garbage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type ModemSimulator } from '../../firmware/src/modem/simulator/index.ts';
import { descriptorKinds } from './descriptors.ts';
import { serviceEnvironment } from '../bench/service-env.ts';
import { startPeer, type Peer } from '../integration/peers.ts';
import { mfaboxEnv, mfaboxScript } from '../helpers/mfabox-entry.ts';

export const SECRET = 'reliability-nas-secret-0123456789';
export const MONITOR_TOKEN = 'reliability-monitor-token-0123456789';
export const ROOT = join(import.meta.dirname, '..', '..');
const PRELOAD = join(import.meta.dirname, 'write-log-preload.mjs');

export interface DirectoryPeer {
  peer: Peer;
  /** The LDAP URL the box is given (StartTLS, CA pinned). */
  url: string;
  password: string;
  /** bulk users: `bulk00001` … with mobile +4915199000001 … */
  users: number;
}

/** A slapd with `users` bulk users, all in the MFA group, each with a mobile number. */
export async function startDirectory(users = 200): Promise<DirectoryPeer> {
  // slapd's stats log (every operation) lets a scenario count binds as the DC saw them.
  const peer = await startPeer(join(ROOT, 'scripts/start-slapd.sh'), {
    BULK_USERS: String(users),
    SLAPD_DEBUG: '256',
  });
  return { peer, url: peer.facts.LDAP_URL, password: peer.facts.USER_PW, users };
}

/** Simple binds slapd logged for `user` (its uid), from the stats log. */
export function bindsFor(dir: DirectoryPeer, user: string): number {
  const log = readFileSync(join(dir.peer.facts.DIR, 'slapd.log'), 'utf8');
  // slapd logs each bind twice (request, then result with mech=); count the requests.
  return (log.match(new RegExp(`BIND dn="uid=${user},[^"]*" method=`, 'g')) ?? []).length;
}

export function bulkUser(i: number): { name: string; number: string } {
  const n = String(i).padStart(5, '0');
  return { name: `bulk${n}`, number: `+4915199${String(i).padStart(6, '0')}` };
}

export async function startModems(n: number, smsDelayMs = 150): Promise<ModemSimulator[]> {
  const sims: ModemSimulator[] = [];
  for (let i = 0; i < n; i++) sims.push(await startSimulator({ profile: 'generic', smsDelayMs }));
  return sims;
}

export interface BoxOptions {
  dir: DirectoryPeer;
  /** The directory's URLs, if not just the one slapd (e.g. a dead first DC, then slapd). */
  directoryUrls?: string[];
  sims: ModemSimulator[];
  /** Merged over the generated config (shallow per top-level key). */
  config?: Record<string, unknown>;
  /** Where dataDir lives (a small tmpfs for the disk-full scenario); default a temp dir. */
  dataDir?: string;
  env?: Record<string, string>;
}

export interface Box {
  readonly root: string;
  readonly configFile: string;
  readonly dataDir: string;
  readonly writeLog: string;
  radiusPort: number;
  webUrl: string;
  child: ChildProcess;
  pid(): number;
  out(): string;
  /** Starts (or restarts) the process and waits until RADIUS listens. */
  start(): Promise<void>;
  /** SIGKILL: a power cut as far as the process is concerned. */
  kill9(): Promise<void>;
  /** SIGTERM and wait for a clean exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** RSS in kB and open descriptors, from /proc. */
  footprint(): Footprint;
  cleanup(): Promise<void>;
}

export interface Footprint {
  /** VmRSS in kB: the process's own memory (RssAnon) plus the file pages it maps (RssFile). */
  rssKb: number;
  anonKb: number;
  /** Mapped file pages: code, and LevelDB's memory-mapped table files, which the kernel can drop. */
  fileKb: number;
  fds: number;
  fdKinds: Record<string, number>;
}

export async function makeBox(o: BoxOptions): Promise<Box> {
  const root = await mkdtemp(join(tmpdir(), 'mfabox-rel-'));
  const dataDir = o.dataDir ?? join(root, 'data');
  await mkdir(dataDir, { recursive: true });
  const configFile = join(root, 'config.json');
  const writeLog = join(root, 'writes.jsonl');
  const config: Record<string, unknown> = {
    dataDir,
    deviceKeyFile: join(root, 'device.key'),
    radius: {
      listen: [{ address: '127.0.0.1', port: 0 }],
      accountingPort: await freeUdpPort(),
      clients: [
        { name: 'netscaler', address: '127.0.0.1', secret: SECRET, requireMessageAuthenticator: 'yes' },
      ],
    },
    directory: {
      kind: 'ldap',
      dialect: 'openldap',
      urls: o.directoryUrls ?? [o.dir.url],
      caFile: o.dir.peer.facts.CA_FILE,
      baseDn: o.dir.peer.facts.BASE,
      bindDn: o.dir.peer.facts.SERVICE_DN,
      bindPassword: o.dir.peer.facts.SERVICE_PW,
      syncIntervalMinutes: 0,
    },
    // The SIM's top send rate: these scenarios test failover and recovery, not the rate limit.
    modems: o.sims.map((s, i) => ({ name: `gsm${i}`, path: s.path, maxPerMinute: 60 })),
    // Plain HTTP on loopback, and the read-only monitoring token the suite reads health with.
    web: { address: '127.0.0.1', port: 0, tls: false, monitorToken: MONITOR_TOKEN },
    log: { level: 'warn' },
    ...o.config,
  };
  await writeFile(configFile, JSON.stringify(config, null, 2));

  let child: ChildProcess | undefined;
  let out = '';
  const box: Box = {
    root,
    configFile,
    dataDir,
    writeLog,
    radiusPort: 0,
    webUrl: '',
    get child(): ChildProcess {
      if (!child) throw new Error('box not started');
      return child;
    },
    pid: () => child?.pid ?? 0,
    out: () => out,
    async start() {
      out = '';
      const env = mfaboxEnv({ ...serviceEnvironment(), MFABOX_TEST_WRITE_LOG: writeLog, ...o.env });
      // The unit's NODE_OPTIONS (heap limits) plus the test-only write recorder.
      env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --import ${PRELOAD}`.trim();
      const c = spawn(process.execPath, [mfaboxScript(), 'start', '--config', configFile], {
        env,
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      c.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`box did not start in 60 s:\n${out}`)), 60_000);
        const tick = setInterval(() => {
          const r = /RADIUS\s+udp 127\.0\.0\.1:(\d+)/.exec(out);
          const w = /Web\s+(https?:\/\/\S+)/.exec(out);
          if (r && w) {
            clearTimeout(timer);
            clearInterval(tick);
            box.radiusPort = Number(r[1]);
            box.webUrl = w[1] ?? '';
            resolve();
          }
        }, 50);
        c.once('exit', (code, sig) => {
          clearTimeout(timer);
          clearInterval(tick);
          reject(new Error(`box exited (${code ?? sig}) before it was ready:\n${out}`));
        });
      });
    },
    async kill9() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    },
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return c?.exitCode ?? null;
      const gone = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
      c.kill('SIGTERM');
      return gone;
    },
    footprint() {
      const pid = box.pid();
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      const rssKb = kb('VmRSS');
      const { fds, kinds } = descriptorKinds(pid, dataDir);
      return { rssKb, anonKb: kb('RssAnon'), fileKb: kb('RssFile'), fds, fdKinds: kinds };
    },
    async cleanup() {
      await box.kill9();
      await rm(root, { recursive: true, force: true });
    },
  };
  return box;
}

/** Every LevelDB write the box made that touched `sublevel`, and whether it was fsynced. */
export function writesTo(box: Box, sublevel: string): { total: number; unsynced: number } {
  if (!existsSync(box.writeLog)) return { total: 0, unsynced: 0 };
  let total = 0;
  let unsynced = 0;
  for (const line of readFileSync(box.writeLog, 'utf8').split('\n')) {
    if (!line) continue;
    const w = JSON.parse(line) as { subs: string[]; sync: boolean };
    if (!w.subs.includes(sublevel)) continue;
    total++;
    if (!w.sync) unsynced++;
  }
  return { total, unsynced };
}

/** One line per scenario, as the issue asks: name, pass/fail, figures. */
export function report(name: string, pass: boolean, figures: Record<string, number | string>): string {
  const f = Object.entries(figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const line = `reliability: ${name.padEnd(22)} ${pass ? 'PASS' : 'FAIL'}  ${f}`;
  console.log(line);
  return line;
}

/** A UDP port free right now (accounting has no "0 = ephemeral": 0 turns it off). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
