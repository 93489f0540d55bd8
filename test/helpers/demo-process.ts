/** Starts `mfabox demo` as a child process on ephemeral ports and a temp data dir. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mfaboxEnv, mfaboxScript } from './mfabox-entry.ts';

export interface DemoProcess {
  child: ChildProcess;
  dataDir: string;
  radiusPort: number;
  webUrl: string;
  /** Every `SMS to <number>: <text>` line printed so far. */
  sms: { to: string; text: string }[];
  stdout: () => string;
  /** Everything logged so far (pino JSON lines on stderr). */
  stderr: () => string;
  waitForSms(count: number, timeoutMs?: number): Promise<{ to: string; text: string }>;
  stop(): Promise<number | null>;
}

export async function startDemo(extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<DemoProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mfabox-demo-'));
  const child = spawn(
    process.execPath,
    [
      mfaboxScript(),
      'demo',
      '--radius-port',
      '0',
      '--acct-port',
      '0',
      '--web-port',
      '0',
      '--data-dir',
      dataDir,
      ...extraArgs,
    ],
    { env: mfaboxEnv(env), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  const sms: { to: string; text: string }[] = [];
  const waiters: (() => void)[] = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const m of d.matchAll(/^SMS to (\S+): (.*)$/gm)) sms.push({ to: m[1] ?? '', text: m[2] ?? '' });
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));

  const ready = await new Promise<{ radiusPort: number; webUrl: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start:\n${out}\n${err}`)), 30_000);
    const check = (): void => {
      const r = /RADIUS\s+udp 127\.0\.0\.1:(\d+)/.exec(out);
      const w = /Web\s+(http:\/\/\S+)/.exec(out);
      if (r && w && out.includes('Press Ctrl-C')) {
        clearTimeout(timer);
        resolve({ radiusPort: Number(r[1]), webUrl: w[1] ?? '' });
      } else waiters.push(check);
    };
    child.once('exit', (code) => reject(new Error(`demo exited ${code}:\n${out}\n${err}`)));
    check();
  });

  return {
    child,
    dataDir,
    ...ready,
    sms,
    stdout: () => out,
    stderr: () => err,
    waitForSms(count, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no SMS #${count} within ${timeoutMs} ms:\n${out}\n${err}`)),
          timeoutMs,
        );
        const check = (): void => {
          const m = sms[count - 1];
          if (m) {
            clearTimeout(timer);
            resolve(m);
          } else waiters.push(check);
        };
        check();
      });
    },
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      child.kill('SIGTERM');
      const code = await exited;
      await rm(dataDir, { recursive: true, force: true });
      await rm(`${dataDir}.config.json`, { force: true });
      await rm(`${dataDir}.device.key`, { force: true });
      await rm(`${dataDir}.config.json.history`, { recursive: true, force: true });
      return code;
    },
  };
}
