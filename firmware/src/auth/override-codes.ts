/**
 * Emergency override codes: issued by an admin for one user (a lost phone, a dead modem), with a
 * life (TTL) and a number of uses (default one). Stored as HMAC-SHA256 under a subkey of the
 * device key, with a salt per code; compared in constant time. Accepted at any challenge of that
 * user. Issue and use are audited by the caller (who knows the issuing admin).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock, Random } from '../clock.ts';
import type { Store, Table } from '../store/store.ts';
import { KeyedSerialQueue } from '../queue.ts';

export interface OverrideRecord {
  id: string;
  user: string;
  /** hex HMAC of the code. */
  hash: string;
  salt: string;
  issuedAt: number;
  issuedBy: string;
  expiresAt: number;
  usesLeft: number;
  reason?: string;
}

export type OverrideInfo = Omit<OverrideRecord, 'hash' | 'salt'>;

/** 10 digits: typed into the Gateway's password box like a passcode, ~33 bits against a 3-try State. */
export const OVERRIDE_DIGITS = 10;
/** [5 min...30 days]; default 1 h. */
export const MIN_TTL_MS = 5 * 60_000;
export const MAX_TTL_MS = 30 * 86_400_000;
export const MAX_USES = 100;

export function overrideInfo(r: OverrideRecord): OverrideInfo {
  const { hash: _h, salt: _s, ...rest } = r;
  return rest;
}

/** "90s", "15m", "1h", "2d" → ms; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,6})\s*(s|m|min|h|d)$/i.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  const mult =
    unit === 's' ? 1000 : unit === 'm' || unit === 'min' ? 60_000 : unit === 'h' ? 3_600_000 : 86_400_000;
  return n * mult;
}

function hashCode(key: Buffer, salt: string, code: string): Buffer {
  return createHmac('sha256', key).update(salt).update('\0').update(code).digest();
}

export class OverrideCodes {
  private readonly table: Table<OverrideRecord>;
  private readonly serial = new KeyedSerialQueue();

  constructor(
    store: Store,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly key: Buffer,
  ) {
    this.table = store.table<OverrideRecord>('override-codes');
  }

  /** Issues a code; the clear code is returned once and never stored. */
  async issue(
    user: string,
    opts: { ttlMs: number; uses: number; by: string; reason?: string },
  ): Promise<{ code: string; record: OverrideRecord }> {
    let code = '';
    for (let i = 0; i < OVERRIDE_DIGITS; i++) code += String(this.random.int(10));
    const salt = this.random.bytes(16).toString('hex');
    const now = this.clock.now();
    const record: OverrideRecord = {
      id: this.random.bytes(6).toString('hex'),
      user,
      hash: hashCode(this.key, salt, code).toString('hex'),
      salt,
      issuedAt: now,
      issuedBy: opts.by,
      expiresAt: now + opts.ttlMs,
      usesLeft: opts.uses,
      ...(opts.reason === undefined ? {} : { reason: opts.reason }),
    };
    await this.table.put(`${user}|${record.id}`, record);
    return { code, record };
  }

  /** Codes still usable, for `user show`. */
  async list(user: string): Promise<OverrideRecord[]> {
    const now = this.clock.now();
    const out: OverrideRecord[] = [];
    for await (const [, v] of this.table.entries({ gt: `${user}|`, lt: `${user}|\uffff` }))
      if (v.expiresAt > now && v.usesLeft > 0) out.push(v);
    return out;
  }

  /**
   * Uses one of the user's codes if `code` is one. The use is on disk before this returns, so a
   * code cannot be used twice across a crash. Every live code is compared.
   */
  use(user: string, code: string): Promise<OverrideRecord | undefined> {
    const typed = code.trim();
    if (!/^\d+$/.test(typed) || typed.length !== OVERRIDE_DIGITS) return Promise.resolve(undefined);
    return this.serial.run(user, async () => {
      let hit: OverrideRecord | undefined;
      for (const r of await this.list(user)) {
        const ok = timingSafeEqual(hashCode(this.key, r.salt, typed), Buffer.from(r.hash, 'hex'));
        if (ok && hit === undefined) hit = r;
      }
      if (!hit) return undefined;
      const left = hit.usesLeft - 1;
      const key = `${user}|${hit.id}`;
      if (left <= 0) await this.table.del(key);
      else await this.table.put(key, { ...hit, usesLeft: left });
      return { ...hit, usesLeft: left };
    });
  }

  /** Revokes every code of the user; returns how many. */
  async revoke(user: string): Promise<number> {
    const keys: string[] = [];
    for await (const k of this.table.keys({ gt: `${user}|`, lt: `${user}|\uffff` })) keys.push(k);
    if (keys.length > 0) await this.table.batch(keys.map((key) => ({ type: 'del' as const, key })));
    return keys.length;
  }

  /** Drops expired codes; returns how many. */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    const gone: string[] = [];
    for await (const [k, v] of this.table.entries()) if (v.expiresAt <= now || v.usesLeft <= 0) gone.push(k);
    if (gone.length > 0) await this.table.batch(gone.map((key) => ({ type: 'del' as const, key })));
    return gone.length;
  }
}
