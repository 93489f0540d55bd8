/**
 * Networks (CIDR) and lists of them, for the NAS table, trusted networks and config validation,
 * on ipaddr.js. Pure.
 */
import ipaddr from 'ipaddr.js';
import { parseIpRaw, type IpAddress, type ParsedIp } from './address.ts';

export interface Cidr {
  family: 4 | 6;
  /** The network address (host bits cleared), canonical text. */
  address: string;
  prefix: number;
}

interface ParsedCidr {
  cidr: Cidr;
  range: ParsedIp;
}

function parseCidrRaw(text: string): ParsedCidr | undefined {
  const s = text.trim();
  const slash = s.indexOf('/');
  const addr = slash >= 0 ? s.slice(0, slash) : s;
  const ip = parseIpRaw(addr);
  if (!ip) return undefined;
  const family = ip.kind() === 'ipv4' ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    // An IPv4-mapped network written in IPv6 form (::ffff:10.0.0.0/104) counts its prefix in
    // IPv6 bits; as IPv4 it is the same network with 96 fewer bits.
    if (family === 4 && addr.includes(':')) prefix -= 96;
    if (prefix < 0 || prefix > max) return undefined;
  }
  const range =
    ip.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${ip.toString()}/${prefix}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${ip.toString()}/${prefix}`);
  return { cidr: { family, address: range.toString(), prefix }, range };
}

/** "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128). Undefined when invalid. */
export function parseCidr(text: string): Cidr | undefined {
  return parseCidrRaw(text)?.cidr;
}

function contains(c: ParsedCidr, ip: ParsedIp): boolean {
  if (ip.kind() !== c.range.kind()) return false;
  return ip.kind() === 'ipv4'
    ? (ip as ipaddr.IPv4).match(c.range, c.cidr.prefix)
    : (ip as ipaddr.IPv6).match(c.range, c.cidr.prefix);
}

/**
 * Networks, each with a value; `lookup` returns the value of the most specific network holding
 * an address (longest prefix first).
 */
export class CidrTable<T> {
  private readonly entries: { net: ParsedCidr; value: T }[] = [];

  /** Throws RangeError naming an invalid entry (config validation runs parseCidr first). */
  add(text: string, value: T): Cidr {
    const net = parseCidrRaw(text);
    if (!net) throw new RangeError(`not an IP address or CIDR: ${text}`);
    let i = this.entries.findIndex((e) => e.net.cidr.prefix < net.cidr.prefix);
    if (i < 0) i = this.entries.length;
    this.entries.splice(i, 0, { net, value });
    return net.cidr;
  }

  /** An address as text (a literal; IPv4-mapped counts as IPv4) or already parsed. */
  lookup(ip: IpAddress | ParsedIp | undefined): T | undefined {
    const parsed = ip === undefined ? undefined : 'kind' in ip ? ip : parseIpRaw(ip.address);
    if (!parsed) return undefined;
    for (const e of this.entries) if (contains(e.net, parsed)) return e.value;
    return undefined;
  }

  get size(): number {
    return this.entries.length;
  }
}

/** A list of networks: does it hold this address? */
export class CidrSet {
  private readonly table = new CidrTable<true>();

  constructor(cidrs: readonly string[]) {
    for (const c of cidrs) this.table.add(c, true);
  }

  has(ip: IpAddress | undefined): boolean {
    return this.table.lookup(ip) === true;
  }

  get size(): number {
    return this.table.size;
  }
}
