/**
 * Calling-Station-Id → the end user's IP, pure. NetScaler's "Send Calling Station ID" puts the
 * client IP there; other NASes put a MAC, a phone number or a host name. Only a literal IP is
 * ever trusted by policy: anything else (missing, MAC, host name, IPv6 with a zone) is
 * `undefined`, which policy treats as "not on a trusted network".
 */
import { isIPv4 } from 'node:net';
import { parseIp, type IpAddress } from '../net/address.ts';

/** IPv4 dotted quad, or canonical IPv6; an IPv4-mapped IPv6 address is IPv4 (net/address.ts). */
export type ClientIp = IpAddress;

/** RFC 8044 `text`, and NetScaler writes at most a bracketed IPv6 with a port; longer is junk. */
const MAX_LENGTH = 64;

const V4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;
const BRACKETED = /^\[([^\]]+)\](?::(\d{1,5}))?$/;

function validPort(p: string | undefined): boolean {
  if (p === undefined) return true;
  const n = Number(p);
  return n >= 0 && n <= 65535;
}

/** A zone (fe80::1%eth0) names an interface on the NAS, not anything a CIDR can hold: untrusted. */
function fromV6(raw: string): ClientIp | undefined {
  return raw.includes(':') ? parseIp(raw) : undefined;
}

export function parseCallingStationId(value: string | undefined): ClientIp | undefined {
  if (value === undefined) return undefined;
  const s = value.trim();
  if (s.length === 0 || s.length > MAX_LENGTH) return undefined;
  if (isIPv4(s)) return { family: 4, address: s };
  const v4port = V4_WITH_PORT.exec(s);
  if (v4port?.[1] !== undefined) {
    return isIPv4(v4port[1]) && validPort(v4port[2]) ? { family: 4, address: v4port[1] } : undefined;
  }
  const bracketed = BRACKETED.exec(s);
  if (bracketed?.[1] !== undefined) return validPort(bracketed[2]) ? fromV6(bracketed[1]) : undefined;
  // An unbracketed IPv6 with a port cannot be told from an address; it is read as an address,
  // which at worst fails to match a trusted network (never the unsafe way round).
  return fromV6(s);
}
