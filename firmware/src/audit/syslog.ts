/**
 * Audit records to SIEM collectors over syslog: RFC 5424 messages over UDP (RFC 5426), TCP with
 * octet counting (RFC 6587) or TLS (RFC 5425, the CA optionally pinned).
 *
 * `send()` queues the record; it never waits and never throws, so a collector
 * that is down, slow or black-holed costs RADIUS nothing. Each target keeps a bounded queue:
 * while the collector is unreachable (or stops reading), records wait there, and beyond
 * `maxBuffered` the oldest are dropped and counted. A lost connection is retried with backoff
 * (1 s doubling to 30 s, with jitter) for as long as the service runs.
 *
 * What TCP cannot tell us: frames handed to a socket that then breaks are lost unseen (syslog
 * has no acknowledgements); `sent` counts frames written to the socket.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { hostname } from 'node:os';
import tls from 'node:tls';
import type { SyslogTargetConfig } from '../config/audit-schema.ts';
import { parseSyslogUrl } from '../config/syslog-url.ts';
import { describeError } from '../errors.ts';
import { logger } from '../log.ts';
import type { AuditRecord } from './records.ts';
import { formatSyslog, octetCounted } from './syslog-format.ts';

export interface SyslogTargetStats {
  url: string;
  /** Connected (tcp, tls) or resolved (udp). */
  connected: boolean;
  /** Messages handed to the network. */
  sent: number;
  /** Messages dropped because the queue was full (the oldest go first). */
  dropped: number;
  /** Messages waiting. */
  buffered: number;
  /** Connection failures and send errors since start. */
  errors: number;
  lastError?: string;
  /** Wall ms since the target has been unreachable; absent while connected. */
  downSince?: number;
}

export interface SyslogOptions {
  /** [10...60000] ms, default 1000: the first reconnect delay; it doubles up to retryMaxMs. */
  retryMinMs?: number;
  /** [100...600000] ms, default 30000. */
  retryMaxMs?: number;
  /** [100...60000] ms, default 10000: a connection (and TLS handshake) not up by then is abandoned. */
  connectTimeoutMs?: number;
  /** [1 KiB...16 MiB], default 256 KiB: bytes left unsent in a socket before we stop writing to it. */
  highWaterBytes?: number;
  hostname?: string;
  now?: () => number;
}

const UDP_MAX_BYTES = 2048; // RFC 5426 §3.2: every receiver must take this much
const STREAM_MAX_BYTES = 64 * 1024;
const log = logger('syslog');

/** A FIFO with O(1) push and shift, and drop-oldest when full. */
class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;
  dropped = 0;
  constructor(readonly capacity: number) {}
  get length(): number {
    return this.items.length - this.head;
  }
  push(x: T): void {
    this.items.push(x);
    if (this.length > this.capacity) {
      this.head++;
      this.dropped++;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const x = this.items[this.head];
    this.items[this.head] = undefined as T;
    this.head++;
    return x;
  }
}

export class SyslogTarget {
  readonly url: string;
  private readonly transport: 'udp' | 'tcp' | 'tls';
  private readonly host: string;
  private readonly port: number;
  private readonly queue: BoundedQueue<AuditRecord>;
  private pumpScheduled = false;
  private readonly o: Required<SyslogOptions>;
  private readonly procId = process.pid;
  private stream: net.Socket | undefined;
  private udp: dgram.Socket | undefined;
  private udpInFlight = 0;
  private connected = false;
  private connecting = false;
  private retryMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private sent = 0;
  private errors = 0;
  private lastError: string | undefined;
  private downSince: number | undefined;

  constructor(
    private readonly cfg: SyslogTargetConfig,
    opts: SyslogOptions = {},
  ) {
    const u = parseSyslogUrl(cfg.url);
    if (!u) throw new Error(`not a syslog URL: ${cfg.url}`);
    this.url = cfg.url;
    this.transport = u.transport;
    this.host = u.host;
    this.port = u.port;
    this.queue = new BoundedQueue(cfg.maxBuffered);
    this.o = {
      retryMinMs: opts.retryMinMs ?? 1000,
      retryMaxMs: opts.retryMaxMs ?? 30_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      highWaterBytes: opts.highWaterBytes ?? 256 * 1024,
      hostname: opts.hostname ?? hostname(),
      now: opts.now ?? Date.now,
    };
    this.retryMs = this.o.retryMinMs;
    this.downSince = this.o.now();
    this.connect();
  }

  /**
   * Queues the record and returns at once; never throws. Formatting and writing happen on a later
   * turn of the event loop, after the RADIUS reply this record describes has left.
   */
  send(r: AuditRecord): void {
    if (this.closed) return;
    this.queue.push(r);
    if (this.pumpScheduled || !this.connected) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** The record as bytes for this target, or undefined (counted as an error) if it cannot be. */
  private frame(r: AuditRecord): Buffer | undefined {
    try {
      const msg = formatSyslog(r, {
        facility: this.cfg.facility,
        hostname: this.o.hostname,
        procId: this.procId,
        maxBytes: this.transport === 'udp' ? UDP_MAX_BYTES : STREAM_MAX_BYTES,
      });
      return this.transport === 'udp' ? Buffer.from(msg) : octetCounted(msg);
    } catch (e) {
      this.fail(e);
      return undefined;
    }
  }

  stats(): SyslogTargetStats {
    const s: SyslogTargetStats = {
      url: this.url,
      connected: this.connected,
      sent: this.sent,
      dropped: this.queue.dropped,
      buffered: this.queue.length,
      errors: this.errors,
    };
    if (this.lastError !== undefined) s.lastError = this.lastError;
    if (this.downSince !== undefined) s.downSince = this.downSince;
    return s;
  }

  /** Writes what it can within `timeoutMs` (default 1000), then closes. */
  async close(timeoutMs = 1000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    const s = this.stream;
    if (s && this.connected) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          s.destroy();
          resolve();
        }, timeoutMs);
        t.unref();
        s.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        s.end();
      });
    } else s?.destroy();
    this.udp?.close();
    this.udp = undefined;
    this.stream = undefined;
    this.connected = false;
  }

  private fail(e: unknown): void {
    this.errors++;
    const why = describeError(e);
    if (why !== this.lastError)
      log.warn({ target: this.url, err: why, waiting: this.queue.length }, 'syslog target unreachable');
    this.lastError = why;
  }

  private down(e: unknown): void {
    if (e !== undefined) this.fail(e);
    this.connected = false;
    this.connecting = false;
    this.downSince ??= this.o.now();
    this.stream = undefined;
    try {
      this.udp?.close();
    } catch {
      // already closed by its own error
    }
    this.udp = undefined;
    if (this.closed || this.retryTimer) return;
    const jitter = 0.8 + Math.random() * 0.4;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, this.retryMs * jitter);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.o.retryMaxMs, this.retryMs * 2);
  }

  private up(): void {
    this.connected = true;
    this.connecting = false;
    if (this.lastError !== undefined) log.info({ target: this.url }, 'syslog target reachable again');
    this.downSince = undefined;
    this.retryMs = this.o.retryMinMs;
    this.pump();
  }

  private connect(): void {
    if (this.closed || this.connecting || this.connected) return;
    this.connecting = true;
    if (this.transport === 'udp') void this.connectUdp();
    else this.connectStream();
  }

  private async connectUdp(): Promise<void> {
    try {
      // Resolved once per connection, not per message; a send error brings a fresh look-up.
      const a = await lookup(this.host);
      if (this.closed) return;
      const sock = dgram.createSocket(a.family === 6 ? 'udp6' : 'udp4');
      sock.unref();
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.connect(this.port, a.address, () => {
          sock.off('error', reject);
          resolve();
        });
      });
      sock.on('error', (e) => {
        if (this.udp === sock) this.down(e);
      });
      this.udp = sock;
      this.up();
    } catch (e) {
      this.down(e);
    }
  }

  private connectStream(): void {
    let sock: net.Socket;
    try {
      sock =
        this.transport === 'tls'
          ? tls.connect({
              host: this.host,
              port: this.port,
              // The certificate is checked against serverName, else the host (an IP against its IP SANs).
              ...(this.cfg.serverName !== undefined || net.isIP(this.host) === 0
                ? { servername: this.cfg.serverName ?? this.host }
                : {}),
              // Read at each connection, so a renewed CA file is picked up without a restart.
              ...(this.cfg.caFile ? { ca: readFileSync(this.cfg.caFile) } : {}),
              ...(this.cfg.certFile && this.cfg.keyFile
                ? { cert: readFileSync(this.cfg.certFile), key: readFileSync(this.cfg.keyFile) }
                : {}),
              minVersion: 'TLSv1.2',
              rejectUnauthorized: true,
            })
          : net.connect({ host: this.host, port: this.port });
    } catch (e) {
      this.down(e);
      return;
    }
    this.stream = sock;
    sock.unref();
    sock.setTimeout(this.o.connectTimeoutMs, () =>
      sock.destroy(new Error(`no connection within ${this.o.connectTimeoutMs} ms`)),
    );
    sock.once(this.transport === 'tls' ? 'secureConnect' : 'connect', () => {
      sock.setTimeout(0);
      sock.setKeepAlive(true, 60_000);
      this.up();
    });
    sock.on('drain', () => this.pump());
    // A collector has nothing to say; whatever it sends is read and ignored.
    sock.on('data', () => undefined);
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => {
      if (this.stream === sock) this.down(undefined);
    });
  }

  private pump(): void {
    if (!this.connected) return;
    if (this.udp) {
      const u = this.udp;
      // A few datagrams in flight at most: the rest wait in the bounded queue, not in libuv.
      while (this.udpInFlight < 32 && this.queue.length > 0) {
        const r = this.queue.shift();
        if (!r) break;
        const frame = this.frame(r);
        if (!frame) continue;
        this.udpInFlight++;
        u.send(frame, (e) => {
          this.udpInFlight--;
          // UDP is lossy by design: an ICMP refusal costs this message, not the target.
          if (e) this.fail(e);
          else this.sent++;
          if (this.queue.length > 0) this.pump();
        });
      }
      return;
    }
    const s = this.stream;
    if (!s) return;
    while (this.queue.length > 0 && s.writableLength < this.o.highWaterBytes) {
      const r = this.queue.shift();
      if (!r) break;
      const frame = this.frame(r);
      if (!frame) continue;
      this.sent++;
      if (!s.write(frame)) break;
    }
  }
}

/** Every configured target; `send()` hands a record to each. */
export class SyslogForwarder {
  private targets = new Map<string, SyslogTarget>();

  constructor(
    configs: readonly SyslogTargetConfig[],
    private readonly opts: SyslogOptions = {},
  ) {
    this.reconfigure(configs);
  }

  send(r: AuditRecord): void {
    for (const t of this.targets.values()) t.send(r);
  }

  /** Keeps targets whose config is unchanged (with their queues), opens new ones, closes the rest. */
  reconfigure(configs: readonly SyslogTargetConfig[]): void {
    const next = new Map<string, SyslogTarget>();
    for (const c of configs) {
      const key = JSON.stringify(c);
      if (next.has(key)) continue;
      next.set(key, this.targets.get(key) ?? new SyslogTarget(c, this.opts));
    }
    for (const [k, t] of this.targets) if (!next.has(k)) void t.close();
    this.targets = next;
  }

  stats(): SyslogTargetStats[] {
    return [...this.targets.values()].map((t) => t.stats());
  }

  async close(): Promise<void> {
    await Promise.all([...this.targets.values()].map((t) => t.close()));
    this.targets.clear();
  }
}
