/** An auth decision as an audit record (secret-free by construction: AuthDecision holds none). */
import type { AuditRecord } from '../audit/audit.ts';
import { ErrorCode } from '../errors.ts';
import type { AuthDecision } from './decision.ts';

export function auditRecordOf(d: AuthDecision): Omit<AuditRecord, 't'> {
  const detail: Record<string, string | number | boolean> = { step: d.step };
  if (d.code !== undefined) detail.code = ErrorCode[d.code] ?? d.code;
  if (d.rule !== undefined) detail.rule = d.rule;
  if (d.challengeId !== undefined) detail.challengeId = d.challengeId;
  if (d.callingStationId !== undefined) detail.callingStationId = d.callingStationId;
  if (d.clientIp !== undefined) detail.clientIp = d.clientIp;
  if (d.to !== undefined) detail.to = d.to;
  if (d.triesLeft !== undefined) detail.triesLeft = d.triesLeft;
  if (d.detail !== undefined) detail.detail = d.detail;
  return { kind: 'auth', user: d.user, client: d.client, outcome: d.outcome, reason: d.reason, detail };
}
