/**
 * Which addresses count as "this box" for the local-only API (pure). Without an admin session,
 * routes that change state or show usernames answer loopback clients only: an admin on the box
 * (or over SSH) and the `mfabox` command itself.
 */
import net from 'node:net';

/** True for 127.0.0.0/8, ::1, and their IPv4-mapped form (what a dual-stack `::` socket reports). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.toLowerCase();
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a;
  return net.isIPv4(v4) && v4.startsWith('127.');
}

/**
 * True when a Host header names this box by a loopback name: `localhost`, a 127.x address or
 * `[::1]`, with or without a port. A page on some other site that rebinds its DNS name to 127.0.0.1
 * still sends its own name here, so a browser on the box cannot be used to reach the local API.
 * No Host header (HTTP/1.0 tools) is accepted: browsers always send one.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined || host === '') return true;
  const h = host.toLowerCase();
  let name: string;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return false;
    name = h.slice(1, end);
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return false;
  } else {
    const m = /^([^:]+)(?::\d{1,5})?$/.exec(h);
    if (!m) return false;
    name = m[1] ?? '';
  }
  return name === 'localhost' || isLoopbackAddress(name);
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '0:0:0:0:0:0:0:0']);

/**
 * The address the `mfabox` command uses to reach a service configured with `web.address`:
 * the loopback address the service listens on (itself, through a wildcard, or through the extra
 * loopback listener it opens for a LAN address).
 */
export function loopbackTarget(webAddress: string): string {
  const a = webAddress.toLowerCase();
  if (a === '::' || a === '0:0:0:0:0:0:0:0' || a === '::1') return '::1';
  if (isLoopbackAddress(a)) return a.startsWith('::ffff:') ? a.slice(7) : a;
  return '127.0.0.1';
}

/**
 * True when a service listening on `webAddress` is not reachable over loopback by itself, so it
 * must open a second listener on 127.0.0.1 for the local API (a box whose web page is bound to
 * one LAN address).
 */
export function needsLoopbackListener(webAddress: string): boolean {
  const a = webAddress.toLowerCase();
  return !WILDCARDS.has(a) && a !== 'localhost' && !isLoopbackAddress(a);
}

/**
 * Where the `mfabox` command reaches the running service's local API: the plain 127.0.0.1
 * listener of an HTTPS box (`web.localPort`), or the page's own port over loopback.
 */
export function localApiTarget(web: { address: string; port: number; tls: boolean; localPort: number }): {
  host: string;
  port: number;
} {
  return web.tls
    ? { host: '127.0.0.1', port: web.localPort }
    : { host: loopbackTarget(web.address), port: web.port };
}
