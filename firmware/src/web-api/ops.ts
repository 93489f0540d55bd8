/**
 * What the page's operational buttons need from the running box (users, test SMS, serial ports,
 * the audit, the TLS certificate), built in main.ts from the real services.
 */
import { readdir } from 'node:fs/promises';
import type { AuditFilter } from '../audit/query.ts';
import type { AuditRecord } from '../audit/records.ts';
import type { UserRecord } from '../directory/users.ts';
import type { Store } from '../store/store.ts';
import type { SmsSender } from '../modem/types.ts';
import type { CertInfo, TlsMaterial } from './tls.ts';

export interface UserRow {
  username: string;
  displayName?: string;
  mobile?: string;
  secondaryMobile?: string;
  numberProblem?: string;
  disabled: boolean;
  source: string;
  groups: string[];
  syncedAt: number;
  /** The last RADIUS decision for the user: UTC ms and outcome. */
  lastLogin?: { at: number; outcome: string };
}

export interface SystemInfo {
  version: string;
  node: string;
  time: string;
  timeZone: string;
  clockSynced: boolean | 'unknown';
  uptimeSeconds: number;
  certificate?: CertInfo;
  tls: boolean;
}

export interface InstalledCertificate {
  info: CertInfo;
  restartNeeded: boolean;
  undo?: () => Promise<void>;
}

export interface WebOps {
  users(query: string, limit: number): Promise<UserRow[]>;
  /** Sends a test SMS now (not through the outbox: an admin watching the page wants it at once). */
  sendTestSms(to: string, text: string): Promise<{ modem: string; parts: number }>;
  serialPorts(): Promise<string[]>;
  /** Newest first. */
  recentAudit(limit: number, filter?: AuditFilter): Promise<AuditRecord[]>;
  system(): Promise<SystemInfo>;
  /**
   * Checks, stores and (over HTTPS) starts serving a new certificate for new connections;
   * throws WebTlsInvalid. `undo` puts the previous pair back (the rollback timer's revert);
   * without HTTPS the files are only stored and `restartNeeded` is true.
   */
  installCertificate?(m: TlsMaterial): Promise<InstalledCertificate>;
}

export async function listSerialPorts(dir = '/dev/serial/by-id'): Promise<string[]> {
  try {
    return (await readdir(dir)).sort().map((n) => `${dir}/${n}`);
  } catch {
    return [];
  }
}

export function userRow(u: UserRecord, last?: AuditRecord): UserRow {
  return {
    username: u.username,
    ...(u.displayName !== undefined ? { displayName: u.displayName } : {}),
    ...(u.mobile !== undefined ? { mobile: u.mobile } : {}),
    ...(u.secondaryMobile !== undefined ? { secondaryMobile: u.secondaryMobile } : {}),
    ...(u.numberProblem !== undefined ? { numberProblem: u.numberProblem } : {}),
    disabled: u.disabled === true,
    source: u.source,
    groups: u.groups,
    syncedAt: u.syncedAt,
    ...(last?.kind === 'radius' ? { lastLogin: { at: last.t, outcome: last.outcome } } : {}),
  };
}

/** Users whose name, display name or number contains `query` (case-insensitive), with their last login from the audit. */
export async function searchUsers(
  store: Store,
  recent: (limit: number, filter?: AuditFilter) => Promise<AuditRecord[]>,
  query: string,
  limit: number,
): Promise<UserRow[]> {
  const q = query.toLowerCase();
  const hits: UserRecord[] = [];
  for await (const [, u] of store.table<UserRecord>('users').entries()) {
    const hay = [u.username, u.displayName ?? '', u.mobile ?? '', u.secondaryMobile ?? '']
      .join(' ')
      .toLowerCase();
    if (q === '' || hay.includes(q)) hits.push(u);
    if (hits.length >= limit) break;
  }
  const last = new Map<string, AuditRecord>();
  for (const r of await recent(2000, { kinds: ['radius'] })) {
    if (r.kind !== 'radius' || r.outcome === 'dropped') continue;
    const who = (r.account ?? r.user ?? '').toLowerCase();
    if (who !== '' && !last.has(who)) last.set(who, r);
  }
  return hits.map((u) => userRow(u, last.get(u.username.toLowerCase())));
}

export type { SmsSender };
