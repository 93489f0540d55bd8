import pino from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/**
 * Field names that carry secrets anywhere in a log object. pino censors them before
 * serialisation, so a careless `log.info({ req })` cannot leak a password, passcode,
 * shared secret, SIM PIN or SMS body (which holds a live passcode).
 */
export const SECRET_FIELDS = [
  'password',
  'userPassword',
  'passcode',
  'secret',
  'sharedSecret',
  'pin',
  'puk',
  'simPin',
  'bindPassword',
  'text',
  'body',
  'pdu',
  'deviceKey',
  'authorization',
  'cookie',
  // The monitor user's password, the rejected-PIN marker's key, a challenge's State (it names a
  // live challenge: replayed with the right code it logs in), token seeds and admin tokens.
  'monitorPassword',
  'pinKey',
  'state',
  'State',
  'seed',
  'monitorToken',
  'token',
] as const;

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const f of SECRET_FIELDS) paths.push(f, `*.${f}`, `*.*.${f}`);
  return paths;
}

let root: Logger | undefined;
/** One logger per area, created on first use: module-level loggers exist before the config is read. */
const children = new Map<string, Logger>();

export interface LogOptions {
  level?: string;
  /** Where log lines go; stderr by default so stdout stays for command output. Only the first call sets it. */
  destination?: NodeJS.WritableStream;
}

function defaultLevel(): string {
  return process.env.MFABOX_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info');
}

function createRoot(opts: LogOptions): Logger {
  return pino(
    {
      level: opts.level ?? defaultLevel(),
      redact: { paths: redactPaths(), censor: '[redacted]' },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (opts.destination ?? process.stderr) as pino.DestinationStream,
  );
}

/** Sets the level of every logger, including those modules created at import time. */
export function configureLogging(opts: LogOptions = {}): Logger {
  root ??= createRoot(opts);
  const level = opts.level ?? defaultLevel();
  root.level = level;
  for (const c of children.values()) c.level = level;
  return root;
}

/** A namespaced logger, e.g. `logger('modem:at')` logs with name `mfabox:modem:at`. */
export function logger(area: string): Logger {
  root ??= createRoot({});
  let child = children.get(area);
  if (!child) {
    child = root.child({ name: `mfabox:${area}` });
    children.set(area, child);
  }
  return child;
}
