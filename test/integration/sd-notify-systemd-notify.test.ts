/**
 * `mfabox start` under a fake systemd: a python3 AF_UNIX datagram socket stands in for
 * NOTIFY_SOCKET and the real Debian `systemd-notify` carries the messages. The box says READY=1,
 * pings WATCHDOG=1 at half of WATCHDOG_USEC from its event loop, and says STOPPING=1 on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeStartConfig } from '../helpers/built-box.ts';

const RECEIVER = `
import socket, os, sys, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    msg, anc, _f, _a = s.recvmsg(4096, socket.CMSG_SPACE(64))
    for lvl, typ, data in anc:
        if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds = array.array("i"); fds.frombytes(data[: len(data) - len(data) % 4])
            for fd in fds: os.close(fd)  # the barrier: systemd-notify waits for this close
    print(msg.decode().replace("\\n", "|"), flush=True)
`;
import { mfaboxEnv, mfaboxScript } from '../helpers/mfabox-entry.ts';

const available = existsSync('/usr/bin/systemd-notify') && existsSync('/usr/bin/python3');

function waitFor(get: () => string, re: RegExp, ms: number): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((res, rej) => {
    const t = setInterval(() => {
      if (re.test(get())) {
        clearInterval(t);
        res();
      } else if (Date.now() > until) {
        clearInterval(t);
        rej(new Error(`timed out waiting for ${re}: ${get()}`));
      }
    }, 50);
  });
}

describe.skipIf(!available)('mfabox start speaks sd_notify through systemd-notify', () => {
  let dir: string;
  let receiver: ChildProcess;
  let got = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-notify-'));
    receiver = spawn('/usr/bin/python3', ['-c', RECEIVER, join(dir, 'notify.sock')]);
    receiver.stdout?.on('data', (d: Buffer) => (got += d.toString()));
    await waitFor(() => got, /bound/, 10_000);
  });
  afterAll(async () => {
    receiver?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('READY=1, then WATCHDOG=1 pings, then STOPPING=1', async () => {
    const cfg = writeStartConfig(join(dir, 'config.json'), join(dir, 'data'));
    const child = spawn(process.execPath, [mfaboxScript(), 'start', '--config', cfg], {
      env: mfaboxEnv({ NOTIFY_SOCKET: join(dir, 'notify.sock'), WATCHDOG_USEC: '1000000' }),
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => got, /READY=1/, 60_000);
      await waitFor(() => got, /WATCHDOG=1[\s\S]*WATCHDOG=1/, 10_000);
      child.kill('SIGTERM');
      await waitFor(() => got, /STOPPING=1/, 20_000);
      expect(got.indexOf('READY=1')).toBeLessThan(got.indexOf('WATCHDOG=1'));
    } catch (e) {
      throw new Error(`${String(e)}\nmfabox output: ${out}`, { cause: e });
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);
});
