/**
 * RFC 5080 §2.2.2 duplicate detection. A NAS that times out resends the same packet (same
 * source, ID and Request Authenticator); running it again would mean a second LDAP bind and a
 * second SMS. While the first is in flight the copy is ignored; once answered, the copy gets the
 * byte-identical reply for `ttlMs`. Bounded: the oldest entries go first when the cap is reached,
 * so a flood cannot grow memory.
 */
import type { Clock } from '../clock.ts';

export type DedupeResult = { kind: 'new' } | { kind: 'in-flight' } | { kind: 'replay'; reply: Buffer };

export interface ReplyCacheOptions {
  /** How long a completed reply is replayed, ms (radius.duplicateCacheSeconds × 1000). */
  ttlMs: number;
  /** [1...1e6] entries, in flight and completed together. */
  capacity: number;
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

export class ReplyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly opts: ReplyCacheOptions) {}

  get size(): number {
    return this.entries.size;
  }

  get capacity(): number {
    return this.opts.capacity;
  }

  /** Looks the key up; a miss registers it as in flight. */
  begin(key: string): DedupeResult {
    const now = this.opts.clock.monotonic();
    this.sweep(now);
    const e = this.entries.get(key);
    if (e && e.expires > now)
      return e.reply !== undefined
        ? { kind: 'replay', reply: Buffer.from(e.reply, 'latin1') }
        : { kind: 'in-flight' };
    if (e) this.entries.delete(key);
    while (this.entries.size >= this.opts.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, { reply: undefined, expires: now + this.opts.inFlightTimeoutMs });
    return { kind: 'new' };
  }

  /** Stores the reply for replay; moves the entry to the young end. */
  complete(key: string, reply: Buffer): void {
    this.entries.delete(key);
    if (this.entries.size >= this.opts.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, {
      reply: reply.toString('latin1'),
      expires: this.opts.clock.monotonic() + this.opts.ttlMs,
    });
  }

  /** Forgets a request that got no reply, so the NAS's next retransmit is handled afresh. */
  abandon(key: string): void {
    const e = this.entries.get(key);
    if (e && e.reply === undefined) this.entries.delete(key);
  }

  /** Drops expired entries from the old end; amortised O(1) per call. */
  private sweep(now: number): void {
    let budget = 64;
    for (const [k, e] of this.entries) {
      if (budget-- === 0 || e.expires > now) break;
      this.entries.delete(k);
    }
  }

  /** Live reconfiguration; a smaller capacity takes effect as entries are added. */
  configure(o: { ttlMs?: number; capacity?: number; inFlightTimeoutMs?: number }): void {
    if (o.ttlMs !== undefined) this.opts.ttlMs = o.ttlMs;
    if (o.capacity !== undefined) this.opts.capacity = o.capacity;
    if (o.inFlightTimeoutMs !== undefined) this.opts.inFlightTimeoutMs = o.inFlightTimeoutMs;
    while (this.entries.size > this.opts.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}
