/**
 * One flat view of every record kind: the columns of the CSV export, the key=value text of
 * `mfabox log` and the structured data of syslog all come from here, so they name a field the
 * same way everywhere.
 */
import { outcomeOf, type AuditRecord } from './records.ts';

export type Column =
  | 'time'
  | 'kind'
  | 'outcome'
  | 'reason'
  | 'code'
  | 'user'
  | 'account'
  | 'dn'
  | 'client'
  | 'source'
  | 'callingStationId'
  | 'clientIp'
  | 'rule'
  | 'method'
  | 'step'
  | 'challengeId'
  | 'to'
  | 'modem'
  | 'messageRef'
  | 'parts'
  | 'triesLeft'
  | 'latencyMs'
  | 'actor'
  | 'changes'
  | 'explanation';

export const COLUMNS: readonly Column[] = [
  'time',
  'kind',
  'outcome',
  'reason',
  'code',
  'user',
  'account',
  'dn',
  'client',
  'source',
  'callingStationId',
  'clientIp',
  'rule',
  'method',
  'step',
  'challengeId',
  'to',
  'modem',
  'messageRef',
  'parts',
  'triesLeft',
  'latencyMs',
  'actor',
  'changes',
  'explanation',
];

export type FlatRecord = Partial<Record<Column, string>>;

const str = (v: string | number | undefined): string | undefined => (v === undefined ? undefined : String(v));

/** The record as column → text; absent fields are absent (an empty CSV cell). */
export function flatten(r: AuditRecord): FlatRecord {
  const f: FlatRecord = { time: new Date(r.t).toISOString(), kind: r.kind, outcome: outcomeOf(r) };
  const set = (c: Column, v: string | number | undefined): void => {
    const s = str(v);
    if (s !== undefined && s !== '') f[c] = s;
  };
  switch (r.kind) {
    case 'radius':
      set('reason', r.reason);
      set('code', r.code);
      set('user', r.user);
      set('account', r.account);
      set('dn', r.dn);
      set('client', r.client);
      set('source', r.source);
      set('callingStationId', r.callingStationId);
      set('clientIp', r.clientIp);
      set('rule', r.rule);
      set('method', r.method);
      set('step', r.step);
      set('challengeId', r.challengeId);
      set('to', r.to);
      set('modem', r.modem);
      set('messageRef', r.messageRef);
      set('triesLeft', r.triesLeft);
      set('latencyMs', r.latencyMs);
      set('explanation', r.explanation);
      break;
    case 'sms':
      set('reason', r.failureClass);
      set('code', r.code);
      set('user', r.user);
      set('challengeId', r.challengeId);
      set('to', r.to);
      set('modem', r.modem);
      set('messageRef', r.messageRefs?.join(' '));
      set('parts', r.parts);
      set('explanation', r.reason);
      break;
    case 'admin':
      set('reason', r.action);
      set('user', r.user);
      set('source', r.source);
      set('actor', r.actor);
      set(
        'changes',
        r.changes?.map((c) => `${c.field}: ${c.old ?? '(none)'} → ${c.new ?? '(none)'}`).join('; '),
      );
      set('explanation', r.detail);
      break;
  }
  return f;
}

/**
 * Bare when printable ASCII without quote or '=' (so CORP\\bob reads as typed), else a JSON string with C1 controls
 * escaped too: a User-Name is whatever the client typed, and must not forge a line or drive a
 * terminal.
 */
function quoted(v: string): string {
  if (/^[\x21-\x7e]+$/.test(v) && !/["=]/.test(v)) return v;
  return JSON.stringify(v).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** `key=value` pairs, values quoted when they hold a space, quote or backslash: one grep-able line. */
export function textLine(r: AuditRecord): string {
  const f = flatten(r);
  const parts = [f.time ?? '', (f.kind ?? '').padEnd(6), (f.outcome ?? '').padEnd(9)];
  for (const c of COLUMNS) {
    if (c === 'time' || c === 'kind' || c === 'outcome') continue;
    const v = f[c];
    if (v === undefined) continue;
    parts.push(`${c}=${quoted(v)}`);
  }
  return parts.join(' ');
}
