/**
 * AD and OpenLDAP differences, pure: attribute names, filters, login-name forms and the mapping of
 * a search entry to a DirectoryUser. No IO here, so every rule has a unit test.
 */
import type { LdapDirectoryConfig } from '../config/schema.ts';
import type { DirectoryUser } from './directory.ts';
import { uacDisabled } from './ad-errors.ts';
import { and, eq, escapeFilterValue, or, wrapFilter } from './escape.ts';

export type DialectName = LdapDirectoryConfig['dialect'];

export interface DialectSettings {
  dialect: DialectName;
  login: string;
  altLogin: string;
  mobile: string;
  /** Undefined when secondary numbers are switched off. */
  secondaryMobile: string | undefined;
  displayName: string;
  /** Undefined when addresses are not read (directory.attributes.email ""). */
  email: string | undefined;
  memberOf: string;
  /** Restricts every user search to people (AD also returns groups and computers otherwise). */
  userFilter: string;
  groupFilter: string;
  /** AD resolves nested groups with LDAP_MATCHING_RULE_IN_CHAIN; the memberof overlay does not. */
  nestedGroups: boolean;
  /**
   * The domain parts a login may carry (lower case) for the login attribute to be searched: the
   * base DN's DNS domain and its first label, srvDomain likewise, and directory.loginDomains. A
   * `user@domain` is always matched whole against the UPN (mail) attribute.
   */
  domains: string[];
}

const DEFAULTS: Record<DialectName, Omit<DialectSettings, 'dialect' | 'domains'>> = {
  ad: {
    login: 'sAMAccountName',
    altLogin: 'userPrincipalName',
    mobile: 'mobile',
    secondaryMobile: 'otherMobile',
    displayName: 'displayName',
    email: 'mail',
    memberOf: 'memberOf',
    userFilter: '(&(objectCategory=person)(objectClass=user))',
    groupFilter: '(objectClass=group)',
    nestedGroups: true,
  },
  openldap: {
    login: 'uid',
    altLogin: 'mail',
    mobile: 'mobile',
    secondaryMobile: 'telephoneNumber',
    displayName: 'cn',
    email: 'mail',
    memberOf: 'memberOf',
    userFilter: '(objectClass=inetOrgPerson)',
    groupFilter: '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))',
    nestedGroups: false,
  },
};

/** LDAP_MATCHING_RULE_IN_CHAIN: AD walks nested groups server-side, no range retrieval needed. */
export const IN_CHAIN = '1.2.840.113556.1.4.1941';
const UAC = 'userAccountControl';
/** ppolicy's lock marker (operational): 000001010000Z means locked for good, i.e. disabled. */
const PWD_LOCKED = 'pwdAccountLockedTime';
const PWD_LOCKED_FOREVER = '000001010000Z';
/** ppolicy: set when an admin reset the password and the policy demands a change before use. */
const PWD_RESET = 'pwdReset';

/** DC=corp,DC=example → corp.example (the DC components of a DN; empty when it has none). */
export function dnsDomainOf(dn: string): string {
  return [...dn.matchAll(/(?:^|,)\s*dc\s*=\s*([^,]+)/gi)].map((m) => (m[1] ?? '').trim()).join('.');
}

function ownDomains(
  cfg: Partial<Pick<LdapDirectoryConfig, 'baseDn' | 'srvDomain' | 'loginDomains'>>,
): string[] {
  const out = new Set<string>();
  const add = (dns: string | undefined, withLabel: boolean) => {
    const d = dns?.trim().replace(/\.$/, '').toLowerCase();
    if (!d) return;
    out.add(d);
    // The NetBIOS name an AD gets by default: the first label of its DNS name.
    if (withLabel) out.add(d.split('.')[0] ?? d);
  };
  add(cfg.baseDn === undefined ? undefined : dnsDomainOf(cfg.baseDn), true);
  add(cfg.srvDomain, true);
  for (const d of cfg.loginDomains ?? []) add(d, false);
  return [...out];
}

export function dialectSettings(
  cfg: Pick<LdapDirectoryConfig, 'dialect' | 'attributes' | 'userFilter'> &
    Partial<Pick<LdapDirectoryConfig, 'baseDn' | 'srvDomain' | 'loginDomains'>>,
): DialectSettings {
  const d = DEFAULTS[cfg.dialect];
  const a = cfg.attributes;
  return {
    dialect: cfg.dialect,
    login: a.login ?? d.login,
    altLogin: a.altLogin ?? d.altLogin,
    mobile: a.mobile ?? d.mobile,
    secondaryMobile: a.secondaryMobile === '' ? undefined : (a.secondaryMobile ?? d.secondaryMobile),
    displayName: a.displayName ?? d.displayName,
    email: a.email === '' ? undefined : (a.email ?? d.email),
    memberOf: a.memberOf ?? d.memberOf,
    userFilter: cfg.userFilter === undefined ? d.userFilter : wrapFilter(cfg.userFilter),
    groupFilter: d.groupFilter,
    nestedGroups: d.nestedGroups,
    domains: ownDomains(cfg),
  };
}

/** The three forms a user types at the NetScaler logon page. */
export type LoginName =
  | { form: 'plain'; name: string }
  | { form: 'down-level'; domain: string; name: string }
  | { form: 'upn'; full: string; name: string; domain: string };

/** Parses `user`, `DOMAIN\user` or `user@domain`; undefined for names no directory holds. */
export function parseLogin(input: string): LoginName | undefined {
  const s = input.trim();
  // Control characters (NUL included) never belong to a login name; refuse before any query.
  // eslint-disable-next-line no-control-regex
  if (s.length === 0 || s.length > 256 || /[\u0000-\u001f\u007f]/.test(s)) return undefined;
  const slash = s.indexOf('\\');
  if (slash >= 0) {
    const domain = s.slice(0, slash);
    const name = s.slice(slash + 1);
    if (name.length === 0 || name.includes('\\')) return undefined;
    return { form: 'down-level', domain, name };
  }
  const at = s.lastIndexOf('@');
  if (at > 0 && at < s.length - 1)
    return { form: 'upn', full: s, name: s.slice(0, at), domain: s.slice(at + 1) };
  if (at >= 0) return undefined;
  return { form: 'plain', name: s };
}

/** Whether a login's domain part is one of the directory's (a plain name has none). */
export function isOwnDomain(s: DialectSettings, login: LoginName): boolean {
  return login.form === 'plain' || s.domains.includes(login.domain.trim().replace(/\.$/, '').toLowerCase());
}

/**
 * The user search filter for a login; every input value is RFC 4515 escaped. `user@domain` is
 * matched whole against the UPN (mail) attribute, and against the login attribute (sAMAccountName,
 * uid) only when the domain is the directory's own; `DOMAIN\user` only for an own domain. Undefined
 * when the login names another domain: `alice@partner.example` must never become our alice.
 */
export function userSearchFilter(s: DialectSettings, login: LoginName): string | undefined {
  const own = isOwnDomain(s, login);
  if (login.form === 'upn')
    return and(
      s.userFilter,
      own ? or(eq(s.altLogin, login.full), eq(s.login, login.name)) : eq(s.altLogin, login.full),
    );
  return own ? and(s.userFilter, eq(s.login, login.name)) : undefined;
}

/** The AD in-chain membership test for one group DN (a DN from the directory, still escaped). */
export function inChainClause(s: DialectSettings, groupDn: string): string {
  return s.nestedGroups
    ? `(${s.memberOf}:${IN_CHAIN}:=${escapeFilterValue(groupDn)})`
    : eq(s.memberOf, groupDn);
}

export function groupLookupFilter(s: DialectSettings, groupCn: string): string {
  return and(s.groupFilter, eq('cn', groupCn));
}

/** Members of a group: AD in chain (nested), OpenLDAP direct via the memberof overlay. */
export function groupMembersFilter(s: DialectSettings, groupDn: string): string {
  return and(s.userFilter, inChainClause(s, groupDn));
}

/**
 * Attributes read for a user; memberOf and pwdAccountLockedTime are operational in OpenLDAP, so
 * named. A sync needs neither the second login attribute nor pwdReset (login-only), and every
 * requested attribute costs parsing at scale: ldapts adds an empty value for each one an entry lacks.
 */
export function userAttributes(s: DialectSettings, purpose: 'login' | 'sync' = 'login'): string[] {
  const attrs = [s.login, s.mobile, s.displayName, s.memberOf];
  if (purpose === 'login') attrs.splice(1, 0, s.altLogin);
  if (s.secondaryMobile !== undefined) attrs.push(s.secondaryMobile);
  if (s.email !== undefined) attrs.push(s.email);
  if (s.dialect === 'ad') attrs.push(UAC);
  else {
    attrs.push(PWD_LOCKED);
    if (purpose === 'login') attrs.push(PWD_RESET);
  }
  return [...new Set(attrs)];
}

export { isDn } from './dn.ts';

/** The value of the first RDN (`CN=VPN Team,OU=…` → `VPN Team`), with DN escapes undone. */
export function firstRdnValue(dn: string): string {
  let i = dn.indexOf('=');
  if (i < 0) return dn;
  let out = '';
  for (i = i + 1; i < dn.length; i++) {
    const c = dn[i] ?? '';
    if (c === ',' || c === '+') break;
    if (c === '\\' && i + 1 < dn.length) {
      const hex = dn.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        out += String.fromCharCode(Number.parseInt(hex, 16));
        i += 2;
      } else {
        out += dn[i + 1] ?? '';
        i += 1;
      }
      continue;
    }
    out += c;
  }
  return out.trim();
}

/** An entry as ldapts returns it: one value is a string, several an array. */
export type RawEntry = Readonly<Record<string, unknown>> & { dn: string };

function asStrings(v: unknown): string[] {
  const list = Array.isArray(v) ? (v as unknown[]) : [v];
  const out: string[] = [];
  for (const x of list) {
    const t = Buffer.isBuffer(x) ? x.toString('utf8') : typeof x === 'string' ? x : '';
    if (t.length > 0) out.push(t);
  }
  return out;
}

/** Attribute values by lower-cased name: servers vary the case, and a sync maps 10,000s of entries. */
function attributeMap(entry: RawEntry): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const k in entry) if (k !== 'dn') m.set(k.toLowerCase(), entry[k]);
  return m;
}

/** All string values of an attribute, matched case-insensitively. */
export function values(entry: RawEntry, attr: string): string[] {
  const want = attr.toLowerCase();
  for (const k in entry) if (k !== 'dn' && k.toLowerCase() === want) return asStrings(entry[k]);
  return [];
}

export function first(entry: RawEntry, attr: string): string | undefined {
  return values(entry, attr)[0];
}

/** What the login path needs beyond DirectoryUser: ppolicy state in OpenLDAP (AD says it at bind). */
export interface MappedUser extends DirectoryUser {
  locked: boolean;
  /**
   * ppolicy lets a user whose password was reset bind, but allows nothing but a password change;
   * a login on that password must not pass.
   */
  mustChange: boolean;
}

export function entryToUser(s: DialectSettings, entry: RawEntry): MappedUser {
  const m = attributeMap(entry);
  const get = (attr: string): string[] => {
    const v = m.get(attr.toLowerCase());
    return v === undefined ? [] : asStrings(v);
  };
  const primary = get(s.mobile);
  const secondary = s.secondaryMobile === undefined ? [] : get(s.secondaryMobile);
  const lockedAt = s.dialect === 'openldap' ? get(PWD_LOCKED)[0] : undefined;
  const disabled = s.dialect === 'ad' ? uacDisabled(get(UAC)[0]) : lockedAt === PWD_LOCKED_FOREVER;
  const displayName = get(s.displayName)[0];
  const email = s.email === undefined ? undefined : get(s.email)[0];
  const groupDns = get(s.memberOf);
  const mobiles = secondary.length === 0 ? primary : [...new Set([...primary, ...secondary])];
  return {
    username: get(s.login)[0] ?? firstRdnValue(entry.dn),
    dn: entry.dn,
    ...(displayName === undefined ? {} : { displayName }),
    ...(email === undefined ? {} : { email }),
    mobiles,
    secondaryMobiles: secondary.filter((n) => !primary.includes(n)),
    groups: groupDns.map(firstRdnValue),
    groupDns,
    disabled,
    locked: lockedAt !== undefined && lockedAt !== PWD_LOCKED_FOREVER,
    mustChange: s.dialect === 'openldap' && get(PWD_RESET)[0]?.toUpperCase() === 'TRUE',
  };
}

/**
 * The sync's mapping: the same DirectoryUser as `entryToUser` without the login-only fields, built
 * for 10,000s of entries. Attribute names are lower-cased once per spelling (every entry of a page
 * spells them alike) and group DNs, which repeat on every member, are reduced to CNs once.
 */
export function memberMapper(s: DialectSettings): (entry: RawEntry) => DirectoryUser {
  const lLogin = s.login.toLowerCase();
  const lMobile = s.mobile.toLowerCase();
  const lSecondary = s.secondaryMobile?.toLowerCase();
  const lName = s.displayName.toLowerCase();
  const lEmail = s.email?.toLowerCase();
  const lGroups = s.memberOf.toLowerCase();
  const lDisabled = (s.dialect === 'ad' ? UAC : PWD_LOCKED).toLowerCase();
  const wanted = new Set([lLogin, lMobile, lName, lGroups, lDisabled]);
  if (lSecondary !== undefined) wanted.add(lSecondary);
  if (lEmail !== undefined) wanted.add(lEmail);
  const spelled = new Map<string, string>(); // attribute as the server spells it → lower-cased
  const cns = new Map<string, string>(); // group DN → CN
  const lower = (k: string): string => {
    let l = spelled.get(k);
    if (l === undefined) {
      l = k.toLowerCase();
      if (spelled.size < 256) spelled.set(k, l);
    }
    return l;
  };
  const cn = (dn: string): string => {
    let c = cns.get(dn);
    if (c === undefined) {
      c = firstRdnValue(dn);
      if (cns.size < 10_000) cns.set(dn, c);
    }
    return c;
  };
  return (entry) => {
    // Last spelling wins for one attribute, as in attributeMap.
    let login: unknown;
    let mobile: unknown;
    let secondary: unknown;
    let name: unknown;
    let mail: unknown;
    let groups: unknown;
    let dis: unknown;
    for (const k in entry) {
      if (k === 'dn') continue;
      const l = lower(k);
      if (!wanted.has(l)) continue;
      // Not else-if: one attribute may be configured for two roles.
      const v = entry[k];
      if (l === lLogin) login = v;
      if (l === lMobile) mobile = v;
      if (l === lSecondary) secondary = v;
      if (l === lName) name = v;
      if (l === lEmail) mail = v;
      if (l === lGroups) groups = v;
      if (l === lDisabled) dis = v;
    }
    const primary = mobile === undefined ? [] : asStrings(mobile);
    const second = secondary === undefined ? [] : asStrings(secondary);
    const flag = dis === undefined ? undefined : asStrings(dis)[0];
    const displayName = name === undefined ? undefined : asStrings(name)[0];
    const email = mail === undefined ? undefined : asStrings(mail)[0];
    const username = (login === undefined ? undefined : asStrings(login)[0]) ?? firstRdnValue(entry.dn);
    const groupDns = groups === undefined ? [] : asStrings(groups);
    const cnList: string[] = new Array<string>(groupDns.length);
    for (let i = 0; i < groupDns.length; i++) cnList[i] = cn(groupDns[i] ?? '');
    return {
      username,
      dn: entry.dn,
      ...(displayName === undefined ? {} : { displayName }),
      ...(email === undefined ? {} : { email }),
      mobiles: second.length === 0 ? primary : [...new Set([...primary, ...second])],
      secondaryMobiles: second.length === 0 ? second : second.filter((n) => !primary.includes(n)),
      groups: cnList,
      groupDns,
      disabled: s.dialect === 'ad' ? uacDisabled(flag) : flag === PWD_LOCKED_FOREVER,
    };
  };
}

/**
 * Picks the entry a login means. For `user@domain` an exact altLogin match wins; otherwise exactly
 * one entry must match, since two would mean binding as a user the person may not be.
 */
export function pickEntry(
  s: DialectSettings,
  login: LoginName,
  entries: readonly RawEntry[],
): RawEntry | undefined {
  if (login.form === 'upn') {
    const exact = entries.filter((e) =>
      values(e, s.altLogin).some((v) => v.toLowerCase() === login.full.toLowerCase()),
    );
    if (exact.length === 1) return exact[0];
  }
  return entries.length === 1 ? entries[0] : undefined;
}
