/**
 * A second real AT client: Debian's smstools daemon (smsd) sends spool files through the
 * simulator's pty, as it would through a USB modem.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator, type ModemSimulator } from '../../firmware/src/modem/simulator/index.ts';

const SMSD = '/usr/sbin/smsd';
// smsd forks modem handlers; the guard stops it when this process's pipe closes, however we die.
const GUARD = `"$@" </dev/null & p=$!
cat >/dev/null
kill $p 2>/dev/null
wait $p 2>/dev/null`;

let sim: ModemSimulator | undefined;
let smsd: ChildProcess | undefined;
let dir = '';
afterAll(async () => {
  if (smsd && smsd.exitCode === null) {
    const exited = new Promise((r) => smsd?.once('exit', r));
    smsd.stdin?.end();
    await exited;
  }
  await sim?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Missing only counts as a skip when the run was told not to install peers; otherwise the
// peer script installed it, and its absence must fail the run rather than pass it silently.
const peersSkipped = process.env.MFABOX_SKIP_PEERS === '1';

describe.skipIf(!existsSync(SMSD) && peersSkipped)(
  'smstools (smsd) sends through the modem simulator',
  () => {
    it('sends every spooled message; the handset shows them and smsd files them as sent', async () => {
      sim = await startSimulator({
        profile: 'sim7600',
        smsDelayMs: 30,
        profileOverrides: { bootUrcs: [], simBusyAfterBootMs: 0 },
      });
      dir = mkdtempSync(join(tmpdir(), 'mfabox-smsd-'));
      for (const d of ['outgoing', 'checked', 'failed', 'sent', 'incoming']) mkdirSync(join(dir, d));
      writeFileSync(
        join(dir, 'smsd.conf'),
        [
          'devices = GSM1',
          ...['outgoing', 'checked', 'failed', 'sent', 'incoming'].map((d) => `${d} = ${join(dir, d)}`),
          `logfile = ${join(dir, 'smsd.log')}`,
          'loglevel = 7',
          `infofile = ${join(dir, 'smsd.working')}`,
          `pidfile = ${join(dir, 'smsd.pid')}`,
          '',
          '[GSM1]',
          `device = ${sim.path}`,
          'incoming = no',
          'baudrate = 115200',
          '',
        ].join('\n'),
      );
      const texts = ['Your code is 123456', 'Kod: 654321 — ważny 5 min'];
      texts.forEach((t, i) =>
        writeFileSync(
          join(dir, 'outgoing', `msg${i}`),
          `To: 15550000001\n${/[^\x20-\x7e]/.test(t) ? 'Alphabet: UTF-8\n' : ''}\n${t}`,
        ),
      );
      smsd = spawn('sh', ['-c', GUARD, 'smsd-guard', SMSD, '-c', join(dir, 'smsd.conf'), '-t'], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      const deadline = Date.now() + 25_000;
      while (sim.inbox.messages.length < texts.length && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      // smsd takes a number without "+" as international (its default), as it should.
      // smsd picks spool files in its own order.
      expect(sim.inbox.messages.map((m) => [m.to, m.text]).sort()).toEqual(
        texts.map((t) => ['+15550000001', t]).sort(),
      );
      // smsd holds a `<file>.LOCK` beside a file while it moves it: filed means no lock left.
      const sent = (): string[] => readdirSync(join(dir, 'sent')).sort();
      const filed = (files = sent()): boolean =>
        files.length >= texts.length && !files.some((f) => f.endsWith('.LOCK'));
      while (!filed() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(sent()).toEqual(['msg0', 'msg1']);
      expect(readdirSync(join(dir, 'failed'))).toEqual([]);
    }, 40_000);
  },
);
