/**
 * Where each user completed MFA from, for the `ipSeenWithinDays` condition: the store's
 * 'ip-history' table, key `user|ip`, value the last wall ms. Written by an accepted second factor
 * in the same durable batch that marks its challenge used (`recordOp`): no write of its own.
 */
import type { Clock } from '../clock.ts';
import type { Store, StoreOp, Table } from '../store/store.ts';
import type { ClientIp } from './calling-station.ts';
import type { IpHistoryFact } from './conditions.ts';

interface Seen {
  t: number;
}

export class IpHistory {
  private readonly table: Table<Seen>;

  constructor(
    store: Store,
    private readonly clock: Clock,
  ) {
    this.table = store.table<Seen>('ip-history');
  }

  async fact(user: string, ip: ClientIp | undefined): Promise<IpHistoryFact> {
    if (!ip) return { known: false, why: 'no end-user IP (Calling-Station-Id)' };
    const v = await this.table.get(`${user}|${ip.address}`);
    return { known: true, lastSeen: v?.t };
  }

  /** The row that records `ip` for `user` now, for the caller's durable batch; undefined without an IP. */
  recordOp(user: string, ip: ClientIp | undefined): StoreOp | undefined {
    return ip
      ? this.table.op({ type: 'put', key: `${user}|${ip.address}`, value: { t: this.clock.now() } })
      : undefined;
  }

  /** The user's addresses, newest first, for `user show`. */
  async recent(user: string, limit = 10): Promise<{ ip: string; at: number }[]> {
    const out: { ip: string; at: number }[] = [];
    for await (const [k, v] of this.table.entries({ gt: `${user}|`, lt: `${user}|\uffff` }))
      out.push({ ip: k.slice(user.length + 1), at: v.t });
    return out.sort((a, b) => b.at - a.at).slice(0, limit);
  }

  /** Drops entries older than `days`. */
  async sweep(days: number): Promise<number> {
    const cutoff = this.clock.now() - days * 86_400_000;
    const gone: string[] = [];
    for await (const [k, v] of this.table.entries()) if (v.t < cutoff) gone.push(k);
    if (gone.length > 0) await this.table.batch(gone.map((key) => ({ type: 'del' as const, key })));
    return gone.length;
  }
}
