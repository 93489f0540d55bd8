/**
 * The password check: a simple bind as the user's DN, on a small pool of long-lived connections
 * per DC, kept apart from the service connection. A bind replaces a connection's identity, so the
 * next login's bind can reuse it; nothing but user binds ever runs on these connections (searches
 * stay on the service connection), so no request runs with a user's rights.
 *
 * On AD DCs that advertise it, each pool connection is first switched to fast concurrent bind
 * (LDAP_SERVER_FAST_BIND_OID): the DC then checks the password without building a security token.
 * Elsewhere (Samba AD, OpenLDAP) a plain rebind is used.
 */
import type { Clock } from '../clock.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { VerifyResult } from './directory.ts';
import { reasonForInvalidCredentials } from './ad-errors.ts';
import {
  type LdapConnection,
  brief,
  isDcBusy,
  isDeadlineExhausted,
  isInvalidCredentials,
  isTransportFailure,
} from './connection.ts';
import type { DomainControllers } from './dcs.ts';
import type { Deadline } from './deadline.ts';
import { attemptBudget } from './failover.ts';

/** LDAP_SERVER_FAST_BIND_OID: AD's fast concurrent bind extended operation. */
export const FAST_BIND_OID = '1.2.840.113556.1.4.1781';

export type BindOutcome = 'ok' | Extract<VerifyResult, { ok: false }>;

export interface UserBindOptions {
  /** [1...64] connections per DC at most; logins beyond wait for one to come back. */
  size: number;
  /** Idle connections older than this are closed by `maintain()` (AD closes them at 15 min). */
  maxIdleMs: number;
  /** Try fast bind where the DC advertises it (the AD dialect). */
  fastBind: boolean;
  silenceMs: number;
}

/** [4 min] Below AD's MaxConnIdleTime (15 min) and typical firewall idle timeouts. */
export const POOL_MAX_IDLE_MS = 4 * 60_000;
/** Connections the probe keeps open to the preferred DC, so a quiet box's next login is warm. */
const WARM = 2;

interface Idle {
  conn: LdapConnection;
  since: number;
}

class DcPool {
  idle: Idle[] = [];
  /** Open connections, idle or lent out, plus those being opened. */
  total = 0;
  waiters: ((c: LdapConnection | undefined) => void)[] = [];
  /** Whether the DC advertises fast bind; undefined until the first connection read its root DSE. */
  fastBind: boolean | undefined;
}

export interface UserBindStats {
  url: string;
  idle: number;
  open: number;
  fastBind: boolean | undefined;
}

export class UserBinds {
  private readonly pools = new Map<string, DcPool>();
  private closed = false;
  /** Connections opened since start (each a TCP connect and a TLS handshake, full or resumed). */
  opened = 0;

  constructor(
    private readonly dcs: DomainControllers,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: UserBindOptions,
  ) {}

  private poolOf(url: string): DcPool {
    let p = this.pools.get(url);
    if (!p) {
      p = new DcPool();
      this.pools.set(url, p);
    }
    return p;
  }

  /**
   * Checks a password with one bind. Only a failure to connect, or a DC answering busy /
   * unavailable (it did not carry the bind out), moves to another DC; once a DC has judged the
   * password, a second try could count twice towards the lockout.
   */
  async verify(url: string, dn: string, password: string, deadline: Deadline): Promise<BindOutcome> {
    const listed = this.dcs.servers.order();
    const order = listed[0] === url ? listed : [url, ...listed.filter((u) => u !== url)];
    let lastDetail = 'no domain controller answered within the deadline';
    for (let i = 0; i < order.length; i++) {
      const target = order[i] ?? url;
      const budget = attemptBudget(deadline.remaining(), order.length - i);
      if (budget <= 0) break;
      let conn: LdapConnection;
      try {
        conn = await this.acquire(target, budget);
      } catch (e) {
        if (!isDeadlineExhausted(e)) this.dcs.noteFailure(target, e);
        lastDetail = brief(e);
        continue;
      }
      // A bind that outlasts the login is left to finish; only a DC silent past the per-request
      // limit is marked down.
      conn.onSilence = (e) => this.dcs.noteFailure(target, e);
      let reuse = false;
      try {
        await conn.within(
          'bind (user)',
          deadline.remaining(),
          (c) => c.bind(dn, password),
          this.opts.silenceMs,
        );
        reuse = true;
        return 'ok';
      } catch (e) {
        if (isDeadlineExhausted(e))
          return { ok: false, reason: 'unavailable', detail: `${brief(e)} (the domain controller is slow)` };
        if (isInvalidCredentials(e)) {
          // A refused bind leaves the connection anonymous and usable, like an accepted one.
          reuse = true;
          return { ok: false, reason: reasonForInvalidCredentials(e.message) };
        }
        if (isDcBusy(e)) {
          this.dcs.noteFailure(target, e);
          lastDetail = brief(e);
          continue;
        }
        if (isTransportFailure(e)) {
          this.dcs.noteFailure(target, e);
          return { ok: false, reason: 'unavailable', detail: brief(e) };
        }
        // Any other LDAP answer (unwilling to perform, stronger auth required…) says nothing
        // about the password: calling it a wrong one would send the user to reset a good password.
        return { ok: false, reason: 'unavailable', detail: `bind: ${brief(e)}` };
      } finally {
        this.release(target, conn, reuse);
      }
    }
    return { ok: false, reason: 'unavailable', detail: lastDetail };
  }

  /** An idle connection to `url`, a new one while the pool has room, or the next one returned. */
  private async acquire(url: string, budgetMs: number): Promise<LdapConnection> {
    const p = this.poolOf(url);
    for (;;) {
      const idle = p.idle.pop(); // the most recently used: the least likely to have been cut
      if (!idle) break;
      if (idle.conn.alive) return idle.conn;
      p.total--;
      idle.conn.destroy();
    }
    if (p.total >= this.opts.size) {
      const handed = await this.waitFor(p, budgetMs);
      if (handed) return handed;
    }
    p.total++;
    try {
      return await this.open(url, p, budgetMs);
    } catch (e) {
      this.freed(p);
      throw e;
    }
  }

  /** Waits for a connection to come back (or for room to open one: undefined), within `ms`. */
  private waitFor(p: DcPool, ms: number): Promise<LdapConnection | undefined> {
    return new Promise((resolve, reject) => {
      const waiter = (c: LdapConnection | undefined) => {
        clearTimeout(timer);
        resolve(c);
      };
      const timer = setTimeout(() => {
        p.waiters = p.waiters.filter((w) => w !== waiter);
        // This login's time ran out, not the DC's: it is not marked down for it.
        reject(
          new MfaError(
            `all ${this.opts.size} pooled connections stayed busy for the ${ms} ms left`,
            ErrorCode.DirectoryTimeout,
            { flags: { retryable: true, canceled: true } },
          ),
        );
      }, ms);
      p.waiters.push(waiter);
    });
  }

  private async open(url: string, p: DcPool, budgetMs: number): Promise<LdapConnection> {
    const t0 = this.clock.monotonic();
    const conn = await this.dcs.open(url, budgetMs);
    this.opened++;
    if (!this.opts.fastBind || p.fastBind === false) return conn;
    const left = () => budgetMs - (this.clock.monotonic() - t0);
    try {
      if (p.fastBind === undefined) {
        // Once per DC: whether it advertises fast bind. Before any bind, so the rule holds.
        const r = await conn.within('search (root DSE)', left(), (c) =>
          c.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['supportedExtension'] }),
        );
        const ext = r.searchEntries[0]?.supportedExtension;
        p.fastBind = (Array.isArray(ext) ? ext : [ext]).some((v) => String(v) === FAST_BIND_OID);
        this.log.info({ url, fastBind: p.fastBind }, 'password checks: fast bind or plain rebind');
      }
      if (p.fastBind) await conn.within('fast bind mode', left(), (c) => c.exop(FAST_BIND_OID));
      return conn;
    } catch (e) {
      conn.destroy();
      throw e;
    }
  }

  /** Back to the pool when the last bind left it clean; otherwise closed, never reused. */
  private release(url: string, conn: LdapConnection, reuse: boolean): void {
    const p = this.poolOf(url);
    if (reuse && conn.alive && !conn.busy && !this.closed) {
      const waiter = p.waiters.shift();
      if (waiter) waiter(conn);
      else p.idle.push({ conn, since: this.clock.monotonic() });
      return;
    }
    // Timed out: its answer may still come, so it is retired (closed once answered), and the
    // next login never sees a connection whose state is in doubt.
    conn.retire();
    this.freed(p);
  }

  private freed(p: DcPool): void {
    p.total--;
    p.waiters.shift()?.(undefined);
  }

  /**
   * The probe's share: closes connections idle past `maxIdleMs`, forgets pools of DCs no longer
   * listed, and keeps a couple open to `preferred` (with TLS session resumption, cheap) so a
   * quiet box's next login pays no handshake.
   */
  async maintain(preferred: string | undefined, budgetMs: number): Promise<void> {
    const now = this.clock.monotonic();
    const listed = new Set(this.dcs.servers.list().map((s) => s.url));
    for (const [url, p] of this.pools) {
      const keep: Idle[] = [];
      for (const i of p.idle) {
        if (i.conn.alive && now - i.since < this.opts.maxIdleMs && listed.has(url)) keep.push(i);
        else {
          p.total--;
          void i.conn.close();
        }
      }
      p.idle = keep;
    }
    if (preferred === undefined || this.closed) return;
    const p = this.poolOf(preferred);
    const want = Math.min(WARM, this.opts.size) - p.total;
    for (let k = 0; k < want; k++) {
      p.total++;
      try {
        const conn = await this.open(preferred, p, budgetMs);
        this.release(preferred, conn, true);
      } catch (e) {
        this.freed(p);
        this.dcs.noteFailure(preferred, e);
        return;
      }
    }
  }

  stats(): UserBindStats[] {
    return [...this.pools].map(([url, p]) => ({
      url,
      idle: p.idle.length,
      open: p.total,
      fastBind: p.fastBind,
    }));
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()].flatMap((p) => p.idle.map((i) => i.conn));
    this.pools.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}
