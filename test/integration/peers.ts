/**
 * Starts a peer script (scripts/start-slapd.sh, scripts/start-samba-ad.sh), waits for READY and
 * returns its KEY=VALUE facts. The script stops its daemon on SIGTERM, and on its own when this
 * test process is gone (WATCH_PID), so no daemon outlives a test run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FACTS = [
  'LDAP_URL',
  'LDAPS_URL',
  'CA_FILE',
  'WRONG_CA_FILE',
  'BASE',
  'ADMIN_DN',
  'ADMIN_UPN',
  'ADMIN_PW',
  'SERVICE_DN',
  'SERVICE_UPN',
  'SERVICE_PW',
  'USER_PW',
  'GROUP_DN',
  'REALM',
  'DOMAIN',
  'DIR',
  'SLAPD_PID',
] as const;
export type Facts = Record<(typeof FACTS)[number], string>;

export interface Peer {
  /** What the script printed; a fact it did not print is ''. */
  facts: Facts;
  stop(): Promise<void>;
}

export async function startPeer(
  script: string,
  env: Record<string, string> = {},
  timeoutMs = 90_000,
): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'mfabox-peer-'));
  const child: ChildProcess = spawn('bash', [script], {
    env: { ...process.env, ...env, DIR: join(dir, 'peer'), WATCH_PID: String(process.pid) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const printed = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script}: not READY after ${timeoutMs} ms\n${err}`)),
      timeoutMs,
    );
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (/^READY$/m.test(out)) {
        clearTimeout(timer);
        const f: Record<string, string> = {};
        for (const line of out.split('\n')) {
          const eq = line.indexOf('=');
          if (eq > 0) f[line.slice(0, eq)] = line.slice(eq + 1);
        }
        resolve(f);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before READY\n${err}`));
    });
  });
  const facts = Object.fromEntries(FACTS.map((k) => [k, printed[k] ?? ''])) as Facts;
  return {
    facts,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
