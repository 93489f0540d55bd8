/**
 * The demo directory: a few fixed users in memory, so `npm run demo` runs without AD.
 * Documented in README ("Demo users"). Passwords are compared in constant time like a real check.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Directory, DirectoryHealth, DirectoryUser, VerifyResult } from './directory.ts';

export interface DemoUser extends DirectoryUser {
  password: string;
  /** Why a bind would fail for this user, to demo the Reply-Messages. */
  failure?: Exclude<VerifyResult, { ok: true }>['reason'];
}

/**
 * The numbers are fictional (+1 555…): possible but not valid, so they are used only with
 * directory.acceptPossibleNumbers, which the demo directory kind turns on by default.
 */
export const DEMO_USERS: readonly DemoUser[] = [
  {
    username: 'alice',
    dn: 'CN=alice,CN=Users,DC=demo,DC=mfabox',
    displayName: 'Alice Example',
    password: 'alice-pass',
    mobiles: ['+15550000001'],
    groups: ['MFA Users', 'VPN Users'],
    disabled: false,
  },
  {
    username: 'bob',
    dn: 'CN=bob,CN=Users,DC=demo,DC=mfabox',
    displayName: 'Bob Example',
    password: 'bob-pass',
    mobiles: ['+15550000002', '+15550000012'],
    groups: ['MFA Users'],
    disabled: false,
  },
  {
    username: 'carol',
    dn: 'CN=carol,CN=Users,DC=demo,DC=mfabox',
    displayName: 'Carol NoMobile',
    password: 'carol-pass',
    mobiles: [],
    groups: ['MFA Users'],
    disabled: false,
  },
  {
    username: 'dave',
    dn: 'CN=dave,CN=Users,DC=demo,DC=mfabox',
    displayName: 'Dave Disabled',
    password: 'dave-pass',
    mobiles: ['+15550000004'],
    groups: ['MFA Users'],
    disabled: true,
    failure: 'disabled',
  },
  {
    username: 'erin',
    dn: 'CN=erin,CN=Users,DC=demo,DC=mfabox',
    displayName: 'Erin NotInGroup',
    password: 'erin-pass',
    mobiles: ['+15550000005'],
    groups: ['Staff'],
    disabled: false,
  },
];

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Strips `DOMAIN\` and `@domain` so all three login forms find the same user. */
export function accountName(login: string): string {
  const slash = login.lastIndexOf('\\');
  const bare = slash >= 0 ? login.slice(slash + 1) : login;
  const at = bare.indexOf('@');
  return (at >= 0 ? bare.slice(0, at) : bare).toLowerCase();
}

export class DemoDirectory implements Directory {
  private readonly users: Map<string, DemoUser>;
  /** Counts password checks, so tests can prove a retransmit never causes a second bind. */
  binds = 0;

  constructor(users: readonly DemoUser[] = DEMO_USERS) {
    this.users = new Map(users.map((u) => [u.username.toLowerCase(), u]));
  }

  private static publicView(u: DemoUser): DirectoryUser {
    return {
      username: u.username,
      dn: u.dn,
      ...(u.displayName === undefined ? {} : { displayName: u.displayName }),
      ...(u.email === undefined ? {} : { email: u.email }),
      mobiles: [...u.mobiles],
      groups: [...u.groups],
      disabled: u.disabled,
    };
  }

  verifyPassword(username: string, password: string): Promise<VerifyResult> {
    this.binds++;
    const u = this.users.get(accountName(username));
    // Compare even for an unknown user, so timing does not reveal which names exist.
    const match = timingSafeEqual(digest(password), digest(u?.password ?? '\u0000unknown'));
    if (!u) return Promise.resolve({ ok: false, reason: 'unknown-user' });
    if (password.length === 0 || !match) return Promise.resolve({ ok: false, reason: 'bad-password' });
    if (u.failure) return Promise.resolve({ ok: false, reason: u.failure });
    return Promise.resolve({ ok: true, user: DemoDirectory.publicView(u) });
  }

  findUser(username: string): Promise<DirectoryUser | undefined> {
    const u = this.users.get(accountName(username));
    return Promise.resolve(u ? DemoDirectory.publicView(u) : undefined);
  }

  async *listGroupMembers(group: string): AsyncIterable<DirectoryUser> {
    for (const u of this.users.values()) {
      if (u.groups.includes(group)) yield await Promise.resolve(DemoDirectory.publicView(u));
    }
  }

  health(): DirectoryHealth {
    return { state: 'up', server: 'demo (in memory)' };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
