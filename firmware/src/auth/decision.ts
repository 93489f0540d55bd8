/**
 * What the engine decides and says: the decision record the audit keeps, the Reply-Message texts,
 * and the small reply builders every step shares. Pure.
 *
 * What a Reply-Message may say: a wrong password and an unknown user get the same words, so the
 * reply never tells whether a name exists. "Account disabled", "Password expired" and the like
 * are only said when the directory reports them, which AD does only after the password was
 * right. A locked account is the exception: AD reports the lockout whatever password was sent,
 * so saying so would confirm the name; it gets the generic reply, and the audit has the truth.
 */
import type { PasswordFailureReason } from '../directory/directory.ts';
import { ErrorCode } from '../errors.ts';
import type { ChallengeCondition } from './challenges.ts';
import type { HandlerReply } from './types.ts';

export type AuthOutcome = 'accept' | 'reject' | 'challenge';

export type AuthReason =
  | 'invalid-user-name'
  | PasswordFailureReason
  | 'not-in-mfa-group'
  | 'no-mobile-number'
  | 'sms-unavailable'
  | 'sms-rate-limited'
  | 'policy-accept'
  | 'challenge-sent'
  | 'challenge-reused'
  | 'passcode-ok'
  | 'passcode-wrong'
  | 'passcode-exhausted'
  | 'state-unknown'
  | 'state-expired'
  | 'state-used'
  | 'state-superseded'
  | 'user-mismatch'
  /** A State sent through another NAS client than the one that received the challenge. */
  | 'state-wrong-nas'
  | 'internal-error'
  // auth policy
  | 'account-locked'
  | 'password-throttled'
  | 'policy-reject'
  | 'no-second-factor'
  | 'method-changed';

export interface AuthDecision {
  /** Wall ms. */
  at: number;
  step: 'password' | 'passcode';
  /** Normalised account name ("" when the User-Name could not be read). */
  user: string;
  /** NAS client name. */
  client: string;
  outcome: AuthOutcome;
  reason: AuthReason;
  /** For rejects that an admin can act on: its row in the error code table of firmware/README.md. */
  code?: ErrorCode;
  /** The policy rule that decided (a built-in one, or a name from policy.rules). */
  rule?: string;
  /** The second factor asked for or checked: token, sms, sms-secondary, override, email. */
  method?: string;
  /** The challenge's id (not its State, which is a bearer token): joins the outbox and audit. */
  challengeId?: string;
  callingStationId?: string;
  /** The directory entry's DN, once the directory resolved the user (for the audit). */
  dn?: string;
  /** Parsed end-user IP, when Calling-Station-Id held one. */
  clientIp?: string;
  /** Masked number, e.g. ******0001. */
  to?: string;
  triesLeft?: number;
  detail?: string;
}

export interface AuthStats {
  requests: number;
  accepts: number;
  rejects: number;
  challenges: number;
  smsQueued: number;
  challengesReused: number;
  wrongPasscodes: number;
  errors: number;
}

/** Short texts: NetScaler shows the Reply-Message as the prompt or the failure line. */
export const MESSAGES = {
  badCredentials: 'Wrong user name or password',
  disabled: 'Account disabled',
  accountExpired: 'Account expired',
  passwordExpired: 'Password expired: change it, then log in again',
  notPermittedNow: 'Logon not permitted at this time',
  workstation: 'Logon not permitted from this device',
  directoryUnavailable: 'Directory unavailable, try again later',
  notInGroup: 'Not enrolled for MFA: contact the help desk',
  noNumber: 'No mobile number on file: contact the help desk',
  smsUnavailable: 'SMS service unavailable',
  smsRateLimited: 'Too many passcodes requested, try again later',
  wrongCode: (left: number) => `Wrong code, ${left} ${left === 1 ? 'try' : 'tries'} left`,
  exhausted: 'Too many wrong codes: log in again',
  expired: 'Passcode expired: log in again',
  unknownState: 'Login timed out: log in again',
  used: 'Passcode already used: log in again',
  denied: 'Access denied',
  locked: 'Account locked after too many wrong codes: try again later or call the help desk',
  throttled: 'Too many failed logins, try again later',
  noSecondFactor: 'No second factor available: contact the help desk',
  smsNotDelivered: 'The SMS could not be delivered.',
  emailNotDelivered: 'The email could not be delivered.',
  internal: 'Service error, try again',
} as const;

export const PASSWORD_REPLY: Record<PasswordFailureReason, { text: string; code?: ErrorCode }> = {
  'bad-password': { text: MESSAGES.badCredentials },
  'unknown-user': { text: MESSAGES.badCredentials },
  locked: { text: MESSAGES.badCredentials },
  disabled: { text: MESSAGES.disabled },
  'account-expired': { text: MESSAGES.accountExpired },
  'password-expired': { text: MESSAGES.passwordExpired },
  'must-change': { text: MESSAGES.passwordExpired },
  'not-permitted-now': { text: MESSAGES.notPermittedNow },
  workstation: { text: MESSAGES.workstation },
  unavailable: { text: MESSAGES.directoryUnavailable },
};

export const CONDITION_REPLY: Record<Exclude<ChallengeCondition, 'live'>, [AuthReason, string, ErrorCode]> = {
  used: ['state-used', MESSAGES.used, ErrorCode.AuthChallengeUsed],
  exhausted: ['passcode-exhausted', MESSAGES.exhausted, ErrorCode.AuthPasscodeExhausted],
  expired: ['state-expired', MESSAGES.expired, ErrorCode.AuthChallengeExpired],
  superseded: ['state-superseded', MESSAGES.unknownState, ErrorCode.AuthChallengeUnknown],
};

export function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => values[k] ?? m);
}

export function reply(code: HandlerReply['code'], message?: string, state?: Buffer): HandlerReply {
  const attributes: HandlerReply['attributes'] = [];
  if (state) attributes.push(['State', state]);
  if (message !== undefined) attributes.push(['Reply-Message', message]);
  return { code, attributes };
}
