/**
 * An audit record as an RFC 5424 syslog message (pure). The record's fields go in one
 * structured-data element, `[mfabox@32473 …]`, named as in the CSV export and `mfabox log`
 * (columns.ts); the MSG is the same key=value line `mfabox log` prints, so an admin reading the
 * SIEM and one at the box see the same words. 32473 is the private enterprise number RFC 5612
 * reserves for documentation: a SIEM keys on the SD-ID, which no other product sends.
 *
 *   <84>1 2026-12-06T08:02:11.345Z mfabox-1 mfabox 812 radius-reject [mfabox@32473 kind="radius"
 *   outcome="reject" reason="bad-password" user="CORP\\bob" …] BOMradius reject reason=bad-password …
 *
 * Severity follows the outcome (see SEVERITY below and README.md in this folder); the facility
 * is the target's (default authpriv).
 */
import { SYSLOG_FACILITIES, type SyslogFacility } from '../config/syslog-url.ts';
import { COLUMNS, flatten, textLine } from './columns.ts';
import type { AuditRecord } from './records.ts';

export const SD_ID = 'mfabox@32473';
export const APP_NAME = 'mfabox';
const BOM = '\uFEFF';

/** RFC 5424 severities. */
export const Severity = {
  error: 3,
  warning: 4,
  notice: 5,
  info: 6,
} as const;

/** What a SIEM alerts on: a refusal or a drop is a warning, an SMS that did not go out an error. */
export function severityOf(r: AuditRecord): number {
  switch (r.kind) {
    case 'radius':
      return r.outcome === 'reject' || r.outcome === 'dropped' ? Severity.warning : Severity.info;
    case 'sms':
      if (r.event === 'failed') return Severity.error;
      if (r.event === 'expired' || r.event === 'not-delivered' || r.event === 'resend')
        return Severity.warning;
      return Severity.info;
    case 'admin':
      return r.outcome === 'failed' || r.action === 'web-login-failed' ? Severity.warning : Severity.notice;
  }
}

/** MSGID: kind and outcome (radius-reject, sms-failed, admin-config-change); at most 32 ASCII characters. */
export function msgIdOf(r: AuditRecord): string {
  const tail = r.kind === 'radius' ? r.outcome : r.kind === 'sms' ? r.event : r.action;
  return `${r.kind}-${tail}`.replace(/[^\x21-\x7e]/g, '_').slice(0, 32);
}

/** PARAM-VALUE escaping (RFC 5424 §6.3.3: `"`, `\` and `]`), plus control characters as \n, \t, \u0000 so a frame stays one line. */
export function escapeParamValue(v: string): string {
  return (
    v
      .replace(/[\\"\]]/g, (c) => `\\${c}`)
      // eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped
      .replace(/[\u0000-\u001f\u007f]/g, (c) =>
        c === '\n'
          ? '\\n'
          : c === '\r'
            ? '\\r'
            : c === '\t'
              ? '\\t'
              : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
      )
  );
}

/** Cuts a string to at most `max` UTF-8 bytes on a character boundary, marking the cut. */
export function cutUtf8(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let out = '';
  let n = 0;
  const limit = Math.max(0, max - 3); // room for "…" (3 bytes)
  for (const ch of s) {
    const b = Buffer.byteLength(ch);
    if (n + b > limit) break;
    out += ch;
    n += b;
  }
  return `${out}…`;
}

/** HOSTNAME: printable ASCII, at most 255; "-" when there is none. */
export function syslogHostname(name: string): string {
  const h = name.replace(/[^\x21-\x7e]/g, '').slice(0, 255);
  return h === '' ? '-' : h;
}

export interface SyslogFormatOptions {
  facility: SyslogFacility;
  hostname: string;
  procId: number | string;
  /** The whole message may not exceed this many bytes (UDP: 2048, RFC 5426 §3.2); the MSG is cut first, then long SD values. */
  maxBytes: number;
}

function structuredData(r: AuditRecord, maxValue: number): string {
  const f = flatten(r);
  const params: string[] = [];
  for (const c of COLUMNS) {
    if (c === 'time') continue;
    const v = f[c];
    if (v !== undefined) params.push(`${c}="${escapeParamValue(cutUtf8(v, maxValue))}"`);
  }
  return `[${SD_ID} ${params.join(' ')}]`;
}

/** The message, without any transport framing. */
export function formatSyslog(r: AuditRecord, o: SyslogFormatOptions): string {
  const pri = SYSLOG_FACILITIES[o.facility] * 8 + severityOf(r);
  const header = `<${pri}>1 ${new Date(r.t).toISOString()} ${syslogHostname(o.hostname)} ${APP_NAME} ${String(o.procId)} ${msgIdOf(r)}`;
  // The MSG repeats the fields as one line for people; the time is already in the header.
  const line = textLine(r).replace(/^\S+ /, '');
  for (const maxValue of [1024, 256, 64]) {
    const sd = structuredData(r, maxValue);
    const head = `${header} ${sd}`;
    const room = o.maxBytes - Buffer.byteLength(head) - 1 - Buffer.byteLength(BOM);
    if (room >= Math.min(64, Buffer.byteLength(line))) return `${head} ${BOM}${cutUtf8(line, room)}`;
    // Still too long: a valid message a little over the limit beats a cut one no parser reads.
    if (maxValue === 64) return head;
  }
  return header;
}

/** RFC 6587 §3.4.1 octet counting: "LEN SP MSG", LEN in bytes. */
export function octetCounted(msg: string): Buffer {
  const body = Buffer.from(msg);
  return Buffer.concat([Buffer.from(`${body.length} `), body]);
}
