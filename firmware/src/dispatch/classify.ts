/**
 * What a failed send means for the outbox, pure. The modem layer classifies CMS/CME codes; this
 * turns its verdict plus one fact only the outbox knows (did `beforeSubmit` finish, i.e. did we
 * get as far as Ctrl-Z?) into the next step.
 *
 * One layer owns each kind of retry, so they never multiply: the modem pool retries retryable
 * network errors (3 tries, preferring another modem) and CMS 500 (2 tries) before it gives up,
 * so what reaches the outbox is final. The outbox only waits for a modem when none can send,
 * retries its own `submitting` write, and makes the one audited resend of an unknown outcome.
 */
import { ErrorCode, isMfaError } from '../errors.ts';

export type SendFailure =
  /** No modem can send now; nothing went out. Wait for one while the passcode lives. */
  | { kind: 'wait-modem'; reason: string }
  /** Our own `submitting` write failed at the prompt; the modem sent ESC. Retry, bounded. */
  | { kind: 'retry-own-write'; reason: string }
  /** The network may or may not have taken it: at most one audited resend. */
  | { kind: 'unknown'; reason: string }
  | { kind: 'expired'; reason: string }
  /** Definitely not sent, and the pool has already spent its retries (or none apply). */
  | { kind: 'failed'; reason: string };

/** Codes that are a definite answer from the modem or network: nothing ambiguous about them. */
const DEFINITE = new Set<ErrorCode>([
  ErrorCode.SmsRetryable,
  ErrorCode.SmsPermanent,
  ErrorCode.SmsSimFailure,
  ErrorCode.SmsUnknown,
  ErrorCode.SmsExpired,
  ErrorCode.SmsInvalidNumber,
  ErrorCode.SmsEncodingFailed,
  ErrorCode.SmsNoModem,
]);

/**
 * @param submitted true once our `beforeSubmit` resolved: from then on the modem may have
 *   written Ctrl-Z, so an error that is not a definite answer counts as an unknown outcome.
 */
export function classifySendFailure(e: unknown, submitted: boolean): SendFailure {
  if (!isMfaError(e)) {
    return submitted
      ? { kind: 'unknown', reason: 'unclassified error after submit' }
      : { kind: 'failed', reason: 'unclassified error' };
  }
  const reason = e.codeName;
  if (e.flags.outcomeUnknown) return { kind: 'unknown', reason };
  if (e.code === ErrorCode.SmsExpired) return { kind: 'expired', reason };
  if (submitted && !DEFINITE.has(e.code) && !e.flags.retryable) return { kind: 'unknown', reason };
  // No modem can send right now: nothing went out, and waiting for one is what a queue is for.
  if (e.code === ErrorCode.SmsNoModem) return { kind: 'wait-modem', reason };
  if (e.code === ErrorCode.StoreWriteFailed && !submitted) return { kind: 'retry-own-write', reason };
  // SmsRetryable, CMS 500, a retryable flag: the pool retried these already. Final.
  return { kind: 'failed', reason };
}

/** Backoff before retry number `attempt` (1-based): base, 2×base, 4×base … capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
