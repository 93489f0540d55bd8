/**
 * One health model. The LEDs, the web dashboard, /metrics and the RADIUS monitor user all read
 * this snapshot, so they can never disagree about whether the box is healthy.
 */
import { existsSync } from 'node:fs';
import type { DirectoryHealth } from '../directory/directory.ts';
import type { OutboxStats } from '../dispatch/types.ts';
import type { ModemHealth } from '../modem/types.ts';
import type { AuditStats } from '../audit/audit-log.ts';
import type { SyslogTargetStats } from '../audit/syslog.ts';

/** The auth log and its syslog feeds: what was written, what waits, what was lost. */
export interface AuditHealth extends AuditStats {
  syslog: SyslogTargetStats[];
}

/** A syslog target unreachable this long is reported (a restart of the collector is not). */
const SYSLOG_GRACE_MS = 60_000;

export interface RadiusHealth {
  /** "udp 127.0.0.1:1812" etc. */
  listening: string[];
  /** Clients still accepting requests without Message-Authenticator: open to BlastRADIUS. */
  clientsWithoutMessageAuthenticator: string[];
  /** Clients whose shared secret is under 16 characters, allowed by allowWeakSecret. */
  clientsWithWeakSecret?: string[];
  /** Counters per client name: requests, accepts, rejects, challenges, duplicates, drops by reason. */
  counters: Record<string, Record<string, number>>;
}

export type OutboxHealth = OutboxStats;

export interface HealthSources {
  modems(): ModemHealth[];
  directory(): DirectoryHealth;
  storeWritable(): boolean;
  radius(): RadiusHealth;
  outbox(): OutboxHealth | undefined;
  /** A plain-words delivery problem (SMS failing while modems look fine), if any. */
  delivery?(): string | undefined;
  /** What setup mode lacks (auth/setup-mode.ts); non-empty means every login is refused. */
  setupGaps?(): string[];
  audit?(): AuditHealth;
}

export interface HealthSnapshot {
  status: 'ok' | 'degraded' | 'down';
  /** Plain-words reasons for anything not ok. Never contains a secret. */
  problems: string[];
  modems: ModemHealth[];
  directory: DirectoryHealth;
  store: { writable: boolean };
  radius: RadiusHealth;
  outbox?: OutboxHealth;
  /** Records written, buffered, dropped (store refused writes too long), and each syslog target. */
  audit?: AuditHealth;
  /** TLS checks against the DCs depend on the clock; a Pi has no battery clock. */
  clock: { synced: boolean | 'unknown'; now: string };
  uptimeSeconds: number;
}

/** systemd-timesyncd touches this file once NTP has synchronised the clock. */
export function clockSynced(path = '/run/systemd/timesync/synchronized'): boolean | 'unknown' {
  if (existsSync(path)) return true;
  return existsSync('/run/systemd/system') ? false : 'unknown';
}

const SENDABLE = new Set(['registered', 'sending']);

export function takeSnapshot(src: HealthSources, now = new Date()): HealthSnapshot {
  const modems = src.modems();
  const directory = src.directory();
  const radius = src.radius();
  const writable = src.storeWritable();
  const synced = clockSynced();
  const problems: string[] = [];
  let down = false;
  const gaps = src.setupGaps?.() ?? [];
  if (gaps.length > 0) {
    problems.push(`setup mode, every login refused: ${gaps.join('; ')}`);
    down = true;
  }

  if (modems.length === 0) {
    problems.push('no modem configured');
    down = true;
  } else if (!modems.some((m) => SENDABLE.has(m.state))) {
    problems.push(
      `no modem can send SMS (${modems.map((m) => `${m.name}: ${m.detail ?? m.state}`).join('; ')})`,
    );
    down = true;
  } else {
    for (const m of modems)
      if (!SENDABLE.has(m.state)) problems.push(`modem ${m.name}: ${m.detail ?? m.state}`);
  }
  const delivery = src.delivery?.();
  if (delivery) {
    problems.push(delivery);
    down = true;
  }
  if (directory.state === 'down') {
    problems.push(`directory down${directory.detail ? `: ${directory.detail}` : ''}`);
    down = true;
  } else if (directory.state === 'degraded') problems.push(`directory degraded: ${directory.detail ?? ''}`);
  if (!writable) {
    problems.push('store not writable');
    down = true;
  }
  for (const c of radius.clientsWithoutMessageAuthenticator)
    problems.push(`RADIUS client ${c} does not send Message-Authenticator (BlastRADIUS)`);
  for (const c of radius.clientsWithWeakSecret ?? [])
    problems.push(
      `RADIUS client ${c} has a shared secret under 16 characters (allowWeakSecret): passwords can be recovered from captured packets`,
    );
  if (synced === false) problems.push('clock not synced');
  const audit = src.audit?.();
  for (const t of audit?.syslog ?? [])
    if (!t.connected && t.downSince !== undefined && now.getTime() - t.downSince >= SYSLOG_GRACE_MS)
      problems.push(
        `syslog target ${t.url} unreachable${t.lastError ? ` (${t.lastError})` : ''}: ${t.buffered} records waiting, ${t.dropped} dropped`,
      );

  return {
    status: down ? 'down' : problems.length > 0 ? 'degraded' : 'ok',
    problems,
    modems,
    directory,
    store: { writable },
    radius,
    ...(src.outbox() === undefined ? {} : { outbox: src.outbox() }),
    ...(audit === undefined ? {} : { audit }),
    clock: { synced, now: now.toISOString() },
    uptimeSeconds: Math.round(process.uptime()),
  };
}

/** What the RADIUS monitor user answers: Accept only when a login could succeed end to end. */
export function monitorVerdict(s: HealthSnapshot): { healthy: boolean; reasons: string[] } {
  return { healthy: s.status !== 'down', reasons: s.problems };
}
