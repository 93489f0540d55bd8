/**
 * Syslog facilities and target URLs, apart from the zod schema that validates them
 * (audit-schema.ts): the syslog forwarder starts before RADIUS answers, the schema need not.
 */
export const SYSLOG_FACILITIES = {
  kern: 0,
  user: 1,
  daemon: 3,
  auth: 4,
  syslog: 5,
  authpriv: 10,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;

/** udp://host[:port] (default 514), tcp://host[:port] (514), tls://host[:port] (6514). */
export function parseSyslogUrl(
  url: string,
): { transport: 'udp' | 'tcp' | 'tls'; host: string; port: number } | undefined {
  const m = /^(udp|tcp|tls):\/\/(\[[0-9a-fA-F:.]+\]|[^/:[\]\s]+)(?::(\d{1,5}))?\/?$/.exec(url.trim());
  if (!m) return undefined;
  const transport = m[1] as 'udp' | 'tcp' | 'tls';
  const host = (m[2] ?? '').replace(/^\[|\]$/g, '');
  const port = m[3] === undefined ? (transport === 'tls' ? 6514 : 514) : Number(m[3]);
  if (port < 1 || port > 65535 || host === '') return undefined;
  return { transport, host, port };
}
