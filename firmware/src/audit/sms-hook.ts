/**
 * SMS lifecycle events (the outbox's `onEvent`) and delivery reports (the modem pool's
 * 'status-report') as audit records. A delivery report names only the modem and the message
 * reference, so the sent records of the last day are remembered by (modem, reference) to say
 * which passcode it was about.
 */
import type { OutboxEvent } from '../dispatch/types.ts';
import type { AuditInput, SmsRecord } from './records.ts';

/** What a failure reason (an ErrorCode name, usually) says about the kind of failure. */
const CLASS_OF: Record<string, string> = {
  SmsRetryable: 'retryable',
  SmsPermanent: 'permanent',
  SmsSimFailure: 'sim',
  SmsUnknown: 'unknown-outcome',
  SmsNoModem: 'no-modem',
  SmsInvalidNumber: 'invalid-number',
  SmsEncodingFailed: 'encoding',
  SmsExpired: 'expired',
  StoreWriteFailed: 'store',
  OutboxDecryptFailed: 'store',
};

export function failureClass(reason: string | undefined, status: 'failed' | 'expired'): string {
  if (status === 'expired') return 'expired';
  if (reason === undefined) return 'other';
  if (reason.startsWith('outcome unknown')) return 'unknown-outcome';
  const code = /^[A-Z][A-Za-z]+/.exec(reason)?.[0];
  return (code !== undefined ? CLASS_OF[code] : undefined) ?? 'other';
}

export function smsRecordOf(e: OutboxEvent, t: number): AuditInput {
  const r: Omit<SmsRecord, 't'> & { t: number } = {
    kind: 'sms',
    t,
    event: e.status,
    challengeId: e.challengeId,
  };
  if (e.username !== undefined) r.user = e.username;
  if (e.to !== '') r.to = e.to;
  if (e.status === 'queued') return r;
  if (e.status === 'resend') {
    // Spent before the copy goes out: its final outcome follows as an ordinary sent/failed record.
    r.reason = 'unknown-outcome';
    return r;
  }
  if (e.modem !== undefined) r.modem = e.modem;
  if (e.messageRefs) {
    r.messageRefs = e.messageRefs;
    r.parts = e.messageRefs.length;
  }
  if (e.status === 'sent') r.at = t;
  else {
    r.failureClass = failureClass(e.reason, e.status);
    const code = /^[A-Z][A-Za-z]+/.exec(e.reason ?? '')?.[0];
    if (code !== undefined && code in CLASS_OF) r.code = code;
    if (e.reason !== undefined) r.reason = e.reason;
  }
  return r;
}

/** A +CDS status report as the modem pool emits it. */
export interface StatusReport {
  modem: string;
  messageReference: number;
  delivered: boolean;
  /** Plain words from the TP-Status (e.g. "delivered", "SM expired"). */
  outcome?: string;
}

interface Sent {
  challengeId: string;
  user?: string;
  to?: string;
  at: number;
}

/**
 * Remembers sent passcodes by (modem, reference) for `windowMs` (default a day, at most
 * `capacity` entries, default 10,000) and turns a matching status report into a record.
 */
export class DeliveryTracker {
  private readonly sent = new Map<string, Sent>();

  constructor(
    private readonly windowMs = 86_400_000,
    private readonly capacity = 10_000,
  ) {}

  noteSent(e: OutboxEvent, t: number): void {
    if (e.status !== 'sent' || e.modem === undefined || !e.messageRefs) return;
    // A long message is one report per part; the last part stands for the message.
    const ref = e.messageRefs.at(-1);
    if (ref === undefined) return;
    const s: Sent = { challengeId: e.challengeId, at: t };
    if (e.username !== undefined) s.user = e.username;
    if (e.to !== '') s.to = e.to;
    const key = `${e.modem}|${ref}`;
    this.sent.delete(key);
    this.sent.set(key, s);
    for (const [k, v] of this.sent) {
      if (this.sent.size <= this.capacity && t - v.at <= this.windowMs) break;
      this.sent.delete(k);
    }
  }

  /** The record for a report, or undefined when it matches no passcode sent in the window. */
  recordFor(r: StatusReport, t: number): AuditInput | undefined {
    const key = `${r.modem}|${r.messageReference}`;
    const s = this.sent.get(key);
    if (!s || t - s.at > this.windowMs) return undefined;
    // TP-MR wraps at 256: a report is for the latest send with that reference, once.
    this.sent.delete(key);
    const rec: Omit<SmsRecord, 't'> & { t: number } = {
      kind: 'sms',
      t,
      event: r.delivered ? 'delivered' : 'not-delivered',
      challengeId: s.challengeId,
      modem: r.modem,
      messageRefs: [r.messageReference],
      at: t,
    };
    if (s.user !== undefined) rec.user = s.user;
    if (s.to !== undefined) rec.to = s.to;
    if (r.outcome !== undefined) rec.reason = r.outcome;
    return rec;
  }
}
