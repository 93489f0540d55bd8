/**
 * Debian's smstools daemon (smsd 3.1.21) as the peer for the modem benchmark: a self-contained
 * smsd.conf in a temp dir with its fastest documented settings, an outgoing spool fed by
 * rename (as `trust_outgoing = yes` requires), run in the foreground as the current user.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Smsd {
  dir: string;
  /** Drops one message into the outgoing spool (temp file + rename). */
  queue(to: string, text: string): Promise<void>;
  /** Files smsd moved to its sent folder. */
  sentCount(): Promise<number>;
  failedCount(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSmsd(dir: string, devicePath: string): Promise<Smsd> {
  const d = (n: string): string => join(dir, n);
  for (const n of ['outgoing', 'checked', 'incoming', 'sent', 'failed', 'tmp'])
    await mkdir(d(n), { recursive: true });
  const conf = [
    'devices = GSM1',
    `outgoing = ${d('outgoing')}`,
    `checked = ${d('checked')}`,
    `incoming = ${d('incoming')}`,
    `sent = ${d('sent')}`,
    `failed = ${d('failed')}`,
    `logfile = ${d('smsd.log')}`,
    `infofile = ${d('smsd.working')}`,
    `pidfile = ${d('smsd.pid')}`,
    'loglevel = 5',
    'logtime_ms = yes',
    // The fastest documented settings: spool files are trusted (created by rename), and the
    // main process and modem process look for work every second (the smallest value).
    'trust_outgoing = yes',
    'delaytime = 1',
    'delaytime_mainprocess = 1',
    'sleeptime_mainprocess = 1',
    '',
    '[GSM1]',
    `device = ${devicePath}`,
    'baudrate = 115200',
    'incoming = no',
    'poll_faster = 50',
    'detect_unexpected_input = no',
    'check_network = 0',
    '',
  ].join('\n');
  await writeFile(d('smsd.conf'), conf);
  const child: ChildProcess = spawn('/usr/sbin/smsd', ['-t', '-c', d('smsd.conf')], {
    stdio: ['ignore', 'ignore', 'ignore'],
    detached: false,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let n = 0;
  const count = async (sub: string): Promise<number> => (await readdir(d(sub))).length;
  return {
    dir,
    async queue(to, text) {
      const name = `mfabox-${process.pid}-${n++}`;
      await writeFile(d(`tmp/${name}`), `To: ${to.replace(/^\+/, '')}\n\n${text}`);
      await rename(d(`tmp/${name}`), d(`outgoing/${name}`));
    },
    sentCount: () => count('sent'),
    failedCount: () => count('failed'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}
