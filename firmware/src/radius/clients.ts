/**
 * The NAS table: which source addresses may talk to us, with which shared secret and flags.
 * Pure: built from config, looked up by source address; the most specific prefix wins.
 */
import { ErrorCode, MfaError } from '../errors.ts';
import type { RadiusClientConfig } from '../config/schema.ts';
import { encodeAttributes } from './codec.ts';
import type { NasClient } from '../auth/types.ts';
import { parseCidr, parseIp } from './address.ts';
import type { IpAddress } from './address.ts';

export { parseCidr, parseIp } from './address.ts';
export type { IpAddress } from './address.ts';

/** A NAS with its secrets, which never leave the radius module (the engine sees `client`). */
export interface ClientEntry {
  readonly client: NasClient;
  readonly secret: Buffer;
  readonly monitorPassword: Buffer | undefined;
  readonly network: IpAddress;
  readonly prefix: number;
}

function inNetwork(ip: IpAddress, e: ClientEntry): boolean {
  if (ip.family !== e.network.family) return false;
  const full = e.prefix >> 3;
  for (let i = 0; i < full; i++) if (ip.bytes[i] !== e.network.bytes[i]) return false;
  const bits = e.prefix & 7;
  if (bits === 0) return true;
  const m = (0xff << (8 - bits)) & 0xff;
  return ((ip.bytes[full] as number) & m) === e.network.bytes[full];
}

function invalid(message: string, field: string): MfaError {
  return new MfaError(message, ErrorCode.RadiusClientInvalid, { field });
}

export class ClientTable {
  /** Longest prefix first, so the first match is the most specific. */
  private readonly entries: ClientEntry[];

  private constructor(entries: ClientEntry[]) {
    this.entries = [...entries].sort((a, b) => b.prefix - a.prefix);
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
      const key = `${cidr.network.bytes.toString('hex')}/${cidr.prefix}`;
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
        network: cidr.network,
        prefix: cidr.prefix,
      };
    });
    return new ClientTable(entries);
  }

  lookup(address: string): ClientEntry | undefined {
    const ip = parseIp(address);
    if (!ip) return undefined;
    for (const e of this.entries) if (inNetwork(ip, e)) return e;
    return undefined;
  }

  list(): readonly ClientEntry[] {
    return this.entries;
  }
}
