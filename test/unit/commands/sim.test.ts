/** `mfabox sim` as a user runs it: a child process on a real pty, stopped with SIGTERM. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeSubmit } from '../../../firmware/src/modem/pdu/index.ts';
import { RawClient } from '../modem/simulator/raw-client.ts';
import { mfaboxEnv, mfaboxScript } from '../../helpers/mfabox-entry.ts';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function lines(child: ChildProcess): AsyncIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

describe('mfabox sim', () => {
  it('prints the pty path, one JSON line per wire event and SMS, and stops cleanly on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [mfaboxScript(), 'sim', '--profile', 'sim800', '--sms-ms', '10', '--json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: mfaboxEnv(),
      },
    );
    children.push(child);
    const it = lines(child);
    const ready = JSON.parse((await it.next()).value as string) as {
      kind: string;
      path: string;
      profile: string;
    };
    expect(ready).toMatchObject({ kind: 'ready', profile: 'sim800' });
    expect(existsSync(ready.path)).toBe(true);
    const seen: Array<{ kind: string; t?: number; text?: string; detail?: { line?: string } }> = [];
    // A SIM800 is busy until "SMS Ready", as the real module is.
    for (let r = await it.next(); !r.done; r = await it.next()) {
      seen.push(JSON.parse(r.value) as (typeof seen)[number]);
      if (seen.at(-1)?.detail?.line === 'SMS Ready') break;
    }

    const c = await RawClient.open(ready.path);
    try {
      await c.send('ATE0\r');
      const [p] = encodeSubmit({ to: '+15550000001', text: 'code 123456' });
      await c.send(`AT+CMGS=${p!.tpduLength}\r`, /> $/);
      await c.send(`${p!.hex}\x1a`, /\+CMGS: \d+\r\n\r\nOK\r\n/);
    } finally {
      await c.close();
    }
    for (let r = await it.next(); !r.done; r = await it.next()) {
      const o = JSON.parse(r.value) as (typeof seen)[number];
      seen.push(o);
      if (seen.some((x) => x.kind === 'sms') && seen.some((x) => x.kind === 'submit-done')) break;
    }
    expect(
      seen.map((o) => o.kind),
      JSON.stringify(seen),
    ).toEqual(expect.arrayContaining(['boot', 'cmd', 'cmgs-command', 'submit-done', 'sms']));
    expect(seen.find((o) => o.kind === 'sms')?.text).toBe('code 123456');
    expect(seen.every((o) => typeof o.t === 'number')).toBe(true);

    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(ready.path)).toBe(false);
  });

  it('prints "SMS to <number>: <text>" without --json', async () => {
    const child = spawn(process.execPath, [mfaboxScript(), 'sim', '--sms-ms', '10'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: mfaboxEnv(),
    });
    children.push(child);
    const it = lines(child);
    const first = (await it.next()).value as string;
    const path = /on (\S+)$/.exec(first)?.[1] ?? '';
    const c = await RawClient.open(path);
    try {
      const [p] = encodeSubmit({ to: '+15550000001', text: 'hello €' });
      await c.send(`AT+CMGS=${p!.tpduLength}\r`, /> $/);
      await c.send(`${p!.hex}\x1a`, /OK\r\n$/);
    } finally {
      await c.close();
    }
    expect((await it.next()).value).toBe('SMS to +15550000001: hello €');
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
  });

  it('leaves no pty (and so no socat) behind when killed with SIGKILL', async () => {
    const child = spawn(process.execPath, [mfaboxScript(), 'sim', '--sms-ms', '10'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: mfaboxEnv(),
    });
    children.push(child);
    const first = (await lines(child).next()).value as string;
    const path = /on (\S+)$/.exec(first)?.[1] ?? '';
    expect(existsSync(path)).toBe(true);
    child.kill('SIGKILL');
    // socat runs under a guard that kills it when our pipe closes; socat removes its link on exit.
    const deadline = Date.now() + 3000;
    while (existsSync(path) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(path)).toBe(false);
  });

  it('--list prints every profile with what it reproduces', async () => {
    const { simCommand } = await import('../../../firmware/src/commands/sim.ts');
    const { PROFILES } = await import('../../../firmware/src/modem/simulator/index.ts');
    const out: string[] = [];
    const log = console.log;
    console.log = (s: unknown) => void out.push(String(s));
    try {
      expect(await simCommand.run(['--list'])).toBe(0);
    } finally {
      console.log = log;
    }
    expect(out).toHaveLength(PROFILES.size);
    expect(out.find((l) => l.startsWith('wavecom '))).toContain('without a final OK');
  });

  it('refuses an unknown profile as a usage error (exit code 2)', async () => {
    const child = spawn(process.execPath, [mfaboxScript(), 'sim', '--profile', 'nokia-3310'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: mfaboxEnv(),
    });
    children.push(child);
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    expect(await new Promise((r) => child.once('exit', r))).toBe(2);
    expect(err).toContain('unknown profile "nokia-3310"');
  });
});
