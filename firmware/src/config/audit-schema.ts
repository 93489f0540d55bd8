/**
 * The configuration of the auth log and its feeds: retention (`audit`) and the syslog targets a
 * SIEM listens on (`syslog`). Units, ranges and defaults are documented per field;
 * `firmware/src/audit/README.md` is the reference.
 */
import { z } from 'zod';
import { SYSLOG_FACILITIES, parseSyslogUrl, type SyslogFacility } from './syslog-url.ts';

const facilityNames = Object.keys(SYSLOG_FACILITIES) as [SyslogFacility, ...SyslogFacility[]];

export const syslogTargetSchema = z
  .object({
    /** udp://host:514, tcp://host:514 (RFC 6587 octet counting) or tls://host:6514 (RFC 5425). */
    url: z
      .string()
      .refine(
        (u) => parseSyslogUrl(u) !== undefined,
        'a syslog URL: udp://host:514, tcp://host:514 or tls://host:6514',
      ),
    /** tls: PEM CA the collector's certificate must chain to; set, it is the only CA trusted (pinned). Default: the system CAs. */
    caFile: z.string().min(1).optional(),
    /** tls: PEM client certificate and key, for a collector that asks for one. */
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    /** tls: the name the collector's certificate must carry; default the URL's host. */
    serverName: z.string().min(1).max(253).optional(),
    /** Syslog facility; default authpriv (10). Severity follows the record (firmware/src/audit/README.md). */
    facility: z.enum(facilityNames).default('authpriv'),
    /** [100...1,000,000] records, default 10,000: held while the collector is unreachable; beyond, the oldest are dropped and counted. */
    maxBuffered: z.number().int().min(100).max(1_000_000).default(10_000),
  })
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
    message: 'certFile and keyFile go together',
    path: ['keyFile'],
  })
  .refine(
    (t) =>
      parseSyslogUrl(t.url)?.transport === 'tls' ||
      (t.caFile === undefined && t.certFile === undefined && t.serverName === undefined),
    { message: 'caFile, certFile and serverName apply to tls:// targets only', path: ['url'] },
  );

export const auditSchema = z.object({
  /** [1...3650] days, default 90: older records are deleted (hourly). */
  maxAgeDays: z.number().int().min(1).max(3650).default(90),
  /** [1000...10,000,000] records, default 1,000,000: beyond this the oldest are deleted. */
  maxRecords: z.number().int().min(1000).max(10_000_000).default(1_000_000),
  /**
   * [100...1,000,000] records, default 100,000: held in memory while the store refuses writes (a
   * full disk); beyond this the oldest are dropped and counted in health and /metrics.
   */
  maxBuffered: z.number().int().min(100).max(1_000_000).default(100_000),
});

export type SyslogTargetConfig = z.infer<typeof syslogTargetSchema>;
export type AuditConfig = z.infer<typeof auditSchema>;
