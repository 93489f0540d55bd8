/**
 * User-Name → the account name the directory and the challenge are keyed by, pure.
 * `DOMAIN\user`, `user@domain` and `user` are the same login; AD names are case-insensitive.
 */

export interface Login {
  /** Lower-cased account name without domain, e.g. "alice". */
  account: string;
  /** The domain part as typed (NetBIOS or DNS), if any; for the audit only. */
  domain?: string;
}

/** sAMAccountName is at most 20 characters and a UPN at most 256; refuse longer outright. */
const MAX_LENGTH = 256;
// Control characters in a name are never legitimate and confuse logs and LDAP filters.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function normaliseLogin(userName: string): Login | undefined {
  const raw = userName.trim();
  if (raw.length === 0 || raw.length > MAX_LENGTH || CONTROL.test(raw)) return undefined;
  let account = raw;
  let domain: string | undefined;
  const slash = account.lastIndexOf('\\');
  if (slash >= 0) {
    domain = account.slice(0, slash);
    account = account.slice(slash + 1);
  }
  const at = account.indexOf('@');
  if (at >= 0) {
    domain ??= account.slice(at + 1);
    account = account.slice(0, at);
  }
  account = account.trim().toLowerCase();
  if (account.length === 0) return undefined;
  return domain === undefined || domain.length === 0 ? { account } : { account, domain };
}
