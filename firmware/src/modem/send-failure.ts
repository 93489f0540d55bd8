/**
 * Builds the MfaError of a failed send, with its classified failure (the `SendFailure` union in
 * errors.ts) carried on it as it is to the pool and the outbox. Nobody downstream maps an error
 * code back to a class.
 *
 * The retry rules live here too, so the pool and `mfabox modem send` apply the same ones.
 */
import { ErrorCode, MfaError, type MfaErrorOptions, type SendFailure } from '../errors.ts';
import { attemptsFor } from './at/errors.ts';

export type { SendFailure } from '../errors.ts';
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

type SendErrorOptions = Omit<MfaErrorOptions, 'field' | 'sendFailure'>;

/** The MfaError a send rejects with: its code from the class, and the failure itself on `sendFailure`. */
export function sendError(message: string, failure: SendFailure, options: SendErrorOptions = {}): MfaError {
  return new MfaError(message, CODE[failure.class], {
    ...options,
    flags: {
      ...options.flags,
      retryable: failure.class === 'retryable' || failure.class === 'no-modem',
      outcomeUnknown: failure.class === 'outcome-unknown',
    },
    sendFailure: failure,
  });
}

export function sendFailure(
  cls: SendFailureClass,
  message: string,
  options: SendErrorOptions = {},
): MfaError {
  return sendError(message, { class: cls, reason: message }, options);
}

/** The classified failure of a send, or undefined for anything else (a bug, our own write). */
export function sendFailureOf(e: unknown): SendFailure | undefined {
  return e instanceof MfaError ? e.sendFailure : undefined;
}

/**
 * A channel error during a send (a timeout, a lost port, a modem reset) as a send failure: after
 * Ctrl-Z the outcome is unknown, before it nothing went out and a retry may work. Anything that is
 * not a channel error passes through as it is.
 */
export function fromChannelError(modem: string, e: unknown): unknown {
  if (!(e instanceof MfaError) || e.sendFailure !== undefined) return e;
  if (e.code !== ErrorCode.ModemTimeout && e.code !== ErrorCode.ModemClosed) return e;
  const unknown = e.flags.outcomeUnknown === true;
  return sendError(
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
