/**
 * Audit filters (pure): the same filters for `mfabox log` and `GET /api/audit`, parsed from
 * strings the same way for both, so the two can never disagree about what "--since 2h" means.
 */
import { ErrorCode, MfaError } from '../errors.ts';
import { clientOf, outcomeOf, reasonOf, type AuditKind, type AuditRecord } from './records.ts';

export interface AuditFilter {
  kinds?: AuditKind[];
  /** Matches the name as typed, the resolved account, the DN, or the bare name in DOMAIN\name and name@domain. */
  user?: string;
  /** UTC ms, inclusive. */
  since?: number;
  /** UTC ms, exclusive. */
  until?: number;
  /** accept | reject | challenge | dropped; sms: queued | sent | failed | …; admin: ok | failed. */
  outcome?: string;
  /** The reason code (bad-password, malformed, …), the SMS failure class, or the admin action. */
  reason?: string;
  /** NAS client name (radius), modem (sms) or source address (admin). */
  client?: string;
  challengeId?: string;
}

/** The string form both the CLI flags and the API query parameters use. */
export interface FilterStrings {
  kind?: string | undefined;
  user?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  outcome?: string | undefined;
  reason?: string | undefined;
  client?: string | undefined;
  challenge?: string | undefined;
}

const KINDS: readonly AuditKind[] = ['radius', 'sms', 'admin'];
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

function bad(msg: string, field: string): MfaError {
  return new MfaError(msg, ErrorCode.CliUsage, { field });
}

/**
 * "2h", "90m", "7d", "1h30m" (ago, from `now`), an ISO time ("2026-12-06T08:00:00Z"; a time
 * without a zone is UTC), or a date ("2026-12-06", midnight UTC).
 */
export function parseTime(text: string, now: number, field: string): number {
  const t = text.trim();
  if (/^(\d+[smhdw])+$/i.test(t)) {
    let ms = 0;
    for (const m of t.toLowerCase().matchAll(/(\d+)([smhdw])/g))
      ms += Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 0);
    return now - ms;
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+)?(Z|[+-]\d{2}:?\d{2})?$/i.test(t)) {
    const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(t) || !/[T ]/.test(t) ? t : `${t}Z`;
    const ms = Date.parse(zoned.replace(' ', 'T'));
    if (!Number.isNaN(ms)) return ms;
  }
  throw bad(
    `${field} "${text}": expected a duration ago (30s, 15m, 2h, 7d) or a UTC time (2026-12-06T08:00:00Z)`,
    field,
  );
}

export function parseFilter(s: FilterStrings, now: number): AuditFilter {
  const f: AuditFilter = {};
  if (s.kind !== undefined && s.kind !== '') {
    const kinds = s.kind.split(',').map((k) => k.trim());
    for (const k of kinds)
      if (!KINDS.includes(k as AuditKind)) throw bad(`kind "${k}": expected ${KINDS.join(', ')}`, 'kind');
    f.kinds = kinds as AuditKind[];
  }
  if (s.user) f.user = s.user;
  if (s.since) f.since = parseTime(s.since, now, 'since');
  if (s.until) f.until = parseTime(s.until, now, 'until');
  if (f.since !== undefined && f.until !== undefined && f.until <= f.since)
    throw bad('until must be later than since', 'until');
  if (s.outcome) f.outcome = s.outcome.toLowerCase();
  if (s.reason) f.reason = s.reason;
  if (s.client) f.client = s.client;
  if (s.challenge) f.challengeId = s.challenge;
  return f;
}

/** "CORP\\Bob", "bob@corp.example" and "Bob" are the same person to someone asking about Bob. */
function bareName(u: string): string {
  const l = u.trim().toLowerCase();
  const afterSlash = l.includes('\\') ? l.slice(l.lastIndexOf('\\') + 1) : l;
  return afterSlash.includes('@') ? afterSlash.slice(0, afterSlash.indexOf('@')) : afterSlash;
}

function userMatches(want: string, r: AuditRecord): boolean {
  const w = want.trim().toLowerCase();
  const wb = bareName(want);
  const names: (string | undefined)[] =
    r.kind === 'radius' ? [r.user, r.account, r.dn] : r.kind === 'sms' ? [r.user] : [r.user, r.actor];
  return names.some((n) => n !== undefined && n !== '' && (n.toLowerCase() === w || bareName(n) === wb));
}

const same = (a: string | undefined, b: string): boolean =>
  a !== undefined && a.toLowerCase() === b.toLowerCase();

/** Whether a record passes the filter (time bounds included, for records outside a key range). */
export function matches(f: AuditFilter, r: AuditRecord): boolean {
  if (f.kinds && !f.kinds.includes(r.kind)) return false;
  if (f.since !== undefined && r.t < f.since) return false;
  if (f.until !== undefined && r.t >= f.until) return false;
  if (f.outcome !== undefined && outcomeOf(r) !== f.outcome) return false;
  if (f.reason !== undefined) {
    const code = r.kind === 'admin' ? undefined : r.code;
    if (!same(reasonOf(r), f.reason) && !same(code, f.reason)) return false;
  }
  if (f.client !== undefined && !same(clientOf(r), f.client)) return false;
  if (f.challengeId !== undefined && (r.kind === 'admin' || r.challengeId !== f.challengeId)) return false;
  if (f.user !== undefined && !userMatches(f.user, r)) return false;
  return true;
}
