/**
 * The service account's connection: one warm, long-lived connection bound as the service account,
 * on which every search runs (user lookups, group lookups, sync pages). Concurrent logins share one
 * (re)connect; a DC that refuses the service account's password pauses service binds everywhere,
 * so the box never locks the account out in AD.
 */
import type { Client } from 'ldapts';
import type { LdapDirectoryConfig } from '../config/schema.ts';
import type { Clock } from '../clock.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import type { Logger } from '../log.ts';
import {
  type LdapConnection,
  brief,
  connectError as connectErrorOf,
  isDeadlineExhausted,
  isInvalidCredentials,
  isTransportFailure,
} from './connection.ts';
import type { DomainControllers } from './dcs.ts';
import { type Deadline, raceDeadline } from './deadline.ts';
import { ServiceRefusals, attemptBudget } from './failover.ts';

export interface Bound {
  url: string;
  conn: LdapConnection;
}

export class ServiceConnection {
  private service: Bound | undefined;
  private connecting: Promise<Bound> | undefined;
  private moving: { key: string; p: Promise<Bound> } | undefined;
  private closed = false;
  /**
   * Whether a DC refused the service account's password (invalidCredentials, and only that). Every
   * further bind with that password counts against AD's lockout threshold on any DC, so service
   * binds pause everywhere for minutes (doubling while it goes on). An accepted bind, a restart, a
   * new config (a new object) or `retry()` ends it.
   */
  private readonly refusals = new ServiceRefusals();

  constructor(
    private readonly cfg: LdapDirectoryConfig,
    private readonly dcs: DomainControllers,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly silenceMs: number,
  ) {}

  /** The connection in use now, if any. */
  get current(): Bound | undefined {
    return this.service;
  }

  /** The refusal to report while service binds are paused after a refused password. */
  refused(): MfaError | undefined {
    const waitMs = this.refusals.pausedFor(this.clock.monotonic());
    if (waitMs === undefined) return undefined;
    return new MfaError(
      `the service account was refused (wrong directory.bindPassword, or a disabled or locked account); service binds paused for ${Math.ceil(waitMs / 60_000)} min to spare the account from AD lockout (a restart or a config change retries at once)`,
      ErrorCode.DirectoryBindFailed,
    );
  }

  /** Forgets every refusal of the service account, so the next login or probe binds again. */
  retry(): void {
    this.refusals.clear();
  }

  /** A DC refused the service account's password: no service bind anywhere for a while. */
  private noteRefused(url: string, e: unknown): void {
    const holdMs = this.refusals.refused(this.clock.monotonic());
    this.log.error(
      { url, err: brief(e), pauseMinutes: Math.round(holdMs / 60_000) },
      'service account refused: fix directory.bindPassword; no service binds to any domain controller for a while',
    );
  }

  /**
   * Opens a connection bound as the service account, failing over across DCs within the deadline.
   * A DC that is busy, unavailable or unwilling costs only its own turn; a refused password stops
   * the round and pauses service binds everywhere: each further DC would add one more bad bind to
   * the account's lockout count.
   */
  async open(deadline: Deadline, avoid: ReadonlySet<string> = new Set()): Promise<Bound> {
    const refused = this.refused();
    if (refused) throw refused;
    await this.dcs.refreshSrv();
    const order = this.dcs.servers.order().filter((u) => !avoid.has(u));
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
        conn = await this.dcs.open(url, budget);
        const left = budget - (this.clock.monotonic() - t0);
        const c = conn;
        // A bind that outlasts this login's share is left to finish (or to prove the DC silent).
        c.onSilence = (e) => this.dcs.noteFailure(url, e);
        await c.within(
          'bind (service account)',
          left,
          (client) => serviceBind(client, this.cfg.bindDn, this.cfg.bindPassword),
          this.silenceMs,
        );
        this.dcs.markUp(url);
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
        this.dcs.noteFailure(url, e);
        if (isServiceRefusal(e)) {
          refusal = e;
          this.noteRefused(url, e);
          break;
        }
      }
    }
    throw this.refused() ?? refusal ?? last;
  }

  /**
   * The warm service connection, (re)opened when needed; concurrent callers share one attempt.
   * `avoid`: DCs that already used up this login's share of its deadline; the connection then
   * moves to another DC (the old one is retired, not destroyed: other logins' requests on it still
   * get their answers, and it is not marked down for being slow).
   */
  /** The warm service connection when it is usable now (every login's path: no await). */
  ready(avoid?: ReadonlySet<string>): Bound | undefined {
    const svc = this.service;
    return svc && svc.conn.alive && svc.conn.client.isBound && !avoid?.has(svc.url) ? svc : undefined;
  }

  async get(deadline: Deadline, avoid: ReadonlySet<string> = new Set()): Promise<Bound> {
    const svc = this.ready(avoid);
    if (svc) return svc;
    // The connection is adopted when it is ready, even if every caller stopped waiting for it.
    if (avoid.size > 0) {
      // Logins that gave up on the same DC at the same moment (a burst under load) share one move.
      const key = [...avoid].sort().join(' ');
      if (this.moving?.key !== key) {
        const move = {
          key,
          p: this.open(deadline, avoid)
            .then((b) => this.adopt(b))
            .finally(() => {
              if (this.moving === move) this.moving = undefined;
            }),
        };
        this.moving = move;
      }
      return raceDeadline(this.moving.p, deadline.remaining());
    }
    this.connecting ??= this.open(deadline)
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
    b.conn.onSilence = (e) => this.drop(b, e);
    this.service = b;
    return b;
  }

  /** `b` failed (transport, silence): destroyed, and its DC noted down. */
  drop(b: Bound, e: unknown): void {
    if (this.service === b) this.service = undefined;
    b.conn.destroy();
    this.dcs.noteFailure(b.url, e);
  }

  /** The keep-alive: a root DSE read on the warm connection; a failure drops it. */
  async keepAlive(): Promise<Bound | undefined> {
    const svc = this.service;
    if (!svc?.conn.alive) return undefined;
    try {
      // No login waits on the probe: only silence past the per-request limit marks the DC down.
      await svc.conn.within('keep-alive', this.silenceMs, (c) =>
        c.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] }),
      );
      return svc;
    } catch (e) {
      this.drop(svc, e);
      return undefined;
    }
  }

  /** Re-probes the DCs marked down with a service bind each (not while service binds pause). */
  async probeDown(): Promise<void> {
    for (const s of this.dcs.servers.down()) {
      if (this.closed) break;
      if (s.url === this.service?.url) continue;
      // Paused after a refused password: a probe bind would count towards AD's lockout too.
      if (this.refusals.pausedFor(this.clock.monotonic()) !== undefined) break;
      let conn: LdapConnection | undefined;
      try {
        conn = await this.dcs.open(s.url, this.cfg.timeoutMs);
        await conn.within('bind (probe)', this.cfg.timeoutMs, (c) =>
          serviceBind(c, this.cfg.bindDn, this.cfg.bindPassword),
        );
        await conn.close();
        this.dcs.markUp(s.url);
        this.refusals.clear();
        this.log.info({ url: s.url }, 'domain controller answers again');
      } catch (e) {
        conn?.destroy();
        if (isServiceRefusal(e)) this.noteRefused(s.url, e);
        this.dcs.servers.markDown(s.url, brief(e), this.clock.monotonic());
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const svc = this.service;
    this.service = undefined;
    if (svc) await svc.conn.close();
  }
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
