/**
 * The real directory: AD or OpenLDAP over ldapts, with DC failover and one deadline per login.
 *
 * A login costs two LDAP operations on a warm path: one search on the service account's
 * connection (user, numbers, groups) and one simple bind as the user's DN on a pooled connection
 * of the user-bind pool (user-binds.ts), so the service connection is never rebound. On AD, a user
 * who is a nested (not direct) member of the MFA group costs one more search: the in-chain test.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolveSrv as dnsResolveSrv } from 'node:dns/promises';
import type { SrvRecord } from 'node:dns';
import type { LdapDirectoryConfig } from '../config/schema.ts';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { ErrorCode, MfaError, describeError } from '../errors.ts';
import { logger, type Logger } from '../log.ts';
import type { Directory, DirectoryHealth, DirectoryUser, VerifyResult } from './directory.ts';
import {
  type LdapConnection,
  brief,
  isDcBusy,
  isDeadlineExhausted,
  isTransportFailure,
  type TlsSettings,
} from './connection.ts';
import {
  dialectSettings,
  entryToUser,
  memberMapper,
  firstRdnValue,
  groupLookupFilter,
  groupMembersFilter,
  inChainClause,
  isDn,
  parseLogin,
  pickEntry,
  userAttributes,
  userSearchFilter,
  type DialectSettings,
  type LoginName,
  type MappedUser,
  type RawEntry,
} from './dialects.ts';
import { DomainControllers } from './dcs.ts';
import { Deadline } from './deadline.ts';
import { sameDn } from './dn.ts';
import { attemptBudget } from './failover.ts';
import { ServiceConnection } from './service-conn.ts';
import { POOL_MAX_IDLE_MS, UserBinds, type UserBindStats } from './user-binds.ts';

export interface LdapDirectoryDeps {
  clock?: Clock;
  resolveSrv?: (name: string) => Promise<SrvRecord[]>;
  log?: Logger;
  /** Overrides the per-request silence limit (see SILENCE_MIN_MS), so tests need not wait 10 s. */
  silenceMs?: number;
}

/** A sync page may take long on a big domain; it never runs on the login path. */
const PAGE_TIMEOUT_MS = 30_000;
const GROUP_RETRY_MS = 5 * 60_000;
/**
 * [10 s, or twice `timeoutMs` when that is more] How long a DC may leave one request unanswered
 * before it counts as dead. Far beyond a login's share of its deadline: a DC that is slow under
 * load makes single logins fail over, but is not marked down, and the shared connection survives.
 */
const SILENCE_MIN_MS = 10_000;

export class LdapDirectory implements Directory {
  private readonly s: DialectSettings;
  /** The attributes a login's search asks for (computed once: it runs on every login). */
  private readonly loginAttributes: string[];
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly dcs: DomainControllers;
  private readonly service: ServiceConnection;
  private readonly binds: UserBinds;
  private groupDn: string | undefined;
  private groupRetryAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;
  private readonly silenceMs: number;

  constructor(
    private readonly cfg: LdapDirectoryConfig,
    tls: TlsSettings,
    deps: LdapDirectoryDeps = {},
  ) {
    this.s = dialectSettings(cfg);
    this.loginAttributes = userAttributes(this.s);
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log ?? logger('directory:ldap');
    this.silenceMs = deps.silenceMs ?? Math.max(SILENCE_MIN_MS, 2 * cfg.timeoutMs);
    this.dcs = new DomainControllers(cfg, tls, this.clock, this.log, deps.resolveSrv ?? dnsResolveSrv);
    this.service = new ServiceConnection(cfg, this.dcs, this.clock, this.log, this.silenceMs);
    this.binds = new UserBinds(this.dcs, this.clock, this.log, {
      size: cfg.bindConnections,
      maxIdleMs: POOL_MAX_IDLE_MS,
      fastBind: cfg.dialect === 'ad',
      silenceMs: this.silenceMs,
    });
    if (cfg.allowInsecure && cfg.urls.some((u) => u.toLowerCase().startsWith('ldap://')) && !cfg.startTls)
      this.log.warn(
        { urls: cfg.urls },
        'directory.allowInsecure: binds on ldap:// without StartTLS send passwords in clear',
      );
  }

  /** Warms the service connection and starts the keep-alive / re-probe timer. Never throws. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.probe(), this.cfg.probeIntervalSeconds * 1000);
    this.timer.unref();
    void this.probe();
  }

  // ---------------------------------------------------------------- the seam

  async verifyPassword(username: string, password: string): Promise<VerifyResult> {
    const deadline = new Deadline(this.clock, this.cfg.timeoutMs);
    // An empty password makes a simple bind "unauthenticated" (RFC 4513 §5.1.2): success without a check.
    if (password.length === 0) return { ok: false, reason: 'bad-password', detail: 'empty password' };
    const login = parseLogin(username);
    if (!login) return { ok: false, reason: 'unknown-user', detail: 'not a valid login name' };
    const filter = userSearchFilter(this.s, login);
    if (filter === undefined) return { ok: false, reason: 'unknown-user', detail: foreignDomain(login) };
    let found: { url: string; user: MappedUser | undefined };
    try {
      found = await this.lookup(login, filter, deadline);
    } catch (e) {
      if (e instanceof MfaError && e.code === ErrorCode.DirectoryUserAmbiguous)
        return { ok: false, reason: 'unknown-user', detail: e.message };
      return { ok: false, reason: 'unavailable', detail: brief(e) };
    }
    const { user } = found;
    if (!user) {
      // Answer an unknown name no faster than a wrong password, so timing does not tell an
      // attacker which names exist: the same bind round trip, to a DN that cannot exist.
      const decoy = `cn=mfabox-no-such-user-${randomBytes(12).toString('hex')},${this.cfg.baseDn}`;
      await this.binds.verify(found.url, decoy, password, deadline).catch(() => undefined);
      return { ok: false, reason: 'unknown-user' };
    }
    let bind: Awaited<ReturnType<UserBinds['verify']>>;
    try {
      bind = await this.binds.verify(found.url, user.dn, password, deadline);
    } catch (e) {
      return { ok: false, reason: 'unavailable', detail: brief(e) };
    }
    if (bind !== 'ok') {
      if (bind.reason === 'bad-password' && this.s.dialect === 'openldap') {
        // OpenLDAP answers 49 for every cause; ppolicy's lock marker tells the real one.
        if (user.disabled) return { ok: false, reason: 'disabled' };
        if (user.locked) return { ok: false, reason: 'locked' };
      }
      return bind;
    }
    // AD refuses a disabled account's bind itself (533); this covers directories that do not.
    if (user.disabled) return { ok: false, reason: 'disabled' };
    if (user.mustChange) return { ok: false, reason: 'must-change' };
    return { ok: true, user: publicView(user) };
  }

  async findUser(username: string): Promise<DirectoryUser | undefined> {
    const login = parseLogin(username);
    const filter = login && userSearchFilter(this.s, login);
    if (!login || filter === undefined) return undefined;
    const { user } = await this.lookup(login, filter, new Deadline(this.clock, this.cfg.timeoutMs));
    return user ? publicView(user) : undefined;
  }

  async *listGroupMembers(group: string): AsyncIterable<DirectoryUser> {
    for await (const page of this.listGroupMemberPages(group)) yield* page;
  }

  async *listGroupMemberPages(group: string): AsyncIterable<readonly DirectoryUser[]> {
    const bound = await this.service.open(new Deadline(this.clock, Math.max(this.cfg.timeoutMs, 10_000)));
    try {
      const groupDn = await this.resolveGroup(bound.conn, group, PAGE_TIMEOUT_MS);
      const pages = bound.conn.client.searchPaginated(this.cfg.baseDn, {
        scope: 'sub',
        filter: groupMembersFilter(this.s, groupDn),
        attributes: userAttributes(this.s, 'sync'),
        paged: { pageSize: this.cfg.pageSize },
        // ldapts asks for 10 s unless told; a busy DC resolving nested membership needs what we wait.
        timeLimit: PAGE_TIMEOUT_MS / 1000,
      });
      const it = pages[Symbol.asyncIterator]();
      const fetchPage = () => {
        const p = bound.conn.within('search (group members page)', PAGE_TIMEOUT_MS, () => it.next());
        p.catch(() => undefined); // a prefetch the caller never reaches is not an unhandled rejection
        return p;
      };
      const map = memberMapper(this.s);
      // One page ahead: the server builds page n+1 (and ldapts parses it as it arrives) while the
      // caller maps and stores page n, instead of both sides taking turns to wait.
      let next = fetchPage();
      for (;;) {
        const page = await next;
        if (page.done) break;
        next = fetchPage();
        yield page.value.searchEntries.map(map);
      }
    } catch (e) {
      throw searchError(`members of ${group}`, e);
    } finally {
      await bound.conn.close();
    }
  }

  health(): DirectoryHealth {
    const refused = this.service.refused();
    if (refused) return { state: 'down', detail: refused.message };
    const servers = this.dcs.servers.list();
    const up = servers.filter((s) => s.up);
    const svc = this.service.current;
    const current = svc?.url ?? this.dcs.servers.current()?.url;
    const down = servers.filter((s) => !s.up).map((s) => `${s.url}: ${s.lastError ?? 'down'}`);
    if (servers.length === 0)
      return { state: 'down', detail: this.dcs.lastError ?? 'no domain controller configured or discovered' };
    if (!svc && up.length === 0)
      return { state: 'down', detail: down.join('; '), ...(current ? { server: current } : {}) };
    if (!svc)
      return {
        state: 'degraded',
        detail: this.dcs.lastError ?? 'not connected yet',
        ...(current ? { server: current } : {}),
      };
    return down.length > 0
      ? { state: 'degraded', detail: down.join('; '), server: svc.url }
      : { state: 'up', server: svc.url };
  }

  /** The user-bind pools (per DC: open and idle connections, fast bind or not) and TLS resumption. */
  bindStats(): { pools: UserBindStats[]; opened: number; tls: { resumed: number; full: number } } {
    return {
      pools: this.binds.stats(),
      opened: this.binds.opened,
      tls: { resumed: this.dcs.sessions.resumed, full: this.dcs.sessions.full },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([this.service.close(), this.binds.close()]);
  }

  /**
   * Forgets every refusal of the service account, so the next login or probe binds again: for an
   * in-service "test the directory now" (API) that has just bound successfully. A restart, or a new
   * config (a new LdapDirectory), does the same.
   */
  retryServiceAccount(): void {
    this.service.retry();
  }

  // ---------------------------------------------------------------- searches

  /**
   * Finds a login's entry with the service account, failing over on transport failures (never on
   * an LDAP answer). Returns the DC that answered, so the password bind goes to the same data.
   */
  private async lookup(
    login: LoginName,
    filter: string,
    deadline: Deadline,
  ): Promise<{ url: string; user: MappedUser | undefined }> {
    let last: MfaError | undefined;
    const slow = new Set<string>();
    const size = this.dcs.servers.size;
    for (let attempt = 0; attempt < Math.max(1, size); attempt++) {
      if (deadline.remaining() <= 0) break;
      const svc = this.service.ready(slow) ?? (await this.service.get(deadline, slow));
      try {
        const budget = attemptBudget(deadline.remaining(), Math.max(1, size - attempt));
        const groupDn = this.s.nestedGroups ? await this.cachedGroupDn(svc.conn, budget) : undefined;
        const found = await svc.conn.within(
          'search (user)',
          Math.min(budget, deadline.remaining()),
          (c) =>
            c.search(this.cfg.baseDn, {
              scope: 'sub',
              filter,
              attributes: this.loginAttributes,
              sizeLimit: 2,
            }),
          this.silenceMs,
        );
        const entries = found.searchEntries as RawEntry[];
        if (entries.length === 0) return { url: svc.url, user: undefined };
        const entry = pickEntry(this.s, login, entries);
        if (!entry)
          throw new MfaError(
            'the login name matches more than one directory entry',
            ErrorCode.DirectoryUserAmbiguous,
          );
        const user = entryToUser(this.s, entry);
        if (groupDn !== undefined && !(user.groupDns ?? []).some((d) => sameDn(d, groupDn))) {
          // Not a direct member: AD walks the nesting for this one entry (a base search).
          const nested = await svc.conn.within(
            'search (nested group)',
            Math.min(budget, deadline.remaining()),
            (c) =>
              c.search(entry.dn, {
                scope: 'base',
                filter: inChainClause(this.s, groupDn),
                attributes: ['1.1'],
              }),
            this.silenceMs,
          );
          if (nested.searchEntries.length > 0) addGroup(user, groupDn);
        }
        this.dcs.markUp(svc.url);
        return { url: svc.url, user };
      } catch (e) {
        if (e instanceof MfaError && e.code === ErrorCode.DirectoryUserAmbiguous) throw e;
        if (isDeadlineExhausted(e)) {
          // This login's share ran out: ask another DC, leaving this one and its connection be.
          last = e as MfaError;
          slow.add(svc.url);
          continue;
        }
        // busy / unavailable: this DC, not the search, is the problem; the next DC may answer.
        if (!isTransportFailure(e) && !isDcBusy(e)) throw searchError('user', e);
        last = searchError('user', e);
        this.service.drop(svc, e);
      }
    }
    throw last ?? new MfaError('directory deadline passed', ErrorCode.DirectoryTimeout);
  }

  /** The MFA group's DN, looked up once and cached (a DN in config is used as is). */
  private async cachedGroupDn(conn: LdapConnection, budgetMs: number): Promise<string | undefined> {
    if (this.groupDn !== undefined) return this.groupDn;
    // A missing group is looked up again only now and then, not on every login.
    if (this.clock.monotonic() < this.groupRetryAt) return undefined;
    try {
      this.groupDn = await this.resolveGroup(conn, this.cfg.group, budgetMs);
    } catch (e) {
      if (isTransportFailure(e)) throw e;
      this.groupRetryAt = this.clock.monotonic() + GROUP_RETRY_MS;
      // A missing group must not block logins; group checks then see direct memberships only.
      this.log.warn(
        { group: this.cfg.group, err: brief(e) },
        'MFA group not found; nested membership not checked',
      );
      return undefined;
    }
    return this.groupDn;
  }

  private async resolveGroup(conn: LdapConnection, group: string, budgetMs: number): Promise<string> {
    if (isDn(group)) return group.trim();
    const r = await conn.within(
      'search (group)',
      budgetMs,
      (c) =>
        c.search(this.cfg.baseDn, {
          scope: 'sub',
          filter: groupLookupFilter(this.s, group),
          attributes: ['1.1'],
          sizeLimit: 2,
        }),
      Math.max(budgetMs, this.silenceMs),
    );
    const first = r.searchEntries[0];
    if (r.searchEntries.length !== 1 || !first)
      throw new MfaError(
        r.searchEntries.length === 0
          ? `group "${group}" not found under ${this.cfg.baseDn}`
          : `group name "${group}" is ambiguous under ${this.cfg.baseDn}: give its DN`,
        ErrorCode.DirectoryGroupNotFound,
        { field: 'directory.group' },
      );
    return first.dn;
  }

  // ---------------------------------------------------------------- background

  /**
   * Keep-alive of the service connection, re-probe of DCs marked down, and the user-bind pools'
   * upkeep (idle ones closed, a couple kept open to the DC in use).
   */
  async probe(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      const svc = await this.service.keepAlive();
      // Follow a renamed or moved MFA group without a restart.
      if (svc && this.s.nestedGroups && !isDn(this.cfg.group)) {
        try {
          this.groupDn = await this.resolveGroup(svc.conn, this.cfg.group, this.silenceMs);
        } catch (e) {
          if (isTransportFailure(e)) this.service.drop(svc, e);
          else this.groupDn = undefined;
        }
      }
      if (!this.service.current?.conn.alive) {
        try {
          const b = await this.service.get(new Deadline(this.clock, this.cfg.timeoutMs));
          if (this.s.nestedGroups) await this.cachedGroupDn(b.conn, this.cfg.timeoutMs);
        } catch (e) {
          this.dcs.lastError = brief(e);
        }
      }
      await this.service.probeDown();
      if (!this.closed) await this.binds.maintain(this.service.current?.url, this.cfg.timeoutMs);
    } finally {
      this.probing = false;
    }
  }
}

function searchError(what: string, e: unknown): MfaError {
  if (e instanceof MfaError) return e;
  return new MfaError(`search: ${what}: ${describeError(e)}`, ErrorCode.DirectorySearchFailed, { cause: e });
}

/** A membership the in-chain search found (nested, so not in memberOf): its name and its DN. */
function addGroup(user: MappedUser, groupDn: string): void {
  const name = firstRdnValue(groupDn);
  if (!user.groups.includes(name)) user.groups.push(name);
  const dns = (user.groupDns ??= []);
  if (!dns.some((d) => sameDn(d, groupDn))) dns.push(groupDn);
}

function foreignDomain(login: LoginName): string {
  const domain = login.form === 'plain' ? '' : login.domain;
  return `the domain "${domain}" is not one of the directory's (add it to directory.loginDomains if it is)`;
}

function publicView(u: MappedUser): DirectoryUser {
  const { locked: _locked, mustChange: _mustChange, ...rest } = u;
  return rest;
}

/** Builds the directory from config: reads the CA bundle once (a missing file is a config error). */
export async function createLdapDirectory(
  cfg: LdapDirectoryConfig,
  deps: LdapDirectoryDeps = {},
): Promise<LdapDirectory> {
  const settings: TlsSettings = {};
  if (cfg.caFile !== undefined) {
    try {
      settings.ca = await readFile(cfg.caFile, 'utf8');
    } catch (e) {
      throw new MfaError(`cannot read the CA bundle ${cfg.caFile}`, ErrorCode.ConfigFileUnreadable, {
        cause: e,
        field: 'directory.caFile',
      });
    }
    if (!settings.ca.includes('-----BEGIN CERTIFICATE-----'))
      throw new MfaError(`${cfg.caFile} holds no PEM certificate`, ErrorCode.ConfigInvalid, {
        field: 'directory.caFile',
      });
  }
  if (cfg.tlsServerName !== undefined) settings.servername = cfg.tlsServerName;
  return new LdapDirectory(cfg, settings, deps);
}
