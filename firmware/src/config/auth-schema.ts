/**
 * The configuration of the authentication policy: lockout, abuse limits, second-factor methods and
 * their chains, and the adaptive rules. Units, ranges and defaults are documented per field;
 * `firmware/src/auth/README.md` is the reference for how they interact.
 */
import { z } from 'zod';
import { parseCidr } from '../net/cidr.ts';
import { DEFAULT_CHAIN, METHODS, type MethodName } from './defaults.ts';

const cidr = z
  .string()
  .refine(
    (s) => parseCidr(s) !== undefined,
    'an IPv4/IPv6 address or CIDR, e.g. 10.0.0.0/8 or 2001:db8::/32',
  );

/** One escalation step: after `failures` wrong codes, lock for `minutes` (0 = until an admin unlocks). */
const lockStep = z.object({
  /** [1...1000] wrong second-factor codes counted since the last good login or unlock. */
  failures: z.number().int().min(1).max(1000),
  /** [0...10080] min; 0 locks until an admin unlocks (`mfabox user unlock`). */
  minutes: z.number().int().min(0).max(10080),
});

export const lockoutSchema = z
  .object({
    /** Lock users after wrong codes (true, default). */
    enabled: z.boolean().default(true),
    /** [1...1440] min, default 15: the first step counts only wrong codes this recent; later steps count all since the last good login. */
    windowMinutes: z.number().int().min(1).max(1440).default(15),
    /** Ascending by failures. Default 5 → 5 min, 10 → 30 min, 15 → until an admin unlocks. */
    steps: z
      .array(lockStep)
      .min(1)
      .max(10)
      .default([
        { failures: 5, minutes: 5 },
        { failures: 10, minutes: 30 },
        { failures: 15, minutes: 0 },
      ]),
    /** [0...720] h, default 24: the count is forgotten after this long without a wrong code (and no lock in force); 0 = never. */
    forgetAfterHours: z.number().int().min(0).max(720).default(24),
  })
  .superRefine((l, ctx) => {
    l.steps.forEach((s, i) => {
      const prev = l.steps[i - 1];
      if (prev && s.failures <= prev.failures)
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i, 'failures'],
          message: `must be more than the step before (${prev.failures})`,
        });
    });
  });

/** A sliding-window limit; `max` 0 turns it off. */
const windowLimit = (max: number, minutes: number) =>
  z
    .object({
      /** [0...100000] events per window; 0 = no limit. */
      max: z.number().int().min(0).max(100_000).default(max),
      /** [1...1440] min. */
      windowMinutes: z.number().int().min(1).max(1440).default(minutes),
    })
    .default({ max, windowMinutes: minutes });

export const limitsSchema = z.object({
  /** New SMS per end-user IP (Calling-Station-Id); default 20 per 15 min (an office behind one NAT shares it). */
  smsPerIp: windowLimit(20, 15),
  /**
   * [0...600] SMS per minute for the whole box; default unset = 60 % of the modems' summed
   * maxPerMinute (at least 1), well under what the SIMs may send. 0 = no cap.
   */
  smsPerMinute: z.number().int().min(0).max(600).optional(),
  /**
   * Wrong AD passwords per user before the box stops asking the directory; default 5 in 5 min.
   * Keeps a flood through the box from reaching AD's own lockout threshold.
   */
  badPassword: windowLimit(5, 5),
  /** [1...1440] min, default 15: how long the box refuses a user's logins after badPassword trips. */
  badPasswordCoolDownMinutes: z.number().int().min(1).max(1440).default(15),
});

export { METHODS, DEFAULT_CHAIN, type MethodName };

export const methodsSchema = z.object({
  /** Named chains for rules' `challenge`; "default" is used when no rule names one. Default token → sms → sms-secondary. */
  chains: z
    .record(
      z.string().regex(/^[a-z0-9-]{1,32}$/, 'a chain name: a-z, 0-9, -'),
      z.array(z.enum(METHODS)).min(1),
    )
    .default({ default: [...DEFAULT_CHAIN] }),
  /** The answer that asks for the next method of the chain (case-insensitive); default "sms2". */
  nextWord: z
    .string()
    .regex(/^[A-Za-z0-9]{2,16}$/, '2–16 letters or digits')
    .default('sms2'),
  /** [10...600] s, default 45: an SMS still unsent after this long counts as not delivered, and the next method is offered. */
  smsUnsentSeconds: z.number().int().min(10).max(600).default(45),
  /** Reply-Message for a token challenge. */
  tokenPrompt: z.string().min(1).max(200).default('Enter your token code'),
  /** Reply-Message for an override-code challenge. */
  overridePrompt: z.string().min(1).max(200).default('Enter your override code'),
  /**
   * Email passcodes through the site's SMTP relay. Off by default: a mailbox opened with the same
   * AD password is not a second factor. The address comes from the directory (directory.attributes.email).
   */
  email: z
    .object({
      enabled: z.boolean().default(false),
      /** SMTP relay host; STARTTLS is required (a relay that does not offer it is refused). */
      host: z.string().min(1).optional(),
      /** [1...65535], default 587 (submission, STARTTLS). */
      port: z.number().int().min(1).max(65535).default(587),
      /** The From address, e.g. mfabox@corp.example. */
      from: z.string().min(3).optional(),
      /** PEM CA bundle that signs the relay's certificate (pinned: only it is trusted). */
      caFile: z.string().min(1).optional(),
      /** SMTP AUTH user; absent = no AUTH (a relay that trusts the box's address). */
      user: z.string().min(1).optional(),
      /** SMTP AUTH password: a secret (write-only in the web API, never logged). */
      password: z.string().min(1).optional(),
      /** Subject line of the passcode email. The body is passcode.smsTemplate. */
      subject: z.string().min(1).max(200).default('Your sign-in passcode'),
    })
    .default({ enabled: false, port: 587, subject: 'Your sign-in passcode' }),
});

const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM, 00:00–23:59');

export const ruleConditionsSchema = z.strictObject({
  /** RADIUS client names (radius.clients[].name). */
  clients: z.array(z.string().min(1)).min(1).optional(),
  /** The user is in one of these groups (CN or DN; nested as the directory reports). */
  groups: z.array(z.string().min(1)).min(1).optional(),
  /** The user is in none of these groups. */
  notGroups: z.array(z.string().min(1)).min(1).optional(),
  /** The end-user IP (Calling-Station-Id) is in one of these CIDRs; IPv6 too. */
  networks: z.array(cidr).min(1).optional(),
  /** The end-user IP is in none of these CIDRs (an unknown IP is unknown, not "none"). */
  notNetworks: z.array(cidr).min(1).optional(),
  /** ISO 3166 alpha-2 codes; needs policy.geoipFile, else unknown. */
  countries: z
    .array(z.string().regex(/^[A-Z]{2}$/, 'ISO 3166 alpha-2, upper case'))
    .min(1)
    .optional(),
  notCountries: z
    .array(z.string().regex(/^[A-Z]{2}$/, 'ISO 3166 alpha-2, upper case'))
    .min(1)
    .optional(),
  /** Local days in policy.timeZone. */
  days: z.array(weekday).min(1).optional(),
  /** Local time window in policy.timeZone, from inclusive, to exclusive; from > to wraps midnight. */
  time: z.strictObject({ from: hhmm, to: hhmm }).optional(),
  /** [1...365] days: this user completed MFA from this IP within the last N days. */
  ipSeenWithinDays: z.number().int().min(1).max(365).optional(),
});

export const ruleSchema = z
  .strictObject({
    /** Shown in `policy explain` and in every login's audit record. */
    name: z.string().min(1).max(64),
    if: ruleConditionsSchema.default({}),
    /** reject | accept (password only) | {challenge: chain name}. */
    then: z.union([z.enum(['reject', 'accept']), z.strictObject({ challenge: z.string().min(1) })]),
    /** no-match (default) | match: how a condition that cannot be decided (no IP, no GeoIP database) counts. */
    onUnknown: z.enum(['no-match', 'match']).default('no-match'),
  })
  .refine((r) => !(r.then === 'accept' && r.onUnknown === 'match'), {
    message: 'an accept rule cannot match on unknown inputs: that would make missing data more trusted',
    path: ['onUnknown'],
  });

export const adaptiveSchema = z.object({
  /** Ordered; the first rule whose conditions all match decides. After them come exemptGroups, trustedNetworks, then the default chain. */
  rules: z.array(ruleSchema).default([]),
  /** IANA time zone for days/time conditions (DST-aware); default UTC. */
  timeZone: z
    .string()
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'an IANA time zone, e.g. Europe/Berlin')
    .default('UTC'),
  /** MaxMind GeoLite2/GeoIP2 Country or City .mmdb; without it country conditions are unknown. */
  geoipFile: z.string().min(1).optional(),
  /** [1...365] days of IP history kept per user, default 90. */
  ipHistoryDays: z.number().int().min(1).max(365).default(90),
});

export type LockoutConfig = z.infer<typeof lockoutSchema>;
export type LimitsConfig = z.infer<typeof limitsSchema>;
export type MethodsConfig = z.infer<typeof methodsSchema>;
export type RuleConfig = z.infer<typeof ruleSchema>;
export type RuleConditions = z.infer<typeof ruleConditionsSchema>;
export type AdaptiveConfig = z.infer<typeof adaptiveSchema>;
