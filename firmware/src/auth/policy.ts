/**
 * Login policy, pure: facts about a login that already passed the password step → reject, accept
 * on the password alone, or challenge with a method chain. Ordered rules, the first whose
 * conditions all hold decides; every rule tried is explained condition by condition, for
 * `mfabox policy explain` and for the audit record of each login. firmware/src/auth/README.md is
 * the reference.
 */
import type { RuleConfig } from '../config/auth-schema.ts';
import {
  buildConditions,
  groupMatcher,
  type Condition,
  type ConditionResult,
  type PolicyInput,
} from './conditions.ts';

export interface PolicySettings {
  /** CIDRs of end-user addresses (from Calling-Station-Id) that skip the passcode. */
  trustedNetworks: readonly string[];
  /** Members of this group use MFA: a name (CN) or a DN; "" means every user. */
  mfaGroup: string;
  /** Outside the MFA group: reject (true) or accept on the password alone (false). */
  rejectOutsideGroup: boolean;
  /** Members of any of these groups (names or DNs) skip the second factor (service accounts, break-glass). */
  exemptGroups: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// The adaptive policy: ordered rules, the first whose conditions all hold decides, explained
// condition by condition. The built-in gates keep their place around the admin's rules:
//
//   1. mfa-group        outside the MFA group: reject (or password only, if configured)
//   2. the admin's rules (policy.rules), in order
//   3. exempt-group     accept on the password
//   4. trusted-network  accept on the password
//   5. default          challenge with the "default" chain

export type AdaptiveAction = 'reject' | 'accept' | { challenge: string };

export interface RuleTrace {
  rule: string;
  matched: boolean;
  conditions: (ConditionResult & { name: string })[];
  /** Set on the matching rule. */
  action?: AdaptiveAction;
}

export type AdaptiveVerdict = (
  | { action: 'accept' }
  | { action: 'reject'; reason: 'not-in-mfa-group' | 'policy-reject' }
  | { action: 'challenge'; chain: string }
) & { rule: string; trace: RuleTrace[] };

interface CompiledRule {
  name: string;
  conditions: Condition[];
  action: AdaptiveAction;
  onUnknown: 'no-match' | 'match';
  reason?: 'not-in-mfa-group';
}

export interface AdaptivePolicy {
  /** Whether any rule asks for the country or the IP history (the engine looks them up only then). */
  readonly needs: { country: boolean; ipHistory: boolean };
  decide(input: PolicyInput): AdaptiveVerdict;
}

/** The whole policy section of the config → the rule list. Throws RangeError on a bad CIDR (validated before). */
export function compilePolicy(
  cfg: PolicySettings & { rules: readonly RuleConfig[]; timeZone: string },
): AdaptivePolicy {
  const rules: CompiledRule[] = [];
  if (cfg.mfaGroup !== '') {
    const member = groupMatcher([cfg.mfaGroup]);
    const group = cfg.mfaGroup;
    rules.push({
      name: 'mfa-group',
      conditions: [
        {
          name: 'notGroups',
          test: (i) => {
            const hit = member(i.user);
            return {
              condition: `not a member of "${group}"`,
              answer: hit === undefined ? 'yes' : 'no',
              detail: hit === undefined ? 'not a member' : 'member',
            };
          },
        },
      ],
      action: cfg.rejectOutsideGroup ? 'reject' : 'accept',
      onUnknown: 'no-match',
      reason: 'not-in-mfa-group',
    });
  }
  for (const r of cfg.rules)
    rules.push({
      name: r.name,
      conditions: buildConditions(r.if, cfg.timeZone),
      action: r.then,
      onUnknown: r.onUnknown,
    });
  if (cfg.exemptGroups.length > 0)
    rules.push({
      name: 'exempt-group',
      conditions: buildConditions({ groups: [...cfg.exemptGroups] }, cfg.timeZone),
      action: 'accept',
      onUnknown: 'no-match',
    });
  if (cfg.trustedNetworks.length > 0)
    rules.push({
      name: 'trusted-network',
      conditions: buildConditions({ networks: [...cfg.trustedNetworks] }, cfg.timeZone),
      action: 'accept',
      onUnknown: 'no-match',
    });
  rules.push({ name: 'default', conditions: [], action: { challenge: 'default' }, onUnknown: 'no-match' });

  const uses = (name: string): boolean => rules.some((r) => r.conditions.some((c) => c.name === name));
  return {
    needs: { country: uses('countries') || uses('notCountries'), ipHistory: uses('ipSeenWithinDays') },
    decide(input) {
      const trace: RuleTrace[] = [];
      for (const r of rules) {
        const results: RuleTrace['conditions'] = [];
        let matched = true;
        // Every condition is evaluated, so the explanation is complete.
        for (const c of r.conditions) {
          const res = { ...c.test(input), name: c.name };
          results.push(res);
          if (res.answer === 'no' || (res.answer === 'unknown' && r.onUnknown === 'no-match'))
            matched = false;
        }
        // The accept action never matches on unknown, whatever the config says (schema refuses it too).
        if (r.action === 'accept' && results.some((x) => x.answer === 'unknown')) matched = false;
        trace.push({ rule: r.name, matched, conditions: results, ...(matched ? { action: r.action } : {}) });
        if (!matched) continue;
        if (r.action === 'accept') return { action: 'accept', rule: r.name, trace };
        if (r.action === 'reject')
          return { action: 'reject', reason: r.reason ?? 'policy-reject', rule: r.name, trace };
        return { action: 'challenge', chain: r.action.challenge, rule: r.name, trace };
      }
      // Unreachable: "default" has no conditions.
      return { action: 'challenge', chain: 'default', rule: 'default', trace };
    },
  };
}

function actionText(a: AdaptiveAction): string {
  return typeof a === 'string' ? a : `challenge (chain "${a.challenge}")`;
}

/** Lines for `policy explain`: every rule tried, every condition with its answer. */
export function explainLines(v: AdaptiveVerdict): string[] {
  const out: string[] = [];
  v.trace.forEach((t, i) => {
    out.push(
      `${i + 1}. ${t.rule}: ${t.matched ? `MATCH → ${actionText(t.action ?? 'reject')}` : 'no match'}`,
    );
    if (t.conditions.length === 0) out.push('     (no conditions)');
    for (const c of t.conditions) out.push(`     ${c.answer.padEnd(7)} ${c.condition} (${c.detail})`);
  });
  return out;
}

/** One line for the audit record: rule:answer per condition, y/n/? each. */
export function explainCompact(v: AdaptiveVerdict): string {
  const mark = { yes: 'y', no: 'n', unknown: '?' } as const;
  return v.trace
    .map(
      (t) =>
        `${t.rule}${t.matched ? '=MATCH' : ''}(${t.conditions.map((c) => `${c.name}:${mark[c.answer]}`).join(',')})`,
    )
    .join(' ');
}
