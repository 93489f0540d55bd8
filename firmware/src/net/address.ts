/**
 * IP addresses, parsed one way for the whole box (NAS source addresses, Calling-Station-Id,
 * config), on ipaddr.js. Pure.
 *
 * One rule for IPv4-mapped IPv6 (::ffff:a.b.c.d, in dotted or hex form): it IS the IPv4 address.
 * A dual-stack socket reports an IPv4 NAS that way, and a NAS may write its user's address that
 * way; either must match the IPv4 entries an admin wrote.
 */
import ipaddr from 'ipaddr.js';
import { isIPv4, isIPv6 } from 'node:net';

export interface IpAddress {
  family: 4 | 6;
  /** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run compressed). */
  address: string;
}

/** An address in ipaddr.js form, IPv4-mapped already turned into IPv4. */
export type ParsedIp = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * A literal address, or undefined: only the four-part dotted IPv4 form and IPv6 without a zone
 * (a zone names an interface, not something a network list can hold). No host names, no
 * shortened or octal IPv4 ("10.1", "010.0.0.1"), which inet_aton would read differently.
 */
export function parseIpRaw(text: string): ParsedIp | undefined {
  if (isIPv4(text)) return ipaddr.IPv4.parse(text);
  if (!isIPv6(text) || text.includes('%')) return undefined;
  const v6 = ipaddr.IPv6.parse(text);
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
}

export function parseIp(text: string): IpAddress | undefined {
  const ip = parseIpRaw(text);
  return ip ? toIpAddress(ip) : undefined;
}

export function toIpAddress(ip: ParsedIp): IpAddress {
  return { family: ip.kind() === 'ipv4' ? 4 : 6, address: ip.toString() };
}

/**
 * A datagram's source as dgram reports it. A zone suffix (fe80::1%eth0) names our own receiving
 * interface, so it is dropped before parsing; everything else as `parseIp`.
 */
export function parseSourceAddress(address: string): ParsedIp | undefined {
  const zone = address.indexOf('%');
  return parseIpRaw(zone >= 0 ? address.slice(0, zone) : address);
}
