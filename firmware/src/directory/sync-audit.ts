/**
 * The audit record of one directory sync, whoever started it: an admin through the API, the
 * schedule, or `mfabox directory sync` on a stopped box. One builder, so the three read alike in
 * `mfabox log` and the SIEM.
 */
import type { AuditInput } from '../audit/records.ts';
import type { SyncStatus } from './sync.ts';

export function syncAuditRecord(r: SyncStatus, o: { confirm: boolean; actor: string }): AuditInput {
  const held = r.pendingRemovals ? `, ${r.pendingRemovals.count} removals held for confirmation` : '';
  return {
    kind: 'admin',
    action: o.confirm ? 'directory-sync-confirmed' : 'directory-sync',
    actor: o.actor,
    outcome: r.state === 'failed' ? 'failed' : 'ok',
    detail: `${r.state}: ${r.added} added, ${r.updated} updated, ${r.removed} removed, ${r.skippedCount} skipped${held}${r.error ? `; ${r.error}` : ''}`,
  };
}
