/**
 * The audit record types: what an admin can ask about later ("why was Bob rejected at 08:02?").
 * Three kinds: a RADIUS decision (or drop), an SMS lifecycle event, an admin action.
 *
 * No record ever holds a secret: no password, passcode, State, shared secret, SMS text or token
 * seed. Phone numbers are masked by the caller (`maskNumber`) and config values that look like
 * secrets are masked here (`configChanges`).
 */

export type RadiusOutcome = 'accept' | 'reject' | 'challenge' | 'dropped';

export interface RadiusRecord {
  kind: 'radius';
  /** UTC ms since the epoch. */
  t: number;
  /** User-Name as typed (e.g. "CORP\\bob", "bob@corp.example"); "" when unreadable or dropped before parsing. */
  user: string;
  /** The account the engine resolved it to (sAMAccountName / uid), when it got that far. */
  account?: string;
  /** The account's DN, from the synced user list, when known. */
  dn?: string;
  /** NAS client name from the config, or "(unknown)" for a source that matches no client. */
  client: string;
  /** The NAS's source address. */
  source?: string;
  callingStationId?: string;
  /** End-user IP parsed from Calling-Station-Id. */
  clientIp?: string;
  /** The policy rule that decided (e.g. trusted-network, mfa-group). */
  rule?: string;
  /** Plain words: why the rule decided that way, or what went wrong. */
  explanation?: string;
  /** password | sms | passcode | policy | … (what this step checked). */
  method?: string;
  /** Joins the decision with its SMS records; never the State. */
  challengeId?: string;
  /** Masked number the passcode went to. */
  to?: string;
  /** The modem and message reference of the passcode SMS, when known when the record is written. */
  modem?: string;
  messageRef?: string;
  outcome: RadiusOutcome;
  /** The reason code: an engine reason (bad-password, passcode-ok, …) or a drop reason (malformed, …). */
  reason: string;
  /** The ErrorCode name for rejects and drops an admin can act on (the error code table in firmware/README.md). */
  code?: string;
  /** From the request reaching the handler to its reply (ms, 0.1 ms resolution). */
  latencyMs?: number;
  step?: 'password' | 'passcode';
  triesLeft?: number;
}

/** `resend`: the one resend of an SMS whose first send has an unknown outcome (outbox.ts). */
export type SmsEvent = 'queued' | 'sent' | 'failed' | 'expired' | 'delivered' | 'not-delivered' | 'resend';

export interface SmsRecord {
  kind: 'sms';
  t: number;
  event: SmsEvent;
  challengeId: string;
  /** The account the passcode is for. */
  user?: string;
  /** Masked number. */
  to?: string;
  modem?: string;
  /** One TP-MR per part. */
  messageRefs?: number[];
  parts?: number;
  /** UTC ms the modem accepted it (sent), or the network delivered it (delivered). */
  at?: number;
  /** Failure: ErrorCode name. */
  code?: string;
  /** Failure class: retryable | permanent | sim | unknown-outcome | no-modem | expired | … */
  failureClass?: string;
  /** Plain words. */
  reason?: string;
}

export type AdminAction =
  | 'config-change'
  | 'web-login'
  | 'web-login-failed'
  | 'web-logout'
  | 'unlock'
  | 'override-issued'
  | 'secondary-number-set'
  | 'token-enrolled'
  | 'token-removed'
  | 'directory-sync'
  | 'directory-sync-confirmed'
  | 'admin-password-reset'
  | 'admin-password-changed'
  | 'admin-added'
  | 'admin-removed'
  | 'test-sms'
  | 'modem-probe'
  | 'tls-certificate'
  | 'directory-ca'
  | 'admin-password-set'
  | 'change-confirmed'
  | 'change-rolled-back'
  | 'backup-downloaded'
  | 'backup-restored'
  | 'reboot'
  | 'factory-reset'
  | 'sms-global-cap';

export interface FieldChange {
  /** Dotted path, e.g. "radius.clients[0].secret". */
  field: string;
  /** JSON of the old and new value; "********" for secrets, absent when the field was added/removed. */
  old?: string;
  new?: string;
}

export interface AdminRecord {
  kind: 'admin';
  t: number;
  action: AdminAction;
  /** Who did it: an admin name, "cli" (a root shell on the box), "button", or "system". */
  actor: string;
  /** Where from (web client IP), when known. */
  source?: string;
  /** The end user it concerns (unlock, override code, token), if any. */
  user?: string;
  outcome: 'ok' | 'failed';
  changes?: FieldChange[];
  /** Plain words, secret-free. */
  detail?: string;
}

export type AuditRecord = RadiusRecord | SmsRecord | AdminRecord;
export type AuditKind = AuditRecord['kind'];

type WithoutTime<T> = T extends unknown ? Omit<T, 't'> & { t?: number } : never;
/** What callers hand to `AuditLog.record`: the time defaults to now. */
export type AuditInput = WithoutTime<AuditRecord>;

/** The fields every kind is filtered on, whatever it calls them. */
export function userOf(r: AuditRecord): string | undefined {
  if (r.kind === 'radius') return r.user;
  if (r.kind === 'admin') return r.user ?? r.actor;
  return r.user;
}

export function outcomeOf(r: AuditRecord): string {
  return r.kind === 'radius' ? r.outcome : r.kind === 'sms' ? r.event : r.outcome;
}

export function reasonOf(r: AuditRecord): string | undefined {
  if (r.kind === 'radius') return r.reason;
  if (r.kind === 'sms') return r.failureClass ?? r.code;
  return r.action;
}

export function clientOf(r: AuditRecord): string | undefined {
  if (r.kind === 'radius') return r.client;
  if (r.kind === 'sms') return r.modem;
  return r.source;
}

const SECRET_FIELD = /(password|passwd|secret|pin|passcode|seed|token|key|hash|salt)$/i;
export const MASK = '********';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The fields that differ between two configs, old → new, with anything whose name looks like a
 * secret shown as "********" (so an admin sees that a secret changed, never what to).
 */
export function configChanges(before: unknown, after: unknown, path = ''): FieldChange[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const out: FieldChange[] = [];
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const k of [...keys].sort())
      out.push(...configChanges(before[k], after[k], path === '' ? k : `${path}.${k}`));
    return out;
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((b, i) => configChanges(b, after[i], `${path}[${i}]`));
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const leaf = /([A-Za-z]+)(\[\d+\])*$/.exec(path)?.[1] ?? path;
  const secret = SECRET_FIELD.test(leaf);
  const show = (v: unknown): string | undefined =>
    v === undefined ? undefined : secret ? MASK : maskNested(v);
  const c: FieldChange = { field: path };
  const o = show(before);
  const n = show(after);
  if (o !== undefined) c.old = o;
  if (n !== undefined) c.new = n;
  return [c];
}

/** JSON of a value with secret-looking keys inside it masked (a whole client entry added, say). */
function maskNested(v: unknown): string {
  return JSON.stringify(v, (k, x: unknown) =>
    k !== '' && SECRET_FIELD.test(k) && x !== undefined ? MASK : x,
  );
}
