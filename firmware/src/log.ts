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
] as const;

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const f of SECRET_FIELDS) paths.push(f, `*.${f}`, `*.*.${f}`);
  return paths;
}

let root: Logger | undefined;

export interface LogOptions {
  level?: string;
  /** Where log lines go; stderr by default so stdout stays for command output. */
  destination?: NodeJS.WritableStream;
}

export function configureLogging(opts: LogOptions = {}): Logger {
  root = pino(
    {
      level: opts.level ?? process.env.MFABOX_LOG_LEVEL ?? 'info',
      redact: { paths: redactPaths(), censor: '[redacted]' },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (opts.destination ?? process.stderr) as pino.DestinationStream,
  );
  return root;
}

/** A namespaced logger, e.g. `logger('modem:at')` logs with name `mfabox:modem:at`. */
export function logger(area: string): Logger {
  root ??= configureLogging({
    level: process.env.MFABOX_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
  });
  return root.child({ name: `mfabox:${area}` });
}
