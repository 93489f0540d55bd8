/**
 * OATH tokens per user, in the store's 'tokens' table (key `user|id`). The secret is sealed with
 * AES-256-GCM under a subkey of the device key (auth/keys.ts), with the row's key as associated
 * data, so a copied data directory alone reveals no seed and a sealed seed moved to another user
 * does not open. A check that accepts a code writes the new counters durably before it returns:
 * a replay after a power cut still fails.
 */
import { TOTP, HOTP, Secret } from 'otpauth';
import type { Clock, Random } from '../clock.ts';
import { openText, sealText, type SealedText } from '../dispatch/sealed-text.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import type { Store, Table } from '../store/store.ts';
import { KeyedSerialQueue } from '../queue.ts';
import { checkOath, type OathCounters, type OathParams } from './oath.ts';

export interface TokenRecord extends OathParams, OathCounters {
  id: string;
  user: string;
  /** Hardware token serial number, when imported. */
  serial?: string;
  sealed: SealedText;
  createdAt: number;
  /** Admin who enrolled or imported it. */
  createdBy: string;
  source: 'enrol' | 'import';
  lastUsedAt?: number;
}

/** What `user show` and the API may show: everything but the sealed secret. */
export type TokenInfo = Omit<TokenRecord, 'sealed' | 'resyncAt'>;

export const ISSUER = 'MFA Box';

export function tokenInfo(r: TokenRecord): TokenInfo {
  const { sealed: _s, resyncAt: _r, ...rest } = r;
  return rest;
}

export type TokenCheck =
  { ok: true; tokenId: string } | { ok: false; reason: 'wrong' | 'replay' | 'resync-pending' };

export class TokenStore {
  private readonly table: Table<TokenRecord>;
  private readonly serial = new KeyedSerialQueue();

  constructor(
    store: Store,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly key: Buffer,
  ) {
    this.table = store.table<TokenRecord>('tokens');
  }

  async list(user: string): Promise<TokenRecord[]> {
    const out: TokenRecord[] = [];
    for await (const [, v] of this.table.entries({ gt: `${user}|`, lt: `${user}|\uffff` })) out.push(v);
    return out;
  }

  /** Cheap: one key read. */
  async has(user: string): Promise<boolean> {
    for await (const _k of this.table.keys({ gt: `${user}|`, lt: `${user}|\uffff`, limit: 1 })) return true;
    return false;
  }

  private newId(): string {
    return this.random.bytes(6).toString('hex');
  }

  /** Stores a token for `user`; returns the record. `secret` is the raw seed. */
  async add(
    user: string,
    secret: Buffer,
    params: OathParams,
    opts: { by: string; source: 'enrol' | 'import'; serial?: string; counter?: number },
  ): Promise<TokenRecord> {
    if (secret.length < 10)
      throw new MfaError('a token seed must be at least 10 bytes (80 bits)', ErrorCode.AuthTokenInvalid);
    const id = this.newId();
    const key = `${user}|${id}`;
    const rec: TokenRecord = {
      id,
      user,
      ...params,
      counter: opts.counter ?? 0,
      drift: 0,
      sealed: sealText(this.key, key, secret.toString('base64'), this.random),
      createdAt: this.clock.now(),
      createdBy: opts.by,
      source: opts.source,
      ...(opts.serial === undefined ? {} : { serial: opts.serial }),
    };
    await this.table.put(key, rec);
    return rec;
  }

  /** Generates a seed, stores the token and returns the otpauth:// URI (shown once, never stored in clear). */
  async enrol(user: string, params: OathParams, by: string): Promise<{ record: TokenRecord; uri: string }> {
    const seed = this.random.bytes(20);
    const record = await this.add(user, seed, params, { by, source: 'enrol' });
    const secret = new Secret({ buffer: Uint8Array.from(seed).buffer });
    const common = {
      issuer: ISSUER,
      label: user,
      secret,
      algorithm: params.algorithm,
      digits: params.digits,
    };
    const otp =
      params.type === 'totp'
        ? new TOTP({ ...common, period: params.period })
        : new HOTP({ ...common, counter: 0 });
    return { record, uri: otp.toString() };
  }

  async remove(user: string, id: string): Promise<boolean> {
    const key = `${user}|${id}`;
    if ((await this.table.get(key)) === undefined) return false;
    await this.table.del(key);
    return true;
  }

  private secretOf(r: TokenRecord): Buffer {
    try {
      return Buffer.from(openText(this.key, `${r.user}|${r.id}`, r.sealed), 'base64');
    } catch (e) {
      throw new MfaError(
        `token ${r.id} of ${r.user} does not decrypt with this device key`,
        ErrorCode.AuthSecretUnreadable,
        { cause: e },
      );
    }
  }

  /** Tries `code` against each of the user's tokens; the first that accepts it wins. */
  verify(user: string, code: string): Promise<TokenCheck> {
    return this.serial.run(user, async () => {
      const now = this.clock.now();
      let reason: 'wrong' | 'replay' | 'resync-pending' = 'wrong';
      for (const r of await this.list(user)) {
        const res = checkOath(r, this.secretOf(r), r, code, now);
        if (res.ok) {
          await this.table.put(`${user}|${r.id}`, { ...r, ...res.counters, lastUsedAt: now });
          return { ok: true, tokenId: r.id };
        }
        if (res.counters !== (r as OathCounters))
          await this.table.put(`${user}|${r.id}`, { ...r, ...res.counters });
        if (res.reason !== 'wrong') reason = res.reason;
      }
      return { ok: false, reason };
    });
  }
}
