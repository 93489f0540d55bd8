/**
 * The domain controllers one directory config talks to: the configured URLs plus those found by
 * DNS SRV, their up/down state, the settings every connection to them is opened with (TLS rules,
 * resumable TLS sessions), and the one place a DC failure is noted.
 */
import type { SrvRecord } from 'node:dns';
import type { LdapDirectoryConfig } from '../config/schema.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import {
  LdapConnection,
  TlsSessionCache,
  brief,
  type ConnectOptions,
  type TlsSettings,
} from './connection.ts';
import { ServerPool, srvTargetInside, srvToUrls } from './failover.ts';

const SRV_REFRESH_MS = 10 * 60_000;

export class DomainControllers {
  readonly servers: ServerPool;
  readonly sessions = new TlsSessionCache();
  /** Secret-free description of the last failure, for health. */
  lastError: string | undefined;
  private srvAt = -Infinity;

  constructor(
    private readonly cfg: LdapDirectoryConfig,
    private readonly tls: TlsSettings,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly resolveSrv: (name: string) => Promise<SrvRecord[]>,
  ) {
    this.servers = new ServerPool(cfg.urls, clock.monotonic());
  }

  settingsFor(url: string, budgetMs: number): ConnectOptions {
    return {
      url,
      startTls: this.cfg.startTls,
      allowInsecure: this.cfg.allowInsecure,
      tls: this.tls,
      budgetMs,
      sessions: this.sessions,
    };
  }

  /** A new connection to `url` (TCP, TLS or StartTLS) within `budgetMs`. */
  open(url: string, budgetMs: number): Promise<LdapConnection> {
    return LdapConnection.open(this.settingsFor(url, budgetMs));
  }

  noteFailure(url: string, e: unknown): void {
    this.lastError = `${url}: ${brief(e)}`;
    const wasUp = this.servers.list().find((x) => x.url === url)?.up ?? false;
    this.servers.markDown(url, brief(e), this.clock.monotonic());
    // Log the change, not every failed attempt: an outage must not flood the log.
    if (wasUp) this.log.warn({ url, err: brief(e) }, 'domain controller marked down');
  }

  markUp(url: string): void {
    this.servers.markUp(url, this.clock.monotonic());
  }

  /**
   * Adds the DCs that DNS SRV names for `srvDomain` (every 10 min). Only targets inside that
   * domain are taken, and only with a pinned CA (`caFile`): DNS is not authenticated, and with the
   * system CAs any public certificate for an attacker's name would receive every password.
   */
  async refreshSrv(): Promise<void> {
    const domain = this.cfg.srvDomain;
    if (domain === undefined || this.clock.monotonic() - this.srvAt < SRV_REFRESH_MS) return;
    this.srvAt = this.clock.monotonic();
    const name = `_ldap._tcp.dc._msdcs.${domain}`;
    if (this.tls.ca === undefined) {
      this.lastError = `DNS SRV ${name}: refused without directory.caFile (a pinned CA)`;
      this.log.error({ name }, 'DC discovery by DNS SRV needs directory.caFile; using the configured URLs');
      return;
    }
    try {
      const records = await this.resolveSrv(name);
      const inside = records.filter((r) => srvTargetInside(r.name, domain));
      const outside = records.filter((r) => !srvTargetInside(r.name, domain)).map((r) => r.name);
      if (outside.length > 0)
        this.log.warn(
          { name, refused: outside },
          'DNS SRV named domain controllers outside directory.srvDomain; they are not used',
        );
      this.servers.setUrls(
        [...this.cfg.urls, ...srvToUrls(inside, this.cfg.srvUseLdaps)],
        this.clock.monotonic(),
      );
    } catch (e) {
      this.lastError = `DNS SRV ${name}: ${brief(e)}`;
      this.log.warn({ name, err: brief(e) }, 'DC discovery by DNS SRV failed; using the configured URLs');
    }
  }
}
