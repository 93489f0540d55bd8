/**
 * The user record in the store's 'users' table (key: lower-cased username). The directory sync owns
 * the directory fields; everything else (overrides set on the box, OATH tokens, fields other areas
 * add) belongs to others and survives every sync.
 *
 * A member who is still in the group but has no usable directory number, or is disabled, keeps
 * the record (and so the box-side fields) with the directory numbers cleared and the reason set
 * (`numberProblem`, `disabled`); the record goes only once the user leaves the group.
 */

export interface UserOverrides {
  /** A secondary number entered on the box (E.164); wins over the directory's secondary. */
  secondaryMobile?: string;
}

/** Why the directory gave no usable number at the last sync. */
export type NumberProblem = 'no-number' | 'invalid-number';

export interface UserRecord {
  /** As the directory spells it (sAMAccountName / uid). */
  username: string;
  dn: string;
  displayName?: string;
  /**
   * E.164 primary number from the directory (mobile; the secondary attribute when mobile is
   * empty). Absent while the directory has no usable number or the account is disabled, so no
   * SMS goes to a number the directory no longer vouches for.
   */
  mobile?: string;
  /** E.164 secondary number from the directory (otherMobile / telephoneNumber). */
  secondaryMobile?: string;
  /** Email address from the directory (directory.attributes.email), for the email method; absent while disabled. */
  email?: string;
  /** Set while the directory has no usable number for this member (directory-owned). */
  numberProblem?: NumberProblem;
  /**
   * Set while the account is disabled in the directory (AD ACCOUNTDISABLE), directory-owned. The
   * record is kept for when it is enabled again; login is refused from the live directory answer
   * (auth engine), never allowed by this flag's absence.
   */
  disabled?: true;
  /** Group CNs at the last sync. */
  groups: string[];
  /** 'directory': kept in step with the group by sync; 'local': created on the box, never removed by sync. */
  source: 'directory' | 'local';
  /** Wall ms of the sync that last changed the directory fields. */
  syncedAt: number;
  overrides?: UserOverrides;
  /** OATH tokens, owned by auth/oath; sync never touches them. */
  oath?: readonly unknown[];
}

export const USERS_TABLE = 'users' as const;

/** Store key of a user. */
export function userKey(username: string): string {
  return username.toLowerCase();
}
