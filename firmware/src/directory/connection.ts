/**
 * One LDAP connection to one DC (ldapts), with the security rules and time limits applied:
 * ldaps:// or ldap:// + StartTLS with the CA pinned, plain binds only when allowed, and every step
 * raced against a budget. On a timeout the sockets are destroyed, so a DC that accepted TCP and then
 * went silent (a black hole) cannot hold a login past its deadline.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Client, InvalidCredentialsError, ResultCodeError } from 'ldapts';
import { ErrorCode, MfaError, describeError } from '../errors.ts';

export interface TlsSettings {
  /** PEM CA bundle; when set, only these CAs are trusted. */
  ca?: string;
  /** Name the certificate must carry when the URL host is an IP or an alias. */
  servername?: string;
}

export interface ConnectOptions {
  url: string;
  startTls: boolean;
  allowInsecure: boolean;
  tls: TlsSettings;
  /** ms for TCP + TLS (+ StartTLS). */
  budgetMs: number;
  /** TLS sessions to resume, by URL: a reconnect then costs no full handshake, here or on the DC. */
  sessions?: TlsSessionCache;
}

/**
 * The last TLS session (ticket) each DC gave, by URL. Resuming it skips the certificate exchange
 * and the key agreement's public-key work on both sides; the certificate was checked when the
 * session was made, with the same CA and name rules (a changed config makes a new cache).
 */
export class TlsSessionCache {
  private readonly byUrl = new Map<string, Buffer>();
  /** Handshakes that resumed a session / that did not, for the bench and health detail. */
  resumed = 0;
  full = 0;

  get(url: string): Buffer | undefined {
    return this.byUrl.get(url);
  }

  /** Watches a TLS socket: counts whether it resumed, and keeps the newest ticket it is given. */
  watch(url: string, s: tls.TLSSocket): void {
    s.on('session', (session: Buffer) => this.byUrl.set(url, session));
    s.once('secureConnect', () => {
      if (s.isSessionReused()) this.resumed++;
      else this.full++;
    });
  }
}

/** The step a failure belongs to, in the words `mfabox directory test` prints. */
export type Step = 'DNS' | 'TCP' | 'TLS' | 'bind' | 'search' | 'timeout' | 'config';

export function stepOf(e: unknown): Step {
  if (!(e instanceof MfaError)) return 'TCP';
  switch (e.code) {
    case ErrorCode.DirectoryDnsFailed:
      return 'DNS';
    case ErrorCode.DirectoryTlsFailed:
      return 'TLS';
    case ErrorCode.DirectoryBindFailed:
      return 'bind';
    case ErrorCode.DirectorySearchFailed:
    case ErrorCode.DirectoryGroupNotFound:
    case ErrorCode.DirectoryUserAmbiguous:
      return 'search';
    case ErrorCode.DirectoryTimeout:
      return 'timeout';
    case ErrorCode.DirectoryInsecureRefused:
      return 'config';
    default:
      return 'TCP';
  }
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'ENODATA']);

/** Turns whatever ldapts or node threw while connecting into an MfaError naming the step. */
export function connectError(url: string, e: unknown): MfaError {
  if (e instanceof MfaError) return e;
  const code = (e as { code?: unknown } | undefined)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  // Only called for LDAP answers to StartTLS (open() handles the rootDSE case): a refusal.
  if (e instanceof ResultCodeError)
    return new MfaError(
      `TLS: ${url}: the server refused StartTLS (${e.code}: ${msg.trim() || e.name})`,
      ErrorCode.DirectoryTlsFailed,
      {
        cause: e,
      },
    );
  if (typeof code === 'string' && DNS_CODES.has(code))
    return new MfaError(`DNS: cannot resolve the host of ${url} (${code})`, ErrorCode.DirectoryDnsFailed, {
      cause: e,
      flags: { retryable: true },
    });
  const tlsish =
    (typeof code === 'string' &&
      (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SIGNATURE|ISSUER/.test(code))) ||
    /certificate|SSL|TLS|handshake/i.test(msg);
  if (tlsish) return new MfaError(`TLS: ${url}: ${msg}`, ErrorCode.DirectoryTlsFailed, { cause: e });
  if (/Connection timeout/i.test(msg))
    return new MfaError(`TCP: ${url}: no connection within the time budget`, ErrorCode.DirectoryTimeout, {
      cause: e,
      flags: { retryable: true },
    });
  return new MfaError(
    `TCP: ${url}: ${typeof code === 'string' ? code : msg}`,
    ErrorCode.DirectoryUnavailable,
    {
      cause: e,
      flags: { retryable: true, disconnected: true },
    },
  );
}

/** True for failures that say "this DC is unreachable or silent", as opposed to an LDAP answer. */
export function isTransportFailure(e: unknown): boolean {
  if (e instanceof MfaError)
    return [
      ErrorCode.DirectoryUnavailable,
      ErrorCode.DirectoryTimeout,
      ErrorCode.DirectoryDnsFailed,
      ErrorCode.DirectoryTlsFailed,
    ].includes(e.code);
  return !(e instanceof ResultCodeError);
}

/**
 * LDAP busy (51) and unavailable (52): the DC says it cannot serve now (overloaded, shutting down, a
 * subsystem offline) and did not carry the operation out, so another DC may and should be asked.
 */
export function isDcBusy(e: unknown): boolean {
  return e instanceof ResultCodeError && (e.code === 51 || e.code === 52);
}

export function isInvalidCredentials(e: unknown): e is InvalidCredentialsError {
  return e instanceof InvalidCredentialsError;
}

function tlsConnectionOptions(host: string, s: TlsSettings): tls.ConnectionOptions {
  const opts: tls.ConnectionOptions = { rejectUnauthorized: true, minVersion: 'TLSv1.2' };
  if (s.ca !== undefined) opts.ca = s.ca;
  const name = s.servername ?? host;
  // SNI must be a host name, never an IP (RFC 6066); the identity check still runs against `name`.
  if (net.isIP(name) === 0) opts.servername = name;
  opts.checkServerIdentity = (_host, cert) => tls.checkServerIdentity(name, cert);
  return opts;
}

export class LdapConnection {
  readonly client: Client;
  /**
   * Told when an operation stayed silent past its silence limit (the connection is then already
   * destroyed), also after its caller stopped waiting: the owner marks the DC down.
   */
  onSilence: ((e: MfaError) => void) | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly watchdogs = new Set<NodeJS.Timeout>();
  private destroyed = false;
  private retired = false;
  private opened = false;
  private inFlight = 0;

  private constructor(
    readonly url: string,
    private readonly host: string,
    private readonly secure: boolean,
    private readonly settings: TlsSettings,
    connectTimeout: number,
    sessions: TlsSessionCache | undefined,
  ) {
    const track = <S extends net.Socket>(s: S): S => {
      this.sockets.add(s);
      s.once('close', () => {
        this.sockets.delete(s);
        // ldapts reconnects by itself on the next operation, and after StartTLS that new socket
        // would be plain TCP: a connection whose socket closed is dead for good.
        if (this.opened) this.destroyed = true;
      });
      // Idle pooled connections must survive stateful firewalls between the box and the DC.
      s.setKeepAlive(true, 60_000);
      s.setNoDelay(true);
      return s;
    };
    const createConnection = ((port: number, h: string) =>
      track(net.connect({ port, host: h }))) as unknown as typeof net.connect;
    const secureSocket = (o: tls.ConnectionOptions): tls.TLSSocket => {
      const session = sessions?.get(url);
      const s = tls.connect(session ? { ...o, session } : o);
      sessions?.watch(url, s);
      return s;
    };
    const createSecureConnection = ((
      a: number | tls.ConnectionOptions,
      h?: string,
      o?: tls.ConnectionOptions,
    ) =>
      track(
        typeof a === 'number' ? secureSocket({ ...o, port: a, host: h ?? host }) : secureSocket(a),
      )) as unknown as typeof tls.connect;
    this.client = new Client({
      url,
      connectTimeout,
      // Only ldaps:// gets tlsOptions: ldapts treats any tlsOptions as "connect with TLS".
      ...(secure ? { tlsOptions: tlsConnectionOptions(host, settings) } : {}),
      createConnection,
      createSecureConnection,
      strictDN: false,
    });
  }

  /** Connects (TCP, TLS or StartTLS) within `budgetMs`; throws an MfaError naming the step. */
  static async open(o: ConnectOptions): Promise<LdapConnection> {
    let parsed: URL;
    try {
      parsed = new URL(o.url);
    } catch (e) {
      throw new MfaError(`not an LDAP URL: ${o.url}`, ErrorCode.ConfigInvalid, {
        cause: e,
        field: 'directory.urls',
      });
    }
    const secure = parsed.protocol === 'ldaps:';
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    if (!secure && !o.startTls && !o.allowInsecure)
      throw new MfaError(
        `${o.url}: plain LDAP without StartTLS would send passwords in clear (set startTls, use ldaps://, or allowInsecure)`,
        ErrorCode.DirectoryInsecureRefused,
        { field: 'directory.startTls' },
      );
    const conn = new LdapConnection(o.url, host, secure, o.tls, Math.max(1, o.budgetMs), o.sessions);
    // Any failure to connect (StartTLS refused, TLS error) closes the socket, not only a timeout.
    await conn
      .within('connect', o.budgetMs, async (c) => {
        try {
          if (!secure && o.startTls) {
            await c.startTLS({ ...tlsConnectionOptions(host, o.tls), host });
          } else {
            // ldapts connects lazily: force it with a harmless rootDSE read. Any LDAP answer, even a
            // refusal, proves TCP and TLS work.
            await c
              .search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] })
              .catch((e: unknown) => {
                if (!(e instanceof ResultCodeError)) throw e;
              });
          }
        } catch (e) {
          throw connectError(o.url, e);
        }
      })
      .catch((e: unknown) => {
        conn.destroy();
        throw e;
      });
    conn.opened = true;
    return conn;
  }

  /**
   * Runs one operation with two limits. `ms` is how long this caller waits: often its share of a
   * login's deadline, which says nothing about the DC. `silenceMs` (default `ms`) is how long the DC
   * may stay silent before it counts as dead: then the connection is destroyed, `onSilence` told,
   * and a DirectoryTimeout thrown. When the caller's wait ends first, it gets a DirectoryTimeout
   * flagged `canceled` and the operation goes on (the connection stays usable, the silence limit
   * still applies); the abandoned promise is silenced.
   */
  async within<T>(
    what: string,
    ms: number,
    fn: (c: Client) => Promise<T>,
    silenceMs: number = ms,
  ): Promise<T> {
    if (this.destroyed || (this.opened && !this.client.isConnected))
      throw new MfaError(`${this.url}: connection already closed`, ErrorCode.DirectoryUnavailable, {
        flags: { disconnected: true, retryable: true },
      });
    if (ms <= 0) throw deadlinePassed(what, this.url);
    const p = fn(this.client);
    this.inFlight++;
    // One promise and one timer at a time per operation (this runs twice per login): the
    // caller's wait first, then, if that ends unanswered, the rest of the silence limit.
    return new Promise<T>((resolve, reject) => {
      let waiting = true;
      const limit = Math.max(ms, silenceMs);
      const silent = (): void => {
        this.watchdogs.delete(timer);
        const e = new MfaError(
          `${what} on ${this.url}: no answer within ${limit} ms`,
          ErrorCode.DirectoryTimeout,
          {
            flags: { retryable: true },
          },
        );
        this.destroy();
        this.onSilence?.(e);
        if (waiting) {
          waiting = false;
          reject(e);
        }
      };
      const watch = (after: number): NodeJS.Timeout => {
        const t = setTimeout(silent, after);
        t.unref();
        this.watchdogs.add(t);
        return t;
      };
      let timer =
        silenceMs > ms
          ? setTimeout(() => {
              if (waiting) {
                waiting = false;
                reject(deadlinePassed(what, this.url, ms));
              }
              // A destroyed connection has already failed the operation: nothing left to watch.
              if (!this.destroyed) timer = watch(limit - ms);
            }, ms)
          : watch(limit);
      // Bookkeeping before the caller resumes, so a connection handed back is no longer busy.
      const settled = (): void => {
        clearTimeout(timer);
        this.watchdogs.delete(timer);
        this.inFlight--;
        if (this.retired && this.inFlight === 0) void this.close();
      };
      p.then(
        (v) => {
          settled();
          if (waiting) {
            waiting = false;
            resolve(v);
          }
        },
        (e: unknown) => {
          settled();
          if (waiting) {
            waiting = false;
            // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- ldapts's own error, passed on as is
            reject(e);
          }
        },
      );
    });
  }

  /**
   * No new operations; closes once those in flight have settled (at once when there are none),
   * so a late answer is still read and a silent DC still caught by the silence limit.
   */
  retire(): void {
    this.retired = true;
    // A DC that never answers must not hold up a shutdown until the silence limit.
    for (const s of this.sockets) s.unref();
    if (this.inFlight === 0) void this.close();
  }

  /** Usable for another operation (not destroyed, socket still connected). */
  get alive(): boolean {
    return !this.destroyed && !this.retired && this.client.isConnected;
  }

  /** Operations sent and not yet answered (or given up on by the silence limit). */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  get isSecure(): boolean {
    return this.secure;
  }

  get tlsName(): string {
    return this.settings.servername ?? this.host;
  }

  destroy(): void {
    this.destroyed = true;
    for (const t of this.watchdogs) clearTimeout(t);
    this.watchdogs.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Polite close: unbind if it answers quickly, then destroy regardless. */
  async close(): Promise<void> {
    if (this.destroyed) return;
    const unbind = this.client.unbind().catch(() => undefined);
    await Promise.race([unbind, new Promise((r) => setTimeout(r, 200).unref())]);
    this.destroy();
  }
}

/**
 * The caller's time ran out (its share of a login's deadline), not the DC's: nothing is known about
 * the DC, so it must not be marked down for it.
 */
function deadlinePassed(what: string, url: string, ms?: number): MfaError {
  return new MfaError(
    ms === undefined
      ? `${what} on ${url}: the login's deadline had already passed`
      : `${what} on ${url}: no answer within the ${ms} ms left of the login's deadline`,
    ErrorCode.DirectoryTimeout,
    { flags: { retryable: true, canceled: true } },
  );
}

/** True when only the caller's deadline ran out (see `LdapConnection.within`), not the DC. */
export function isDeadlineExhausted(e: unknown): boolean {
  return e instanceof MfaError && e.code === ErrorCode.DirectoryTimeout && e.flags.canceled === true;
}

/** A secret-free one-liner for logs and health. */
export function brief(e: unknown): string {
  return describeError(e).split('\n')[0] ?? '';
}
