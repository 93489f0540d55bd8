/**
 * The user record in the store's 'users' table (key: lower-cased username). The directory sync owns
 * the directory fields; everything else (overrides set on the box, OATH tokens, fields other areas
 * add) belongs to others and survives every sync.
 */

export interface UserOverrides {
  /** A secondary number entered on the box (E.164); wins over the directory's secondary. */
  secondaryMobile?: string;
}

export interface UserRecord {
  /** As the directory spells it (sAMAccountName / uid). */
  username: string;
  dn: string;
  displayName?: string;
  /** E.164 primary number from the directory (mobile; the secondary attribute when mobile is empty). */
  mobile: string;
  /** E.164 secondary number from the directory (otherMobile / telephoneNumber). */
  secondaryMobile?: string;
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
