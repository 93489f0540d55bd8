/**
 * systemd's notify protocol: READY=1 once the box serves, WATCHDOG=1 pings from the event loop,
 * STOPPING=1 on shutdown. Node has no AF_UNIX datagram socket, so each message goes through a
 * short-lived `systemd-notify` child, which waits until systemd has read it (its default
 * barrier); the unit sets NotifyAccess=all so a child's message counts. Outside systemd
 * (NOTIFY_SOCKET unset: a laptop, the demo, tests) nothing is sent.
 */
import { execFile } from 'node:child_process';
import { logger } from '../log.ts';

export type NotifyRunner = (args: string[]) => Promise<void>;

export interface SdNotifyOptions {
  env?: NodeJS.ProcessEnv;
  /** Sends one message; default runs `systemd-notify ARGS`. */
  run?: NotifyRunner;
  /** Timers, injected for tests. */
  setInterval?: (fn: () => void, ms: number) => { unref?(): void };
  clearInterval?: (t: unknown) => void;
}

export interface SdNotifier {
  /** True when systemd listens (NOTIFY_SOCKET is set). */
  readonly active: boolean;
  /** The ping interval in ms (half of WatchdogSec), or undefined without a watchdog. */
  readonly watchdogIntervalMs: number | undefined;
  ready(status?: string): Promise<void>;
  stopping(): Promise<void>;
  /** Starts the pings. They run on the event loop, so a stalled loop stops them: the point. */
  startWatchdog(): void;
  stopWatchdog(): void;
}

const log = logger('sd-notify');

const defaultRun: NotifyRunner = (args) =>
  new Promise((resolve, reject) => {
    execFile('systemd-notify', args, { timeout: 5000 }, (err) =>
      err ? reject(new Error(err.message)) : resolve(),
    );
  });

export function sdNotifier(opts: SdNotifyOptions = {}): SdNotifier {
  const env = opts.env ?? process.env;
  const run = opts.run ?? defaultRun;
  const every = opts.setInterval ?? ((fn: () => void, ms: number) => setInterval(fn, ms));
  const clear = opts.clearInterval ?? ((t: unknown) => clearInterval(t as NodeJS.Timeout));
  const active = Boolean(env.NOTIFY_SOCKET);
  // WATCHDOG_PID names the process systemd watches; a child (a worker, a test) must not ping.
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
  const watchdogIntervalMs = active && forUs && usec > 0 ? Math.max(500, Math.floor(usec / 2000)) : undefined;
  let timer: unknown;
  let failedOnce = false;

  const send = async (args: string[]): Promise<void> => {
    if (!active) return;
    try {
      await run(args);
      failedOnce = false;
    } catch (e) {
      // One line per run of failures: a missing systemd-notify must not flood the journal.
      if (!failedOnce) log.warn({ err: String(e), message: args.join(' ') }, 'systemd-notify failed');
      failedOnce = true;
    }
  };

  return {
    active,
    watchdogIntervalMs,
    ready: (status) => send(status ? ['--ready', `--status=${status}`] : ['--ready']),
    stopping: () => send(['STOPPING=1']),
    startWatchdog() {
      if (watchdogIntervalMs === undefined || timer !== undefined) return;
      const t = every(() => void send(['WATCHDOG=1']), watchdogIntervalMs);
      t.unref?.();
      timer = t;
    },
    stopWatchdog() {
      if (timer !== undefined) clear(timer);
      timer = undefined;
    },
  };
}
