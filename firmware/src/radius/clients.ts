/**
 * The NAS table: which source addresses may talk to us, with which shared secret and flags.
 * Pure: built from config, looked up by source address; the most specific prefix wins.
 */
import { ErrorCode, MfaError } from '../errors.ts';
import { MIN_SECRET_CHARS } from '../config/defaults.ts';
import type { RadiusClientConfig } from '../config/schema.ts';
import { encodeAttributes } from './codec.ts';
import type { NasClient } from '../auth/types.ts';
import { parseSourceAddress } from '../net/address.ts';
import { CidrTable, parseCidr, type Cidr } from '../net/cidr.ts';

/** A NAS with its secrets, which never leave the radius module (the engine sees `client`). */
export interface ClientEntry {
  readonly client: NasClient;
  readonly secret: Buffer;
  readonly monitorPassword: Buffer | undefined;
  readonly network: Cidr;
  /** The secret is under the floor, allowed by allowWeakSecret: health warns. */
  readonly weakSecret: boolean;
}

/** Source addresses remembered by `lookup`: far more NAS addresses than a site has. */
const MAX_SEEN_SOURCES = 1024;

function invalid(message: string, field: string): MfaError {
  return new MfaError(message, ErrorCode.RadiusClientInvalid, { field });
}

export class ClientTable {
  private readonly table = new CidrTable<ClientEntry>();
  private readonly entries: ClientEntry[];

  private constructor(entries: ClientEntry[]) {
    this.entries = entries;
    for (const e of entries) this.table.add(e.client.match, e);
  }

  /** Validates the whole list (names, addresses, attribute encodability) or throws naming the field. */
  static fromConfig(configs: readonly RadiusClientConfig[]): ClientTable {
    const names = new Set<string>();
    const networks = new Set<string>();
    const entries = configs.map((c, i): ClientEntry => {
      const at = `radius.clients[${i}]`;
      if (names.has(c.name)) throw invalid(`two RADIUS clients are named "${c.name}"`, `${at}.name`);
      names.add(c.name);
      const cidr = parseCidr(c.address);
      if (!cidr) throw invalid(`"${c.address}" is not an IP address or CIDR`, `${at}.address`);
      const key = `${cidr.address}/${cidr.prefix}`;
      if (networks.has(key))
        throw invalid(`two RADIUS clients share the address ${c.address}`, `${at}.address`);
      networks.add(key);
      if (c.monitorUser !== undefined && c.monitorPassword === undefined)
        throw invalid('a monitor user needs a monitor password', `${at}.monitorPassword`);
      c.acceptAttributes.forEach((a, j) => {
        try {
          encodeAttributes([a]);
        } catch (e) {
          throw new MfaError(
            `accept attribute ${a[0]} cannot be encoded: ${(e as Error).message}`,
            ErrorCode.RadiusClientInvalid,
            { field: `${at}.acceptAttributes[${j}]`, cause: e },
          );
        }
      });
      const client: NasClient = {
        name: c.name,
        match: c.address,
        requireMessageAuthenticator: c.requireMessageAuthenticator,
        passwordCheck: c.passwordCheck,
        acceptAttributes: c.acceptAttributes.map(([k, v]) => [k, v]),
      };
      if (c.monitorUser !== undefined) client.monitorUser = c.monitorUser;
      return {
        client: Object.freeze(client),
        secret: Buffer.from(c.secret, 'utf8'),
        monitorPassword: c.monitorPassword === undefined ? undefined : Buffer.from(c.monitorPassword, 'utf8'),
        network: cidr,
        weakSecret: c.secret.length < MIN_SECRET_CHARS,
      };
    });
    return new ClientTable(entries);
  }

  /**
   * Source address text → entry (or null: no client), for the NAS addresses that send every
   * request: parsing the address was a measurable part of a passcode check. The table is
   * immutable (a reload builds a new one), so entries never go stale; spoofed sources could
   * fill it, so it is bounded and simply starts over when full.
   */
  private readonly seen = new Map<string, ClientEntry | null>();

  /** The most specific entry holding a datagram's source address (IPv4-mapped counts as IPv4). */
  lookup(address: string): ClientEntry | undefined {
    const hit = this.seen.get(address);
    if (hit !== undefined) return hit ?? undefined;
    const e = this.table.lookup(parseSourceAddress(address));
    if (this.seen.size >= MAX_SEEN_SOURCES) this.seen.clear();
    this.seen.set(address, e ?? null);
    return e;
  }

  list(): readonly ClientEntry[] {
    return this.entries;
  }
}
