/**
 * Calling-Station-Id → the end user's IP, pure. NetScaler's "Send Calling Station ID" puts the
 * client IP there; other NASes put a MAC, a phone number or a host name. Only a literal IP is
 * ever trusted by policy: anything else (missing, MAC, host name, IPv6 with a zone) is
 * `undefined`, which policy treats as "not on a trusted network".
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface ClientIp {
  family: 4 | 6;
  /** IPv4 dotted quad, or IPv6 as given (lower-cased); an IPv4-mapped IPv6 address is returned as IPv4. */
  address: string;
}

/** RFC 8044 `text`, and NetScaler writes at most a bracketed IPv6 with a port; longer is junk. */
const MAX_LENGTH = 64;

const V4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;
const BRACKETED = /^\[([^\]]+)\](?::(\d{1,5}))?$/;
const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/;
const MAPPED_V4_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

function validPort(p: string | undefined): boolean {
  if (p === undefined) return true;
  const n = Number(p);
  return n >= 0 && n <= 65535;
}

function fromV6(raw: string): ClientIp | undefined {
  const v6 = raw.toLowerCase();
  // A zone (fe80::1%eth0) names an interface on the NAS, not anything we can match a CIDR to.
  if (v6.includes('%') || !isIPv6(v6)) return undefined;
  const dotted = MAPPED_V4.exec(v6);
  if (dotted?.[1] !== undefined) return { family: 4, address: dotted[1] };
  const hex = MAPPED_V4_HEX.exec(v6);
  if (hex?.[1] !== undefined && hex[2] !== undefined) {
    const hi = parseInt(hex[1], 16);
    const lo = parseInt(hex[2], 16);
    return { family: 4, address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}` };
  }
  return { family: 6, address: v6 };
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
