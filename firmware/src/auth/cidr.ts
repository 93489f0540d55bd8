/** CIDR parsing and matching, pure (net.BlockList does the bit work; no IO). */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { ClientIp } from './calling-station.ts';

export interface Cidr {
  family: 4 | 6;
  address: string;
  prefix: number;
}

/** "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128). Undefined when invalid. */
export function parseCidr(text: string): Cidr | undefined {
  const s = text.trim();
  const slash = s.indexOf('/');
  const address = (slash >= 0 ? s.slice(0, slash) : s).toLowerCase();
  const family = isIPv4(address) ? 4 : isIPv6(address) && !address.includes('%') ? 6 : undefined;
  if (family === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { family, address, prefix: max };
  const p = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > max) return undefined;
  return { family, address, prefix: Number(p) };
}

export class CidrSet {
  private readonly list = new BlockList();
  readonly size: number;

  /** Throws RangeError naming the first invalid entry; config validation runs parseCidr first. */
  constructor(cidrs: readonly string[]) {
    for (const text of cidrs) {
      const c = parseCidr(text);
      if (!c) throw new RangeError(`not an IP address or CIDR: ${text}`);
      this.list.addSubnet(c.address, c.prefix, c.family === 4 ? 'ipv4' : 'ipv6');
    }
    this.size = cidrs.length;
  }

  has(ip: ClientIp | undefined): boolean {
    if (!ip || this.size === 0) return false;
    return this.list.check(ip.address, ip.family === 4 ? 'ipv4' : 'ipv6');
  }
}
