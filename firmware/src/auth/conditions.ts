/**
 * The adaptive policy's conditions, pure. Each answers yes, no or unknown, with a detail an admin
 * can read in `policy explain` and in the audit record. Unknown is its own answer: a missing
 * end-user IP, no GeoIP database or an address it does not know never counts as a match unless a
 * rule says `onUnknown: "match"`, which only rules that are not more trusting may say.
 */
import { isDn, normalizeDn } from '../directory/dn.ts';
import type { RuleConditions } from '../config/auth-schema.ts';
import type { ClientIp } from './calling-station.ts';
import { CidrSet } from '../net/cidr.ts';

export type Answer = 'yes' | 'no' | 'unknown';

export interface ConditionResult {
  condition: string;
  answer: Answer;
  detail: string;
}

/** What is known about a country for an address. */
export type CountryFact =
  | { known: true; code: string }
  /** e.g. no GeoIP database, no end-user IP, address not in the GeoIP database. */
  | { known: false; why: string };

/** What is known about this user's history from this address. */
export type IpHistoryFact = { known: true; lastSeen: number | undefined } | { known: false; why: string };

export interface PolicyUser {
  username: string;
  /** Group CNs. */
  groups: readonly string[];
  /** The same memberships as DNs, when the directory gave them. */
  groupDns?: readonly string[] | undefined;
}

export interface PolicyInput {
  user: PolicyUser;
  /** Parsed Calling-Station-Id; undefined = not known. */
  clientIp: ClientIp | undefined;
  /** NAS client name. */
  client: string;
  /** Wall ms. */
  now: number;
  country: CountryFact;
  ipHistory: IpHistoryFact;
}

export interface Condition {
  name: string;
  test(input: PolicyInput): ConditionResult;
}

/**
 * Configured groups → a membership test. A DN matches the user's group DNs (as the directory
 * compares DNs); a name matches the user's group CNs case-insensitively, as AD does. A DN is not
 * satisfied by a same-named group elsewhere.
 */
export function groupMatcher(wanted: readonly string[]): (user: PolicyUser) => string | undefined {
  const byName = new Map<string, string>();
  const byDn = new Map<string, string>();
  for (const g of wanted) {
    if (isDn(g)) byDn.set(normalizeDn(g), g);
    else byName.set(g.toLowerCase(), g);
  }
  return (user) => {
    for (const g of user.groups) {
      const hit = byName.get(g.toLowerCase());
      if (hit !== undefined) return hit;
    }
    if (byDn.size > 0)
      for (const dn of user.groupDns ?? []) {
        const hit = byDn.get(normalizeDn(dn));
        if (hit !== undefined) return hit;
      }
    return undefined;
  };
}

const list = (xs: readonly string[]): string => `[${xs.join(', ')}]`;

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Local weekday and minutes after midnight at `now` in `timeZone` (the tz database does DST). */
export function localTime(now: number, timeZone: string): { day: Weekday; minutes: number; text: string } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  const parts = f.formatToParts(new Date(now));
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '';
  const day = get('weekday').toLowerCase().slice(0, 3) as Weekday;
  const h = Number(get('hour'));
  const m = Number(get('minute'));
  return { day, minutes: h * 60 + m, text: `${day} ${get('hour')}:${get('minute')} ${timeZone}` };
}

const toMinutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** The rule's conditions, in a fixed order (cheap and certain first). */
export function buildConditions(c: RuleConditions, timeZone: string): Condition[] {
  const out: Condition[] = [];
  if (c.clients) {
    const want = new Set(c.clients.map((x) => x.toLowerCase()));
    const clients = c.clients;
    out.push({
      name: 'client',
      test: (i) => ({
        condition: `client in ${list(clients)}`,
        answer: want.has(i.client.toLowerCase()) ? 'yes' : 'no',
        detail: `client is ${i.client}`,
      }),
    });
  }
  if (c.groups) {
    const member = groupMatcher(c.groups);
    const groups = c.groups;
    out.push({
      name: 'groups',
      test: (i) => {
        const hit = member(i.user);
        return {
          condition: `member of one of ${list(groups)}`,
          answer: hit === undefined ? 'no' : 'yes',
          detail: hit === undefined ? 'member of none' : `member of "${hit}"`,
        };
      },
    });
  }
  if (c.notGroups) {
    const member = groupMatcher(c.notGroups);
    const groups = c.notGroups;
    out.push({
      name: 'notGroups',
      test: (i) => {
        const hit = member(i.user);
        return {
          condition: `member of none of ${list(groups)}`,
          answer: hit === undefined ? 'yes' : 'no',
          detail: hit === undefined ? 'member of none' : `member of "${hit}"`,
        };
      },
    });
  }
  for (const [key, cidrs, negate] of [
    ['networks', c.networks, false],
    ['notNetworks', c.notNetworks, true],
  ] as const) {
    if (!cidrs) continue;
    const set = new CidrSet(cidrs);
    out.push({
      name: key,
      test: (i) => {
        const condition = `end-user IP ${negate ? 'not ' : ''}in ${list(cidrs)}`;
        if (!i.clientIp)
          return { condition, answer: 'unknown', detail: 'no end-user IP (Calling-Station-Id)' };
        const inside = set.has(i.clientIp);
        return {
          condition,
          answer: inside !== negate ? 'yes' : 'no',
          detail: `${i.clientIp.address} is ${inside ? '' : 'not '}inside`,
        };
      },
    });
  }
  for (const [key, codes, negate] of [
    ['countries', c.countries, false],
    ['notCountries', c.notCountries, true],
  ] as const) {
    if (!codes) continue;
    const want = new Set(codes);
    out.push({
      name: key,
      test: (i) => {
        const condition = `country ${negate ? 'not ' : ''}in ${list(codes)}`;
        if (!i.country.known) return { condition, answer: 'unknown', detail: i.country.why };
        const inside = want.has(i.country.code);
        return {
          condition,
          answer: inside !== negate ? 'yes' : 'no',
          detail: `country is ${i.country.code}`,
        };
      },
    });
  }
  if (c.days) {
    const days = new Set<string>(c.days);
    const shown = c.days;
    out.push({
      name: 'days',
      test: (i) => {
        const t = localTime(i.now, timeZone);
        return {
          condition: `day in ${list(shown)}`,
          answer: days.has(t.day) ? 'yes' : 'no',
          detail: `it is ${t.text}`,
        };
      },
    });
  }
  if (c.time) {
    const from = toMinutes(c.time.from);
    const to = toMinutes(c.time.to);
    const { from: f, to: tt } = c.time;
    out.push({
      name: 'time',
      test: (i) => {
        const t = localTime(i.now, timeZone);
        // from > to wraps midnight (22:00–06:00); from == to is all day.
        const inside =
          from === to
            ? true
            : from < to
              ? t.minutes >= from && t.minutes < to
              : t.minutes >= from || t.minutes < to;
        return { condition: `time ${f}–${tt}`, answer: inside ? 'yes' : 'no', detail: `it is ${t.text}` };
      },
    });
  }
  if (c.ipSeenWithinDays !== undefined) {
    const days = c.ipSeenWithinDays;
    out.push({
      name: 'ipSeenWithinDays',
      test: (i) => {
        const condition = `MFA completed from this IP within ${days} d`;
        if (!i.ipHistory.known) return { condition, answer: 'unknown', detail: i.ipHistory.why };
        const last = i.ipHistory.lastSeen;
        if (last === undefined) return { condition, answer: 'no', detail: 'never from this IP' };
        const ago = i.now - last;
        return {
          condition,
          answer: ago >= 0 && ago < days * 86_400_000 ? 'yes' : 'no',
          detail: `last ${new Date(last).toISOString()}`,
        };
      },
    });
  }
  return out;
}
