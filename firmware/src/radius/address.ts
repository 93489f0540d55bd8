/**
 * IP addresses and CIDR prefixes for the NAS table (IPv4 and IPv6). Pure, no dependencies, so
 * config validation can use it without loading the RADIUS dictionary.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface IpAddress {
  family: 4 | 6;
  bytes: Buffer;
}

function parseIPv4(s: string): Buffer | undefined {
  if (!isIPv4(s)) return undefined;
  return Buffer.from(s.split('.').map(Number));
}

function parseIPv6(s: string): Buffer | undefined {
  if (!isIPv6(s)) return undefined;
  let text = s;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1] !== undefined) {
    const b = parseIPv4(dotted[1]);
    if (!b) return undefined;
    text =
      text.slice(0, dotted.index) + b.readUInt16BE(0).toString(16) + ':' + b.readUInt16BE(2).toString(16);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const words = (x: string | undefined): number[] => (x ? x.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(halves[0]);
  const r = words(halves[1]);
  const fill = 8 - h.length - r.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const all = [...h, ...new Array<number>(fill).fill(0), ...r];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/**
 * Parses a source address as dgram reports it. IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4 so a
 * dual-stack socket still matches IPv4 client entries; a zone suffix (%eth0) is ignored.
 */
export function parseIp(address: string): IpAddress | undefined {
  const a = address.replace(/%.*$/, '');
  const v4 = parseIPv4(a);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(a);
  if (!v6) return undefined;
  if (v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff)
    return { family: 4, bytes: Buffer.from(v6.subarray(12)) };
  return { family: 6, bytes: v6 };
}

/** `10.0.0.0/8`, `2001:db8::/32` or a bare address (a /32 or /128). */
export function parseCidr(text: string): { network: IpAddress; prefix: number } | undefined {
  const [addr, len, extra] = text.trim().split('/');
  if (addr === undefined || extra !== undefined) return undefined;
  const ip = parseIp(addr);
  if (!ip || addr.includes('%')) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (len !== undefined) {
    if (!/^\d{1,3}$/.test(len)) return undefined;
    prefix = Number(len);
    // An IPv4-mapped network written in IPv6 form counts its prefix in IPv6 bits.
    if (ip.family === 4 && addr.includes(':')) prefix -= 96;
    if (prefix < 0 || prefix > max) return undefined;
  }
  return { network: { family: ip.family, bytes: mask(ip.bytes, prefix) }, prefix };
}

function mask(bytes: Buffer, prefix: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = (out[i] as number) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}
