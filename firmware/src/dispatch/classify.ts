/**
 * What a failed send means for the outbox, pure. The modem layer classified the failure once
 * (modem/send-failure.ts); this adds the one fact only the outbox knows (did `beforeSubmit`
 * finish, i.e. did we get as far as Ctrl-Z?) and turns both into the next step.
 *
 * One layer owns each kind of retry, so they never multiply: the modem pool retries retryable
 * network errors (3 tries, preferring another modem) and CMS 500 (2 tries) before it gives up,
 * so what reaches the outbox is final. The outbox only waits for a modem when none can send,
 * retries its own `submitting` write, and makes the one audited resend of an unknown outcome.
 */
import { ErrorCode, isMfaError, type MfaError } from '../errors.ts';
import { sendFailureOf } from '../modem/send-failure.ts';

export type NextStep =
  /** No modem can send now; nothing went out. Wait for one while the passcode lives. */
  | { kind: 'wait-modem'; reason: string }
  /** Our own `submitting` write failed at the prompt; the modem sent ESC. Retry, bounded. */
  | { kind: 'retry-own-write'; reason: string }
  /** The network may or may not have taken it: at most one audited resend. */
  | { kind: 'unknown'; reason: string }
  | { kind: 'expired'; reason: string }
  /** Definitely not sent, and the pool has already spent its retries (or none apply). */
  | { kind: 'failed'; reason: string };

/**
 * @param submitted true once our `beforeSubmit` resolved: from then on the modem may have
 *   written Ctrl-Z, so an error that is not a classified send failure counts as an unknown outcome.
 */
export function classifySendFailure(e: unknown, submitted: boolean): NextStep {
  const f = sendFailureOf(e);
  if (f) {
    const reason = (e as MfaError).codeName;
    switch (f.class) {
      case 'outcome-unknown':
        return { kind: 'unknown', reason };
      case 'expired':
        return { kind: 'expired', reason };
      // Nothing went out, and waiting for a modem is what a queue is for.
      case 'no-modem':
        return { kind: 'wait-modem', reason };
      // retryable, unknown (CMS 500), permanent, sim: the pool retried what it could. Final.
      default:
        return { kind: 'failed', reason };
    }
  }
  if (!isMfaError(e)) {
    return submitted
      ? { kind: 'unknown', reason: 'unclassified error after submit' }
      : { kind: 'failed', reason: 'unclassified error' };
  }
  const reason = e.codeName;
  if (e.flags.outcomeUnknown || (submitted && !e.flags.retryable)) return { kind: 'unknown', reason };
  if (e.code === ErrorCode.StoreWriteFailed && !submitted) return { kind: 'retry-own-write', reason };
  return { kind: 'failed', reason };
}

/** Backoff before retry number `attempt` (1-based): base, 2×base, 4×base … capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
