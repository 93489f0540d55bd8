/**
 * Login policy, pure: facts about a login that already passed the password step → challenge,
 * accept without a passcode, or reject. Rules run in order and the first that decides wins, so
 * later rules (time windows, IP history, per-NAS rules) slot into the list without touching the
 * engine.
 */
import type { ClientIp } from './calling-station.ts';
import { CidrSet } from '../net/cidr.ts';
import { isDn, normalizeDn } from '../directory/dn.ts';

export interface PolicySettings {
  /** CIDRs of end-user addresses (from Calling-Station-Id) that skip the passcode. */
  trustedNetworks: readonly string[];
  /** Members of this group use MFA: a name (CN) or a DN; "" means every user. */
  mfaGroup: string;
  /** Outside the MFA group: reject (true) or accept on the password alone (false). */
  rejectOutsideGroup: boolean;
  /** No usable mobile number: reject (true) or accept on the password alone (false). */
  rejectWithoutNumber: boolean;
  /** Members of any of these groups (names or DNs) skip the passcode (service accounts, break-glass). */
  exemptGroups: readonly string[];
}

export interface PolicyContext {
  /** `groups` are CNs; `groupDns` the same memberships as DNs, when the directory gave them. */
  user: { username: string; groups: readonly string[]; groupDns?: readonly string[] | undefined };
  /** Parsed Calling-Station-Id; undefined = not known, never trusted. */
  clientIp: ClientIp | undefined;
  /** The NAS client's name. */
  nas: string;
  /** E.164 number the passcode would go to; undefined when the directory has no usable one. */
  mobile: string | undefined;
  /** Wall time, ms: for the time-window rules to come. */
  now: number;
}

export type PolicyRuleName = 'mfa-group' | 'exempt-group' | 'trusted-network' | 'mobile-number';

export type PolicyRejectReason = 'not-in-mfa-group' | 'no-mobile-number';

export type PolicyDecision =
  | { action: 'challenge' }
  | { action: 'accept'; rule: PolicyRuleName; detail: string }
  | { action: 'reject'; rule: PolicyRuleName; reason: PolicyRejectReason; detail: string };

export interface PolicyRule {
  name: PolicyRuleName;
  /** A decision, or undefined to let the next rule decide. */
  evaluate(ctx: PolicyContext): PolicyDecision | undefined;
}

export interface Policy {
  readonly rules: readonly PolicyRule[];
  decide(ctx: PolicyContext): PolicyDecision;
}

/**
 * Configured groups → a membership test. A group given as a DN matches the user's group DNs (as
 * the directory compares DNs: case, spacing and escapes do not matter); a name matches the user's
 * group CNs case-insensitively, as AD does. A name is ambiguous across OUs, a DN is not: an admin
 * who configures a DN must not be satisfied by a same-named group elsewhere.
 */
function groupMatcher(wanted: readonly string[]): (user: PolicyContext['user']) => string | undefined {
  const byName = new Map<string, string>();
  const byDn = new Map<string, string>();
  for (const g of wanted) {
    if (isDn(g)) byDn.set(normalizeDn(g), g);
    else byName.set(g.toLowerCase(), g);
  }
  return (user) => {
    for (const g of user.groups) {
      const hit = byName.get(g.toLowerCase());
      if (hit !== undefined) return hit;
    }
    if (byDn.size > 0)
      for (const dn of user.groupDns ?? []) {
        const hit = byDn.get(normalizeDn(dn));
        if (hit !== undefined) return hit;
      }
    return undefined;
  };
}

export function mfaGroupRule(group: string, rejectOutside: boolean): PolicyRule {
  const member = groupMatcher([group]);
  return {
    name: 'mfa-group',
    evaluate(ctx) {
      if (group === '' || member(ctx.user) !== undefined) return undefined;
      return rejectOutside
        ? { action: 'reject', rule: 'mfa-group', reason: 'not-in-mfa-group', detail: `not in "${group}"` }
        : { action: 'accept', rule: 'mfa-group', detail: `outside "${group}": password only` };
    },
  };
}

export function exemptGroupRule(groups: readonly string[]): PolicyRule {
  const member = groupMatcher(groups);
  return {
    name: 'exempt-group',
    evaluate(ctx) {
      const hit = member(ctx.user);
      return hit === undefined
        ? undefined
        : { action: 'accept', rule: 'exempt-group', detail: `member of exempt "${hit}"` };
    },
  };
}

export function trustedNetworkRule(cidrs: readonly string[]): PolicyRule {
  const set = new CidrSet(cidrs);
  return {
    name: 'trusted-network',
    evaluate(ctx) {
      return set.has(ctx.clientIp)
        ? { action: 'accept', rule: 'trusted-network', detail: `from trusted ${ctx.clientIp?.address}` }
        : undefined;
    },
  };
}

export function mobileNumberRule(rejectWithout: boolean): PolicyRule {
  return {
    name: 'mobile-number',
    evaluate(ctx) {
      if (ctx.mobile !== undefined) return undefined;
      return rejectWithout
        ? { action: 'reject', rule: 'mobile-number', reason: 'no-mobile-number', detail: 'no usable number' }
        : { action: 'accept', rule: 'mobile-number', detail: 'no usable number: password only' };
    },
  };
}

/**
 * The default order. Group membership first: it says whether the user may log in at all, so a
 * trusted network never lets a non-member in. Exemptions and trusted networks come before the
 * number check, because a login that needs no SMS needs no number either.
 */
export function buildPolicy(settings: PolicySettings, extra: readonly PolicyRule[] = []): Policy {
  const rules: PolicyRule[] = [
    mfaGroupRule(settings.mfaGroup, settings.rejectOutsideGroup),
    exemptGroupRule(settings.exemptGroups),
    trustedNetworkRule(settings.trustedNetworks),
    ...extra,
    mobileNumberRule(settings.rejectWithoutNumber),
  ];
  return {
    rules,
    decide(ctx) {
      for (const rule of rules) {
        const d = rule.evaluate(ctx);
        if (d) return d;
      }
      return { action: 'challenge' };
    },
  };
}
