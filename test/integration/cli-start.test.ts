/**
 * `mfabox start --config FILE`, the production entry, as a real process: config errors name the
 * field; a valid config runs the appliance against a modem on a real pty (the simulator).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type ModemSimulator } from '../../firmware/src/modem/simulator/index.ts';
import { q, radclient } from '../helpers/radclient.ts';
import { e2eConfig } from '../helpers/e2e-box.ts';
import { mfaboxEnv, mfaboxScript } from '../helpers/mfabox-entry.ts';

function mfabox(
  args: string[],
  waitFor?: RegExp,
  env: NodeJS.ProcessEnv = { MFABOX_LOG_LEVEL: 'warn' },
): Promise<{ code: number | null; out: string; output: () => string; kill: () => void }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mfaboxScript(), ...args], {
      env: mfaboxEnv({ MFABOX_LOG_LEVEL: undefined, ...env }),
    });
    let out = '';
    const output = (): string => out;
    const kill = (): void => void child.kill('SIGTERM');
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (waitFor?.test(out)) resolve({ code: null, out, output, kill });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => resolve({ code, out, output, kill }));
  });
}

describe('mfabox start --config', () => {
  let dir: string;
  let sim: ModemSimulator;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-cli-'));
    sim = await startSimulator({ profile: 'generic', smsDelayMs: 50 });
  });
  afterAll(async () => {
    await sim?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a config with a clear error naming every bad field, exit 1', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(
      file,
      JSON.stringify({ radius: { clients: [{ name: 'ns', address: '10.0.0.1' }] }, passcode: { length: 3 } }),
    );
    const r = await mfabox(['start', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('radius.clients.0.secret');
    expect(r.out).toContain('passcode.length');
  });

  it('refuses JSON that does not parse and a missing file, naming the file', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '{ "radius": ');
    const broken = await mfabox(['start', '--config', file]);
    expect(broken.code).toBe(1);
    expect(broken.out).toContain('not valid JSON');
    const missing = await mfabox(['start', '--config', join(dir, 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.out).toContain('nope.json');
  });

  it('prints usage with exit 2 for a missing --config and an unknown command', async () => {
    const missing = await mfabox(['start']);
    expect(missing.code).toBe(2);
    expect(missing.out).toContain('start: --config (or MFABOX_CONFIG) FILE is required');
    const unknown = await mfabox(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toContain('Usage: mfabox');
  });

  it('answers --help on a command group and refuses a misspelt flag naming the known ones', async () => {
    const help = await mfabox(['modem', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^ {2}probe\s+Print the modem identity/m);
    expect(help.out).toMatch(/^ {2}send\s+Send one SMS/m);
    const typo = await mfabox(['directory', 'sync', '--config', 'x.json', '--confim']);
    expect(typo.code).toBe(2);
    expect(typo.out).toContain('unknown option --confim (did you mean --config or --confirm?)');
  });

  // Issue 9 §2: production `start` never uses the demo directory (its users' passwords are
  // published). With it, or with no directory, the box runs in setup mode: web page and health
  // up, every login refused with a Reply-Message saying so, health saying what is missing.
  it('with the demo directory in its config runs in setup mode: logins refused, health says why', async () => {
    const file = join(dir, 'demo-dir.json');
    await writeFile(
      file,
      JSON.stringify(
        e2eConfig(
          dir,
          'cli-test-secret-123',
          {
            directory: { kind: 'demo', syncIntervalMinutes: 0 },
            modems: [{ name: 'usb0', path: sim.path }],
          },
          { name: 'ns' },
        ),
      ),
    );
    // The config says warn; MFABOX_LOG_LEVEL=info must win, as it does for the demo.
    const run = await mfabox(['start', '--config', file], /RADIUS\s+udp 127\.0\.0\.1:\d+[\s\S]*Web\s+http/, {
      MFABOX_LOG_LEVEL: 'info',
    });
    try {
      const port = Number(/RADIUS\s+udp 127\.0\.0\.1:(\d+)/.exec(run.out)?.[1]);
      expect(port).toBeGreaterThan(1023);
      expect(port).toBeLessThan(65536);
      const sent: string[] = [];
      sim.inbox.on('sms', (m) => sent.push(m.text));
      // alice/alice-pass is a published demo login: it must not even reach a password check.
      const step1 = await radclient(`127.0.0.1:${port}`, 'cli-test-secret-123', [
        ['User-Name', q('alice')],
        ['User-Password', q('alice-pass')],
        ['Message-Authenticator', '0x00'],
      ]);
      expect(step1.code).toBe('Access-Reject');
      expect(step1.attributes.get('Reply-Message')).toEqual([
        'MFA Box is not configured yet: ask the administrator',
      ]);
      // Health says what is missing; the start log carries the same list.
      expect(run.output()).toContain('the demo directory works only in `mfabox demo`: configure a directory');
      expect(sent).toEqual([]);
      expect(run.output()).toMatch(/"level":30,[^\n]*"msg":"MFA Box started"/);
    } finally {
      run.kill();
    }
  });

  it('with no directory, no RADIUS client and no modem runs in setup mode and says what is missing', async () => {
    const file = join(dir, 'empty.json');
    await writeFile(
      file,
      JSON.stringify({
        dataDir: join(dir, 'data-empty'),
        deviceKeyFile: join(dir, 'device-empty.key'),
        radius: { listen: [{ address: '127.0.0.1', port: 0 }], accountingPort: 0 },
        web: { address: '127.0.0.1', port: 0 },
      }),
    );
    const run = await mfabox(['start', '--config', file], /Web\s+\S+/);
    try {
      const out = run.output();
      expect(out).toContain('setup mode: every RADIUS login is refused until configured');
      for (const gap of ['no directory configured', 'no RADIUS client configured', 'no modem configured'])
        expect(out).toContain(gap);
    } finally {
      run.kill();
    }
  });
});
