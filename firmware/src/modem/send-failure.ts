/**
 * A failed send, classified once where it happens and carried as it is to the pool (which
 * retries) and the outbox (which waits, resends an unknown outcome once, or gives up). Nobody
 * downstream maps an error code back to a class.
 *
 * The retry rules live here too, so the pool and `mfabox modem send` apply the same ones.
 */
import { ErrorCode, MfaError, type MfaErrorOptions } from '../errors.ts';
import { attemptsFor } from './at/errors.ts';

export type SendFailure =
  /** Definitely not sent; another try may work (congestion, SMS collision, a hang before the prompt). */
  | { class: 'retryable'; reason: string }
  /** Definitely not sent, and the modem would not say why (CMS 500 before Ctrl-Z): one more try. */
  | { class: 'unknown'; reason: string }
  /** This message will never go (bad number, bad PDU, barred). */
  | { class: 'permanent'; reason: string }
  /** The SIM is missing, locked or broken: another modem may send it. */
  | { class: 'sim'; reason: string }
  /** After Ctrl-Z without a clear refusal: the network may have it. Never retried by the pool. */
  | { class: 'outcome-unknown'; reason: string }
  /** The passcode's life ran out before Ctrl-Z: nothing went out. */
  | { class: 'expired'; reason: string }
  /** No modem can send now; nothing went out. */
  | { class: 'no-modem'; reason: string };

export type SendFailureClass = SendFailure['class'];

/** The one place a class meets an error code (for logs, the API and the README table). */
const CODE: Record<SendFailureClass, ErrorCode> = {
  retryable: ErrorCode.SmsRetryable,
  unknown: ErrorCode.SmsUnknown,
  permanent: ErrorCode.SmsPermanent,
  sim: ErrorCode.SmsSimFailure,
  'outcome-unknown': ErrorCode.SmsUnknown,
  expired: ErrorCode.SmsExpired,
  'no-modem': ErrorCode.SmsNoModem,
};

/** The MfaError a send rejects with; `failure` says what it means. */
export class SmsSendError extends MfaError {
  readonly failure: SendFailure;

  constructor(message: string, failure: SendFailure, options: Omit<MfaErrorOptions, 'field'> = {}) {
    super(message, CODE[failure.class], {
      ...options,
      flags: {
        ...options.flags,
        retryable: failure.class === 'retryable' || failure.class === 'no-modem',
        outcomeUnknown: failure.class === 'outcome-unknown',
      },
    });
    this.failure = failure;
  }
}

export function sendFailure(
  cls: SendFailureClass,
  message: string,
  options: Omit<MfaErrorOptions, 'field'> = {},
): SmsSendError {
  return new SmsSendError(message, { class: cls, reason: message }, options);
}

/** The classified failure of a send, or undefined for anything else (a bug, our own write). */
export function sendFailureOf(e: unknown): SendFailure | undefined {
  return e instanceof SmsSendError ? e.failure : undefined;
}

/**
 * A channel error during a send (a timeout, a lost port, a modem reset) as a send failure: after
 * Ctrl-Z the outcome is unknown, before it nothing went out and a retry may work. Anything that is
 * not a channel error passes through as it is.
 */
export function fromChannelError(modem: string, e: unknown): unknown {
  if (!(e instanceof MfaError) || e instanceof SmsSendError) return e;
  if (e.code !== ErrorCode.ModemTimeout && e.code !== ErrorCode.ModemClosed) return e;
  const unknown = e.flags.outcomeUnknown === true;
  return new SmsSendError(
    `${modem}: ${e.message}${unknown ? ' (after Ctrl-Z: the message may have gone)' : ''}`,
    { class: unknown ? 'outcome-unknown' : 'retryable', reason: e.codeName },
    { cause: e, flags: e.flags },
  );
}

/**
 * What to do after attempt number `attempt` (1-based) failed: try `again` after a backoff, move
 * to `another-modem` at once, or `give-up`. After Ctrl-Z only a clear refusal has a retryable
 * class (see at/errors.ts); an unknown outcome is never retried here: that is the outbox's call.
 */
export function nextStep(f: SendFailure | undefined, attempt: number): 'again' | 'another-modem' | 'give-up' {
  switch (f?.class) {
    case 'sim':
      return 'another-modem';
    case 'retryable':
    case 'unknown':
      return attempt < attemptsFor(f.class) ? 'again' : 'give-up';
    default:
      return 'give-up';
  }
}

/** Backoff before retry `attempt` (1-based): base, 2×base, 4×base… */
export function retryDelayMs(attempt: number, baseMs: number): number {
  return baseMs * 2 ** (attempt - 1);
}
