/**
 * The real directory: AD or OpenLDAP over ldapts, with DC failover and one deadline per login.
 *
 * A login costs two round trips on a warm path: a search on the service account's connection (user,
 * numbers, groups; for AD a parallel in-chain test of the MFA group) and a simple bind as the user's
 * DN on a connection of its own, so the service connection is never rebound.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolveSrv as dnsResolveSrv } from 'node:dns/promises';
import type { SrvRecord } from 'node:dns';
import type { Client } from 'ldapts';
import type { LdapDirectoryConfig } from '../config/schema.ts';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { ErrorCode, MfaError, describeError } from '../errors.ts';
import { logger, type Logger } from '../log.ts';
import type { Directory, DirectoryHealth, DirectoryUser, VerifyResult } from './directory.ts';
import { reasonForInvalidCredentials } from './ad-errors.ts';
import {
  LdapConnection,
  brief,
  connectError as connectErrorOf,
  isDcBusy,
  isDeadlineExhausted,
  isInvalidCredentials,
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
import { sameDn } from './dn.ts';
import { and } from './escape.ts';
import { ServerPool, ServiceRefusals, attemptBudget, srvToUrls } from './failover.ts';

export interface LdapDirectoryDeps {
  clock?: Clock;
  resolveSrv?: (name: string) => Promise<SrvRecord[]>;
  log?: Logger;
  /** Overrides the per-request silence limit (see SILENCE_MIN_MS), so tests need not wait 10 s. */
  silenceMs?: number;
}

/** A sync page may take long on a big domain; it never runs on the login path. */
const PAGE_TIMEOUT_MS = 30_000;
const SRV_REFRESH_MS = 10 * 60_000;
const GROUP_RETRY_MS = 5 * 60_000;
/**
 * [10 s, or twice `timeoutMs` when that is more] How long a DC may leave one request unanswered
 * before it counts as dead. Far beyond a login's share of its deadline: a DC that is slow under
 * load makes single logins fail over, but is not marked down, and the shared connection survives.
 */
const SILENCE_MIN_MS = 10_000;

class Deadline {
  private readonly end: number;
  constructor(
    private readonly clock: Clock,
    ms: number,
  ) {
    this.end = clock.monotonic() + ms;
  }
  remaining(): number {
    return Math.max(0, Math.floor(this.end - this.clock.monotonic()));
  }
}

interface Bound {
  url: string;
  conn: LdapConnection;
}

export class LdapDirectory implements Directory {
  private readonly s: DialectSettings;
  private readonly pool: ServerPool;
  private readonly clock: Clock;
  private readonly log: Logger;
  private service: Bound | undefined;
  private connecting: Promise<Bound> | undefined;
  private moving: { key: string; p: Promise<Bound> } | undefined;
  private groupDn: string | undefined;
  private groupRetryAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;
  private srvAt = -Infinity;
  private lastError: string | undefined;
  /**
   * Whether a DC refused the service account's password (invalidCredentials, and only that). Every
   * further bind with that password counts against AD's lockout threshold on any DC, so service
   * binds pause everywhere for minutes (doubling while it goes on). An accepted bind, a restart, a
   * new config (a new object) or `retryServiceAccount()` ends it.
   */
  private readonly refusals = new ServiceRefusals();
  private readonly silenceMs: number;

  constructor(
    private readonly cfg: LdapDirectoryConfig,
    private readonly tls: TlsSettings,
    private readonly deps: LdapDirectoryDeps = {},
  ) {
    this.s = dialectSettings(cfg);
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log ?? logger('directory:ldap');
    this.pool = new ServerPool(cfg.urls, this.clock.monotonic());
    this.silenceMs = deps.silenceMs ?? Math.max(SILENCE_MIN_MS, 2 * cfg.timeoutMs);
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
    let found: { url: string; user: MappedUser | undefined };
    try {
      found = await this.lookup(login, deadline);
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
      await this.userBind(found.url, decoy, password, deadline).catch(() => undefined);
      return { ok: false, reason: 'unknown-user' };
    }
    let bind: Awaited<ReturnType<LdapDirectory['userBind']>>;
    try {
      bind = await this.userBind(found.url, user.dn, password, deadline);
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
    if (!login) return undefined;
    const { user } = await this.lookup(login, new Deadline(this.clock, this.cfg.timeoutMs));
    return user ? publicView(user) : undefined;
  }

  async *listGroupMembers(group: string): AsyncIterable<DirectoryUser> {
    for await (const page of this.listGroupMemberPages(group)) yield* page;
  }

  async *listGroupMemberPages(group: string): AsyncIterable<readonly DirectoryUser[]> {
    const bound = await this.openBound(new Deadline(this.clock, Math.max(this.cfg.timeoutMs, 10_000)));
    try {
      const groupDn = await this.resolveGroup(bound.conn, group, PAGE_TIMEOUT_MS);
      const pages = bound.conn.client.searchPaginated(this.cfg.baseDn, {
        scope: 'sub',
        filter: groupMembersFilter(this.s, groupDn),
        attributes: userAttributes(this.s, 'sync'),
        paged: { pageSize: this.cfg.pageSize },
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
    const refused = this.serviceRefused();
    if (refused) return { state: 'down', detail: refused.message };
    const servers = this.pool.list();
    const up = servers.filter((s) => s.up);
    const current = this.service?.url ?? this.pool.current()?.url;
    const down = servers.filter((s) => !s.up).map((s) => `${s.url}: ${s.lastError ?? 'down'}`);
    if (servers.length === 0)
      return { state: 'down', detail: this.lastError ?? 'no domain controller configured or discovered' };
    if (!this.service && up.length === 0)
      return { state: 'down', detail: down.join('; '), ...(current ? { server: current } : {}) };
    if (!this.service)
      return {
        state: 'degraded',
        detail: this.lastError ?? 'not connected yet',
        ...(current ? { server: current } : {}),
      };
    return down.length > 0
      ? { state: 'degraded', detail: down.join('; '), server: this.service.url }
      : { state: 'up', server: this.service.url };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const svc = this.service;
    this.service = undefined;
    if (svc) await svc.conn.close();
  }

  // ---------------------------------------------------------------- connections

  private settingsFor(url: string, budgetMs: number) {
    return {
      url,
      startTls: this.cfg.startTls,
      allowInsecure: this.cfg.allowInsecure,
      tls: this.tls,
      budgetMs,
    };
  }

  /** The refusal to report while service binds are paused after a refused password. */
  private serviceRefused(): MfaError | undefined {
    const waitMs = this.refusals.pausedFor(this.clock.monotonic());
    if (waitMs === undefined) return undefined;
    return new MfaError(
      `the service account was refused (wrong directory.bindPassword, or a disabled or locked account); service binds paused for ${Math.ceil(waitMs / 60_000)} min to spare the account from AD lockout (a restart or a config change retries at once)`,
      ErrorCode.DirectoryBindFailed,
    );
  }

  /** A DC refused the service account's password: no service bind anywhere for a while. */
  private noteServiceRefused(url: string, e: unknown): void {
    const holdMs = this.refusals.refused(this.clock.monotonic());
    this.log.error(
      { url, err: brief(e), pauseMinutes: Math.round(holdMs / 60_000) },
      'service account refused: fix directory.bindPassword; no service binds to any domain controller for a while',
    );
  }

  /**
   * Forgets every refusal of the service account, so the next login or probe binds again: for an
   * in-service "test the directory now" (API) that has just bound successfully. A restart, or a new
   * config (a new LdapDirectory), does the same.
   */
  retryServiceAccount(): void {
    this.refusals.clear();
  }

  /**
   * Opens a connection bound as the service account, failing over across DCs within the deadline.
   * A DC that is busy, unavailable or unwilling costs only its own turn; a refused password stops
   * the round and pauses service binds everywhere (see `refusals`): each further DC would add one
   * more bad bind to the account's lockout count.
   */
  private async openBound(deadline: Deadline, avoid: ReadonlySet<string> = new Set()): Promise<Bound> {
    const refused = this.serviceRefused();
    if (refused) throw refused;
    await this.refreshSrv();
    const order = this.pool.order().filter((u) => !avoid.has(u));
    let last: unknown = new MfaError(
      'no domain controller configured or discovered',
      ErrorCode.DirectoryUnavailable,
    );
    let refusal: unknown;
    for (let i = 0; i < order.length; i++) {
      const url = order[i] ?? '';
      const budget = attemptBudget(deadline.remaining(), order.length - i);
      if (budget <= 0) break;
      const t0 = this.clock.monotonic();
      let conn: LdapConnection | undefined;
      try {
        conn = await LdapConnection.open(this.settingsFor(url, budget));
        const left = budget - (this.clock.monotonic() - t0);
        const c = conn;
        // A bind that outlasts this login's share is left to finish (or to prove the DC silent).
        c.onSilence = (e) => this.noteFailure(url, e);
        await c.within(
          'bind (service account)',
          left,
          (client) => serviceBind(client, this.cfg.bindDn, this.cfg.bindPassword),
          this.silenceMs,
        );
        this.pool.markUp(url, this.clock.monotonic());
        this.refusals.clear();
        c.onSilence = undefined;
        return { url, conn: c };
      } catch (e) {
        last = e instanceof MfaError ? e : connectErrorOf(url, e);
        if (conn && isDeadlineExhausted(e)) {
          conn.retire();
          continue;
        }
        conn?.destroy();
        this.noteFailure(url, e);
        if (isServiceRefusal(e)) {
          refusal = e;
          this.noteServiceRefused(url, e);
          break;
        }
      }
    }
    throw this.serviceRefused() ?? refusal ?? last;
  }

  private noteFailure(url: string, e: unknown): void {
    this.lastError = `${url}: ${brief(e)}`;
    const wasUp = this.pool.list().find((x) => x.url === url)?.up ?? false;
    this.pool.markDown(url, brief(e), this.clock.monotonic());
    // Log the change, not every failed attempt: an outage must not flood the log.
    if (wasUp) this.log.warn({ url, err: brief(e) }, 'domain controller marked down');
  }

  /**
   * The warm service connection, (re)opened when needed; concurrent callers share one attempt.
   * `avoid`: DCs that already used up this login's share of its deadline; the connection then
   * moves to another DC (the old one is retired, not destroyed: other logins' requests on it still
   * get their answers, and it is not marked down for being slow).
   */
  private async serviceConn(deadline: Deadline, avoid: ReadonlySet<string> = new Set()): Promise<Bound> {
    const svc = this.service;
    if (svc && svc.conn.alive && svc.conn.client.isBound && !avoid.has(svc.url)) return svc;
    // The connection is adopted when it is ready, even if every caller stopped waiting for it.
    if (avoid.size > 0) {
      // Logins that gave up on the same DC at the same moment (a burst under load) share one move.
      const key = [...avoid].sort().join(' ');
      if (this.moving?.key !== key) {
        const move = {
          key,
          p: this.openBound(deadline, avoid)
            .then((b) => this.adopt(b))
            .finally(() => {
              if (this.moving === move) this.moving = undefined;
            }),
        };
        this.moving = move;
      }
      return raceDeadline(this.moving.p, deadline.remaining());
    }
    this.connecting ??= this.openBound(deadline)
      .then((b) => this.adopt(b))
      .finally(() => {
        this.connecting = undefined;
      });
    // The attempt may have been started by someone with more time (the background probe): wait
    // for it only as long as this caller's own deadline allows.
    return raceDeadline(this.connecting, deadline.remaining());
  }

  /** Makes `b` the service connection; the one it replaces is retired (its answers still read). */
  private async adopt(b: Bound): Promise<Bound> {
    if (this.closed) {
      await b.conn.close();
      throw new MfaError('directory closed', ErrorCode.DirectoryUnavailable);
    }
    const old = this.service;
    if (old === b) return b;
    if (old) old.conn.retire();
    b.conn.onSilence = (e) => this.dropService(b, e);
    this.service = b;
    return b;
  }

  private dropService(b: Bound, e: unknown): void {
    if (this.service === b) this.service = undefined;
    b.conn.destroy();
    this.noteFailure(b.url, e);
  }

  /**
   * Finds a login's entry with the service account, failing over on transport failures (never on
   * an LDAP answer). Returns the DC that answered, so the password bind goes to the same data.
   */
  private async lookup(
    login: LoginName,
    deadline: Deadline,
  ): Promise<{ url: string; user: MappedUser | undefined }> {
    const filter = userSearchFilter(this.s, login);
    let last: MfaError | undefined;
    const slow = new Set<string>();
    for (let attempt = 0; attempt < Math.max(1, this.pool.size); attempt++) {
      if (deadline.remaining() <= 0) break;
      const svc = await this.serviceConn(deadline, slow);
      try {
        const budget = attemptBudget(deadline.remaining(), Math.max(1, this.pool.size - attempt));
        const groupDn = this.s.nestedGroups ? await this.cachedGroupDn(svc.conn, budget) : undefined;
        const [found, nested] = await svc.conn.within(
          'search (user)',
          Math.min(budget, deadline.remaining()),
          (c) =>
            Promise.all([
              c.search(this.cfg.baseDn, {
                scope: 'sub',
                filter,
                attributes: userAttributes(this.s),
                sizeLimit: 2,
              }),
              groupDn === undefined
                ? Promise.resolve(undefined)
                : c.search(this.cfg.baseDn, {
                    scope: 'sub',
                    filter: and(filter, inChainClause(this.s, groupDn)),
                    attributes: ['1.1'],
                    sizeLimit: 2,
                  }),
            ]),
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
        if (groupDn !== undefined && nested?.searchEntries.some((e) => e.dn === entry.dn))
          addGroup(user, groupDn);
        this.pool.markUp(svc.url, this.clock.monotonic());
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
        this.dropService(svc, e);
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

  /**
   * The password check: a simple bind as the user's DN on a fresh connection. Only a failure to
   * connect, or a DC answering busy / unavailable (it did not carry the bind out), moves to another
   * DC; once a DC has judged the password, a second try could count twice towards the lockout.
   */
  private async userBind(
    url: string,
    dn: string,
    password: string,
    deadline: Deadline,
  ): Promise<'ok' | Extract<VerifyResult, { ok: false }>> {
    const order = [url, ...this.pool.order().filter((u) => u !== url)];
    let lastDetail = 'no domain controller answered within the deadline';
    for (let i = 0; i < order.length; i++) {
      const target = order[i] ?? url;
      const budget = attemptBudget(deadline.remaining(), order.length - i);
      if (budget <= 0) break;
      let conn: LdapConnection | undefined;
      try {
        conn = await LdapConnection.open(this.settingsFor(target, budget));
      } catch (e) {
        this.noteFailure(target, e);
        lastDetail = brief(e);
        continue;
      }
      // A bind that outlasts the login is left to finish; only a DC silent past the per-request
      // limit is marked down.
      conn.onSilence = (e) => this.noteFailure(target, e);
      try {
        await conn.within('bind (user)', deadline.remaining(), (c) => c.bind(dn, password), this.silenceMs);
        return 'ok';
      } catch (e) {
        if (isDeadlineExhausted(e))
          return { ok: false, reason: 'unavailable', detail: `${brief(e)} (the domain controller is slow)` };
        if (isInvalidCredentials(e)) return { ok: false, reason: reasonForInvalidCredentials(e.message) };
        if (isDcBusy(e)) {
          this.noteFailure(target, e);
          lastDetail = brief(e);
          continue;
        }
        if (isTransportFailure(e)) {
          this.noteFailure(target, e);
          return { ok: false, reason: 'unavailable', detail: brief(e) };
        }
        // Any other LDAP answer (unwilling to perform, stronger auth required…) says nothing
        // about the password: calling it a wrong one would send the user to reset a good password.
        return { ok: false, reason: 'unavailable', detail: `bind: ${brief(e)}` };
      } finally {
        conn.retire();
      }
    }
    return { ok: false, reason: 'unavailable', detail: lastDetail };
  }

  // ---------------------------------------------------------------- background

  private async refreshSrv(): Promise<void> {
    const domain = this.cfg.srvDomain;
    if (domain === undefined || this.clock.monotonic() - this.srvAt < SRV_REFRESH_MS) return;
    this.srvAt = this.clock.monotonic();
    const name = `_ldap._tcp.dc._msdcs.${domain}`;
    try {
      const records = await (this.deps.resolveSrv ?? dnsResolveSrv)(name);
      this.pool.setUrls(
        [...this.cfg.urls, ...srvToUrls(records, this.cfg.srvUseLdaps)],
        this.clock.monotonic(),
      );
    } catch (e) {
      this.lastError = `DNS SRV ${name}: ${brief(e)}`;
      this.log.warn({ name, err: brief(e) }, 'DC discovery by DNS SRV failed; using the configured URLs');
    }
  }

  /** Keep-alive of the service connection and re-probe of DCs marked down. */
  async probe(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      const svc = this.service;
      if (svc?.conn.alive) {
        try {
          // No login waits on the probe: only silence past the per-request limit marks the DC down.
          await svc.conn.within('keep-alive', this.silenceMs, (c) =>
            c.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] }),
          );
          // Follow a renamed or moved MFA group without a restart.
          if (this.s.nestedGroups && !isDn(this.cfg.group)) {
            this.groupDn = await this.resolveGroup(svc.conn, this.cfg.group, this.silenceMs).catch(
              (e: unknown) => {
                if (isTransportFailure(e)) throw e;
                return undefined;
              },
            );
          }
        } catch (e) {
          this.dropService(svc, e);
        }
      }
      if (!this.service?.conn.alive) {
        try {
          const b = await this.serviceConn(new Deadline(this.clock, this.cfg.timeoutMs));
          if (this.s.nestedGroups) await this.cachedGroupDn(b.conn, this.cfg.timeoutMs);
        } catch (e) {
          this.lastError = brief(e);
        }
      }
      for (const s of this.pool.down()) {
        if (this.closed) break;
        if (s.url === this.service?.url) continue;
        // Paused after a refused password: a probe bind would count towards AD's lockout too.
        if (this.refusals.pausedFor(this.clock.monotonic()) !== undefined) break;
        let conn: LdapConnection | undefined;
        try {
          conn = await LdapConnection.open(this.settingsFor(s.url, this.cfg.timeoutMs));
          await conn.within('bind (probe)', this.cfg.timeoutMs, (c) =>
            serviceBind(c, this.cfg.bindDn, this.cfg.bindPassword),
          );
          await conn.close();
          this.pool.markUp(s.url, this.clock.monotonic());
          this.refusals.clear();
          this.log.info({ url: s.url }, 'domain controller answers again');
        } catch (e) {
          conn?.destroy();
          if (isServiceRefusal(e)) this.noteServiceRefused(s.url, e);
          this.pool.markDown(s.url, brief(e), this.clock.monotonic());
        }
      }
    } finally {
      this.probing = false;
    }
  }
}

function raceDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new MfaError(`no domain controller answered within ${ms} ms`, ErrorCode.DirectoryTimeout, {
            flags: { retryable: true },
          }),
        ),
      Math.max(0, ms),
    );
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * The service account's bind. Only invalidCredentials (49) is a verdict on the account and the
 * same on every DC; any other LDAP answer (busy, unavailable, unwilling to perform, stronger auth
 * required…) is this DC's problem, flagged retryable so the caller moves to the next DC.
 */
async function serviceBind(c: Client, dn: string, password: string): Promise<void> {
  try {
    await c.bind(dn, password);
  } catch (e) {
    if (isTransportFailure(e)) throw e;
    if (isInvalidCredentials(e))
      throw new MfaError(
        `bind: the service account was refused: ${brief(e)}`,
        ErrorCode.DirectoryBindFailed,
        { cause: e },
      );
    throw new MfaError(
      `bind: the domain controller did not take the service account's bind: ${brief(e)}`,
      ErrorCode.DirectoryBindFailed,
      { cause: e, flags: { retryable: true } },
    );
  }
}

/** A DC's verdict that the service account's password is wrong (not a DC failing to answer). */
function isServiceRefusal(e: unknown): boolean {
  return e instanceof MfaError && e.code === ErrorCode.DirectoryBindFailed && e.flags.retryable !== true;
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
