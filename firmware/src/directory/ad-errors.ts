/**
 * Bind failures → reasons, pure. AD puts the real cause of an LDAP 49 (invalidCredentials) in the
 * diagnostic message as `data XXX` (a Win32 error in hex), e.g.
 * `80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data 52e, v4563`.
 * OpenLDAP gives 49 with no sub-code for every cause.
 */
import type { PasswordFailureReason } from './directory.ts';

/** The sub-codes AD (and Samba AD) send, with the reason the engine sees. */
export const AD_SUB_CODES: Readonly<Record<string, PasswordFailureReason>> = {
  '52e': 'bad-password',
  '525': 'unknown-user',
  '530': 'not-permitted-now',
  '531': 'workstation',
  '532': 'password-expired',
  '533': 'disabled',
  '701': 'account-expired',
  '773': 'must-change',
  '775': 'locked',
};

/** The `data XXX` sub-code in a diagnostic message, lower-case, or undefined. */
export function adSubCode(diagnostic: string): string | undefined {
  const m = /\bdata ([0-9a-f]{1,8})\b/i.exec(diagnostic);
  return m?.[1]?.toLowerCase();
}

/**
 * The reason for an LDAP 49 answer. An unknown sub-code (or none, as from OpenLDAP) is a bad password:
 * the server said no, and saying more would be a guess.
 */
export function reasonForInvalidCredentials(diagnostic: string): PasswordFailureReason {
  const code = adSubCode(diagnostic);
  return (code === undefined ? undefined : AD_SUB_CODES[code]) ?? 'bad-password';
}

/** userAccountControl flags we act on. */
export const UAC_ACCOUNTDISABLE = 0x2;
export const UAC_LOCKOUT = 0x10;

export function uacDisabled(uac: string | undefined): boolean {
  if (uac === undefined) return false;
  const n = Number.parseInt(uac, 10);
  return Number.isFinite(n) && (n & UAC_ACCOUNTDISABLE) !== 0;
}
