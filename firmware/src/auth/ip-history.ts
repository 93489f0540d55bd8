/**
 * Where each user completed MFA from, for the `ipSeenWithinDays` condition: the store's
 * 'ip-history' table, key `user|ip`, value the last wall ms. Written with putFast after an
 * accepted second factor (a power cut may cost one entry: the user then gets one more challenge).
 */
import type { Clock } from '../clock.ts';
import type { Store, Table } from '../store/store.ts';
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

  async record(user: string, ip: ClientIp | undefined): Promise<void> {
    if (!ip) return;
    await this.table.putFast(`${user}|${ip.address}`, { t: this.clock.now() });
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
