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

const SECRET_SET: ReadonlySet<string> = new Set(SECRET_FIELDS);
const CENSOR = '[redacted]';
/**
 * Bounds of the walk, so a huge or deeply nested object cannot stall the event loop from a log
 * call. What lies past them is replaced, not printed: a secret can never hide below the bound.
 */
export const REDACT_MAX_DEPTH = 12;
export const REDACT_MAX_NODES = 5_000;

/** Printed through toJSON (Buffer, Date, …): no fields of their own to walk. */
function printsItself(v: object): boolean {
  return typeof (v as { toJSON?: unknown }).toJSON === 'function';
}

/**
 * A copy of `value` with every secret field censored at any depth (pino's path redaction reaches
 * only the depths it names, and `*` matches one level). Cycles print as '[circular]', as pino's
 * own stringify does. The caller's object is never changed.
 */
export function redactDeep(value: unknown): unknown {
  let nodes = 0;
  const ancestors = new Set<object>();
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v !== 'object' || v === null || printsItself(v)) return v;
    if (ancestors.has(v)) return '[circular]';
    if (depth >= REDACT_MAX_DEPTH) return '[too deep]';
    if (++nodes > REDACT_MAX_NODES) return '[truncated]';
    ancestors.add(v);
    try {
      if (Array.isArray(v)) return v.map((x: unknown) => walk(x, depth + 1));
      // An Error keeps its prototype, message and stack, so pino's err serializer still prints its
      // type and stack; its own fields (an LDAP error may carry the request) are walked like any.
      const out: Record<string, unknown> = v instanceof Error ? errorShell(v) : {};
      for (const [k, x] of Object.entries(v)) out[k] = SECRET_SET.has(k) ? CENSOR : walk(x, depth + 1);
      if (v instanceof Error && v.cause !== undefined) out.cause = walk(v.cause, depth + 1);
      return out;
    } finally {
      ancestors.delete(v);
    }
  };
  return walk(value, 0);
}

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const f of SECRET_FIELDS) paths.push(f, `*.${f}`, `*.*.${f}`);
  return paths;
}

function errorShell(e: Error): Record<string, unknown> {
  const shell = Object.create(Object.getPrototypeOf(e) as object) as Record<string, unknown>;
  shell.message = e.message;
  shell.stack = e.stack;
  return shell;
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
      // Censors secrets at any depth in what each call logs.
      formatters: { log: (obj) => redactDeep(obj) as Record<string, unknown> },
      // A child logger's bindings never pass the formatter above (pino applies its bindings
      // formatter to first-level children only); the paths cover them three levels deep.
      redact: { paths: redactPaths(), censor: CENSOR },
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
