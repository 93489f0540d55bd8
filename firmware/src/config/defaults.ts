/**
 * Config floors and defaults that running code reads outside validation. They live apart from
 * the schema (zod), which a box's start does not load (start-config.ts); the schema uses them
 * too, and test/unit/config/defaults.test.ts checks the written-out defaults against it.
 */
import type { LimitsConfig, LockoutConfig, MethodsConfig } from './auth-schema.ts';

/** The shared-secret floor (radius.clients[].secret), below which allowWeakSecret is needed. */
export const MIN_SECRET_CHARS = 16;

export const METHODS = ['token', 'sms', 'sms-secondary', 'override', 'email'] as const;
export type MethodName = (typeof METHODS)[number];

export const DEFAULT_CHAIN: readonly MethodName[] = ['token', 'sms', 'sms-secondary'];

/** What `lockout`, `limits` and `methods` are when a config leaves them out (auth-schema.ts). */
export const AUTH_DEFAULTS: { lockout: LockoutConfig; limits: LimitsConfig; methods: MethodsConfig } = {
  lockout: {
    enabled: true,
    windowMinutes: 15,
    steps: [
      { failures: 5, minutes: 5 },
      { failures: 10, minutes: 30 },
      { failures: 15, minutes: 0 },
    ],
    forgetAfterHours: 24,
  },
  limits: {
    smsPerIp: { max: 20, windowMinutes: 15 },
    badPassword: { max: 5, windowMinutes: 5 },
    badPasswordCoolDownMinutes: 15,
  },
  methods: {
    chains: { default: [...DEFAULT_CHAIN] },
    nextWord: 'sms2',
    smsUnsentSeconds: 45,
    tokenPrompt: 'Enter your token code',
    overridePrompt: 'Enter your override code',
    email: { enabled: false, port: 587, subject: 'Your sign-in passcode' },
  },
};

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The MFA group is named twice: `directory.group` (whose members are synced, and nested
 * membership checked at login) and `policy.mfaGroup` (who must use MFA). An admin who renames
 * only the first would lock everyone out, so an unset `policy.mfaGroup` follows `directory.group`.
 * Either may be a name or a DN: the policy matches a DN against the user's group DNs.
 */
export function inheritMfaGroup(input: unknown): unknown {
  if (!isObject(input) || !isObject(input.directory) || typeof input.directory.group !== 'string')
    return input;
  const policy = isObject(input.policy) ? input.policy : {};
  if (policy.mfaGroup !== undefined) return input;
  return { ...input, policy: { ...policy, mfaGroup: input.directory.group } };
}
