/** The directory seam: AD/OpenLDAP in production, an in-memory directory for the demo and unit tests. */

export interface DirectoryUser {
  /** Canonical login name (sAMAccountName / uid). */
  username: string;
  /** Distinguished name exactly as the directory returned it. */
  dn: string;
  displayName?: string;
  /** Email address (directory.attributes.email, default mail), for the email method; absent when none. */
  email?: string;
  /** Raw numbers as stored in the directory, primary first; normalised to E.164 by the caller. */
  mobiles: string[];
  /**
   * The numbers in `mobiles` that came from the secondary attribute (otherMobile / telephoneNumber),
   * so sync can tell primary from secondary. Absent when the directory does not know (demo).
   */
  secondaryMobiles?: string[];
  /** Group names (CN) the user is a member of, directly or nested where the dialect supports it. */
  groups: string[];
  /**
   * The same memberships as DNs, as the directory returned them: a CN is not unique (two OUs may
   * each hold a "VPN Users"), so a group configured by DN is matched against these. Absent when the
   * directory knows names only (demo).
   */
  groupDns?: string[];
  disabled: boolean;
}

export type PasswordFailureReason =
  | 'bad-password'
  | 'unknown-user'
  | 'disabled'
  | 'password-expired'
  | 'account-expired'
  | 'locked'
  | 'must-change'
  | 'not-permitted-now'
  | 'workstation'
  | 'unavailable';

export type VerifyResult =
  { ok: true; user: DirectoryUser } | { ok: false; reason: PasswordFailureReason; detail?: string };

export interface DirectoryHealth {
  state: 'up' | 'degraded' | 'down';
  detail?: string;
  /** The server currently used, e.g. ldaps://dc1:636. */
  server?: string;
}

export interface Directory {
  /** Checks the password and returns the live user (numbers, groups). Never throws for a wrong password. */
  verifyPassword(username: string, password: string): Promise<VerifyResult>;
  /**
   * Looks a user up without a password (passwordCheck = none). Undefined when the directory has no
   * such user; throws an MfaError (Directory…) when no DC answers, so "unknown" and "unavailable"
   * never look alike.
   */
  findUser(username: string): Promise<DirectoryUser | undefined>;
  /** Members of a group, paged underneath. */
  listGroupMembers(group: string): AsyncIterable<DirectoryUser>;
  /**
   * The same members a page at a time, for the sync: 10,000 members cost 10 awaits instead of
   * 10,000. Optional; sync falls back to listGroupMembers.
   */
  listGroupMemberPages?(group: string): AsyncIterable<readonly DirectoryUser[]>;
  health(): DirectoryHealth;
  close(): Promise<void>;
}
