/**
 * RFC 5080 §2.2.2 duplicate detection. A NAS that times out resends the same packet (same
 * source, ID and Request Authenticator); running it again would mean a second LDAP bind and a
 * second SMS. While the first is in flight the copy is ignored; once answered, the copy gets the
 * byte-identical reply for `ttlMs`. Bounded in entries and in bytes: the oldest entries go first
 * when either cap is reached, so neither a flood nor large replies (a NAS's Proxy-State echoed
 * back, up to 4 KB each) can grow the heap past what the unit allows.
 */
import type { Clock } from '../clock.ts';

export type DedupeResult = { kind: 'new' } | { kind: 'in-flight' } | { kind: 'replay'; reply: Buffer };

/** The answers without a payload, shared: one fewer object per request. */
const NEW: DedupeResult = Object.freeze({ kind: 'new' });
const IN_FLIGHT: DedupeResult = Object.freeze({ kind: 'in-flight' });

export interface ReplyCacheOptions {
  /** How long a completed reply is replayed, ms (radius.duplicateCacheSeconds × 1000). */
  ttlMs: number;
  /** [1...1e6] entries, in flight and completed together. */
  capacity: number;
  /** Bytes of keys and replies held, with ENTRY_OVERHEAD per entry; default 16 MiB. */
  maxBytes?: number;
  /** How long an unanswered request blocks its copies, ms; after that a copy runs anew. */
  inFlightTimeoutMs: number;
  clock: Clock;
}

interface Entry {
  /** The reply as a latin1 string: a flat string costs a fraction of a Buffer (object + backing store). */
  reply: string | undefined;
  expires: number;
}

/**
 * A flat one-byte string (authenticator | identifier | port | address). Built through a Buffer so
 * V8 stores it in one piece: a template literal would keep a rope of five strings per entry.
 */
export function dedupeKey(address: string, port: number, identifier: number, authenticator: Buffer): string {
  const b = Buffer.allocUnsafe(19 + address.length);
  authenticator.copy(b, 0, 0, 16);
  b[16] = identifier;
  b.writeUInt16BE(port, 17);
  b.write(address, 19, 'latin1');
  return b.toString('latin1');
}

/** What one entry costs beyond its key and reply (Map slot, entry object, string headers), bytes. */
export const ENTRY_OVERHEAD = 96;
export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

const cost = (key: string, reply: string | undefined): number =>
  ENTRY_OVERHEAD + key.length + (reply?.length ?? 0);

export class ReplyCache {
  private readonly entries = new Map<string, Entry>();
  private held = 0;

  constructor(private readonly opts: ReplyCacheOptions) {}

  get size(): number {
    return this.entries.size;
  }

  get capacity(): number {
    return this.opts.capacity;
  }

  /** Bytes held now (keys, replies and the per-entry overhead). */
  get bytes(): number {
    return this.held;
  }

  get maxBytes(): number {
    return this.opts.maxBytes ?? DEFAULT_MAX_BYTES;
  }

  private remove(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.held -= cost(key, e.reply);
    this.entries.delete(key);
  }

  private put(key: string, e: Entry): void {
    this.entries.set(key, e);
    this.held += cost(key, e.reply);
  }

  /** Drops the oldest entries until `room` more bytes and one more entry fit under both caps. */
  private makeRoom(room: number): void {
    while (
      this.entries.size > 0 &&
      (this.entries.size >= this.opts.capacity || this.held + room > this.maxBytes)
    ) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.remove(oldest.value);
    }
  }

  /** Looks the key up; a miss registers it as in flight. */
  begin(key: string): DedupeResult {
    const now = this.opts.clock.monotonic();
    this.sweep(now);
    const e = this.entries.get(key);
    if (e && e.expires > now)
      return e.reply !== undefined ? { kind: 'replay', reply: Buffer.from(e.reply, 'latin1') } : IN_FLIGHT;
    if (e) this.remove(key);
    this.makeRoom(cost(key, undefined));
    this.put(key, { reply: undefined, expires: now + this.opts.inFlightTimeoutMs });
    return NEW;
  }

  /** Stores the reply for replay; moves the entry to the young end. */
  complete(key: string, reply: Buffer): void {
    this.remove(key);
    const text = reply.toString('latin1');
    this.makeRoom(cost(key, text));
    this.put(key, { reply: text, expires: this.opts.clock.monotonic() + this.opts.ttlMs });
  }

  /** Forgets a request that got no reply, so the NAS's next retransmit is handled afresh. */
  abandon(key: string): void {
    const e = this.entries.get(key);
    if (e && e.reply === undefined) this.remove(key);
  }

  /** Drops expired entries from the old end; amortised O(1) per call. */
  private sweep(now: number): void {
    let budget = 64;
    for (const [k, e] of this.entries) {
      if (budget-- === 0 || e.expires > now) break;
      this.remove(k);
    }
  }

  /** Live reconfiguration; a smaller capacity takes effect as entries are added. */
  configure(o: { ttlMs?: number; capacity?: number; inFlightTimeoutMs?: number; maxBytes?: number }): void {
    if (o.ttlMs !== undefined) this.opts.ttlMs = o.ttlMs;
    if (o.capacity !== undefined) this.opts.capacity = o.capacity;
    if (o.inFlightTimeoutMs !== undefined) this.opts.inFlightTimeoutMs = o.inFlightTimeoutMs;
    if (o.maxBytes !== undefined) this.opts.maxBytes = o.maxBytes;
    while (this.entries.size > this.opts.capacity || this.held > this.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.remove(oldest.value);
    }
  }
}
