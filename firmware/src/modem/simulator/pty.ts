/**
 * A pair of linked ptys made by socat: the host side is what a driver, gammu or smstools opens
 * like a USB modem's tty; the simulator opens the other side. Only `mfabox sim` and the pty tests
 * need it (the demo links the simulator in-process); without socat the error says how to install it. socat runs under a small shell
 * guard that kills it when our stdin pipe closes, so it never outlives the Node process, even
 * one killed with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, readlinkSync, rmSync } from 'node:fs';
import { ErrorCode, MfaError } from '../../errors.ts';

const GUARD = `exec 3<&0
socat -d -d "pty,raw,echo=0,link=$1" "pty,raw,echo=0,link=$2" </dev/null &
p=$!
cat <&3 >/dev/null &
c=$!
trap 'kill $p $c 2>/dev/null; wait $p 2>/dev/null; exit 0' TERM INT HUP
wait $c
kill $p 2>/dev/null
wait $p 2>/dev/null
exit 0`;

export class SocatPty {
  private child: ChildProcess | undefined;

  constructor(
    readonly hostPath: string,
    readonly simPath: string,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts socat and resolves once both links exist and data flows. */
  start(timeoutMs = 5000): Promise<void> {
    try {
      for (const p of [this.hostPath, this.simPath])
        // socat reads these inside an address spec, where these characters mean something.
        if (/[,:!"'\\\s]/.test(p))
          throw new MfaError(
            `pty path "${p}" must not contain , : ! quotes, backslashes or spaces`,
            ErrorCode.ModemPortUnavailable,
            {
              field: 'link',
            },
          );
      removeStaleLink(this.hostPath);
      removeStaleLink(this.simPath);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const child = spawn('sh', ['-c', GUARD, 'mfabox-sim-pty', this.hostPath, this.simPath], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    this.child = child;
    return new Promise((resolve, reject) => {
      let err = '';
      const timer = setTimeout(
        () => fail(`socat did not start within ${timeoutMs} ms: ${err.trim()}`),
        timeoutMs,
      );
      const fail = (msg: string): void => {
        clearTimeout(timer);
        child.stderr?.removeAllListeners('data');
        reject(new MfaError(msg, ErrorCode.ModemPortUnavailable));
      };
      child.on('error', (e) => fail(`cannot run socat: ${e.message}`));
      child.on('exit', () =>
        fail(
          /socat: (?:command )?not found/.test(err)
            ? `socat is not installed (the simulator's pty needs it): sudo apt-get install socat`
            : `socat exited: ${err.trim()}`,
        ),
      );
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (d: string) => {
        err += d;
        if (err.includes('starting data transfer loop')) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          child.stderr?.removeAllListeners('data');
          child.stderr?.resume();
          resolve();
        }
      });
    });
  }

  /** Kills socat (the links vanish, like a USB device unplugged) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin?.end();
      child.kill('SIGTERM');
      await exited;
    }
    for (const p of [this.hostPath, this.simPath]) {
      try {
        removeStaleLink(p);
      } catch {
        /* not ours: leave it */
      }
    }
  }
}

/**
 * Removes a link left by a simulator that died, and nothing else: `--link /dev/ttyUSB0` must
 * never delete a real device node or a user's file.
 */
function removeStaleLink(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (st.isSymbolicLink() && readlinkSync(path).startsWith('/dev/pts/')) {
    rmSync(path, { force: true });
    return;
  }
  throw new MfaError(
    `${path} exists and is not a pty link; choose another --link path`,
    ErrorCode.ModemPortUnavailable,
    {
      field: 'link',
    },
  );
}
