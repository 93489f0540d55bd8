/**
 * Issue 9 §1: the demo needs no system tool the README does not install. The demo runs with a
 * PATH whose `socat` is a trap (it leaves a mark and fails) and no other tool: the login still
 * works end to end, radclient → demo → simulator (in-process serialport link) → handset inbox,
 * and the trap was never touched. If the demo still spawned socat (or anything else), the
 * login would fail or the mark would be there.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type DemoProcess } from '../helpers/demo-process.ts';
import { q, radclient } from '../helpers/radclient.ts';

describe('demo without socat (in-process modem link)', () => {
  const bin = mkdtempSync(join(tmpdir(), 'mfabox-nosocat-'));
  const mark = join(bin, 'socat-was-run');
  let demo: DemoProcess;
  beforeAll(async () => {
    writeFileSync(join(bin, 'socat'), `#!/bin/sh\ntouch '${mark}'\necho 'socat: not found' >&2\nexit 127\n`);
    chmodSync(join(bin, 'socat'), 0o755);
    // sh is there so that a pty made the old way would reach the trap, not fail for want of a shell.
    symlinkSync('/bin/sh', join(bin, 'sh'));
    demo = await startDemo(['--sms-ms', '100'], { PATH: bin });
  });
  afterAll(async () => {
    expect(await demo.stop()).toBe(0);
    rmSync(bin, { recursive: true, force: true });
  });

  it('logs in with the passcode read from the simulator inbox, and never runs socat', async () => {
    const target = `127.0.0.1:${demo.radiusPort}`;
    const login = (password: string, state?: string) =>
      radclient(target, 'mfabox-demo-secret', [
        ['User-Name', q('alice')],
        ['User-Password', q(password)],
        ...(state ? ([['State', state]] as [string, string][]) : []),
        ['Message-Authenticator', '0x00'],
      ]);
    const step1 = await login('alice-pass');
    expect(step1.code).toBe('Access-Challenge');
    const sms = await demo.waitForSms(1);
    expect(sms.to).toBe('+15550000001');
    const code = /\b(\d{6})\b/.exec(sms.text)?.[1] ?? '';
    expect(code).toMatch(/^\d{6}$/);
    const step2 = await login(code, step1.attributes.get('State')?.[0]);
    expect(step2.code).toBe('Access-Accept');
    expect(existsSync(mark)).toBe(false);
    expect(demo.stdout()).toMatch(/Modem\s+simulator \(generic\) on in-process:generic/);
  });
});
