/**
 * What a failed send means for the outbox, pure. The modem layer classifies CMS/CME codes; this
 * turns its verdict plus one fact only the outbox knows (did `beforeSubmit` finish, i.e. did we
 * get as far as Ctrl-Z?) into the next step.
 */
import { ErrorCode, isMfaError } from '../errors.ts';

export type SendFailure =
  /** Definitely not sent (refused before Ctrl-Z, or a definite network refusal): retry with backoff. */
  | { kind: 'retry'; reason: string }
  /** CMS 500 "unknown error": a definite refusal of unclear cause, retried once. */
  | { kind: 'retry-once'; reason: string }
  /** The network may or may not have taken it: at most one audited resend. */
  | { kind: 'unknown'; reason: string }
  | { kind: 'expired'; reason: string }
  | { kind: 'permanent'; reason: string };

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
      : { kind: 'permanent', reason: 'unclassified error' };
  }
  const reason = e.codeName;
  if (e.flags.outcomeUnknown) return { kind: 'unknown', reason };
  if (e.code === ErrorCode.SmsExpired) return { kind: 'expired', reason };
  if (submitted && !DEFINITE.has(e.code) && !e.flags.retryable) return { kind: 'unknown', reason };
  if (e.code === ErrorCode.SmsRetryable || e.flags.retryable) return { kind: 'retry', reason };
  // No modem can send right now: nothing went out, and waiting for one is what a queue is for.
  if (e.code === ErrorCode.SmsNoModem) return { kind: 'retry', reason };
  // Our own `submitting` write failed at the prompt: the modem abandoned with ESC; try again later.
  if (e.code === ErrorCode.StoreWriteFailed && !submitted) return { kind: 'retry', reason };
  if (e.code === ErrorCode.SmsUnknown) return { kind: 'retry-once', reason };
  return { kind: 'permanent', reason };
}

/** Backoff before retry number `attempt` (1-based): base, 2×base, 4×base … capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
