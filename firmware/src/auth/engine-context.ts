/**
 * What every engine step shares: the injected services, the live config, the stores, the locks,
 * the counters, and the two things every step ends with (a decision for the audit, an Accept
 * with the NAS's attributes).
 */
import type { Clock, Random } from '../clock.ts';
import type { GroupAttributeConfig, PasscodeConfig, PolicyConfig } from '../config/schema.ts';
import type { Directory } from '../directory/directory.ts';
import { USERS_TABLE, type UserRecord } from '../directory/users.ts';
import type { Outbox } from '../dispatch/types.ts';
import { ErrorCode, MfaError, describeError } from '../errors.ts';
import { logger } from '../log.ts';
import { KeyedSerialQueue } from '../queue.ts';
import type { Store, Table } from '../store/store.ts';
import { groupAttributes, type GroupAttributesResult } from './attributes.ts';
import { ChallengeStore } from './challenges.ts';
import { MESSAGES, reply, type AuthDecision, type AuthStats } from './decision.ts';
import { MIN_KEY_BYTES, derivePasscodeKey } from './passcode.ts';
import type { LimitsConfig, LockoutConfig, MethodsConfig } from '../config/auth-schema.ts';
import type { EmailChannel } from './email-channel.ts';
import type { CountryLookup } from './geoip.ts';
import { AuthGuard, DEFAULT_GUARD_SETTINGS, type SmsTake } from './guard.ts';
import type { AccessRequest, HandlerReply, NasClient } from './types.ts';
import type { ClientIp } from './calling-station.ts';

/** Who a login is for, as step 1 found them: what every method step needs. */
export interface LoginSubject {
  /** Lower-cased directory username: the key of every per-user table. */
  userKey: string;
  /** The account as normalised from step 1's User-Name. */
  login: string;
  username: string;
  groups: readonly string[];
  numbers: { primary?: string; secondary?: string };
  /** A usable email address (email-sender.ts usableEmail), for the email method. */
  email?: string;
  clientIp: ClientIp | undefined;
}

export const log = logger('auth');

export interface AuthEngineConfig {
  passcode: PasscodeConfig;
  policy: PolicyConfig;
  /** ISO 3166 alpha-2 for directory numbers without a + prefix. */
  defaultCountry: string;
  /** Accept numbers that are possible but not valid (directory.acceptPossibleNumbers); default true (as in the config). */
  acceptPossibleNumbers?: boolean;
  /** Keys the passcode HMAC; at least 16 bytes, never stored beside the challenges. */
  deviceSecret: Buffer;
  /** Lockout after wrong codes; default the schema's (5/15 min → 5 min, 10 → 30 min, 15 → admin). */
  lockout?: LockoutConfig;
  /** SMS per IP and per minute, the bad-password throttle; default the schema's. */
  limits?: LimitsConfig;
  /** Method chains, the next word, prompts; default the schema's. */
  methods?: MethodsConfig;
  /** Summed maxPerMinute of the modems, for the default global SMS cap; default 10 (one SIM). */
  modemsPerMinute?: number;
}

export interface AuthEngineDeps {
  directory: Directory;
  outbox: Outbox;
  store: Store;
  clock: Clock;
  random: Random;
  /** A getter is re-read on every request, so a config change applies without a restart. */
  config: AuthEngineConfig | (() => AuthEngineConfig);
  /**
   * Every decision, for the audit, with the request it answers. Holds no secrets (no password,
   * passcode, State or SMS text); `req` carries the password: read only its User-Name and source.
   */
  onDecision?: (d: AuthDecision, req: AccessRequest) => void;
  /** Country of an end-user IP (policy.geoipFile); default: none, so country conditions are unknown. */
  geoip?: CountryLookup;
  /** The email method's delivery (methods.email); default: none, so the method is skipped. */
  email?: EmailChannel;
}

export interface EngineContext {
  readonly directory: Directory;
  readonly outbox: Outbox;
  /** Undefined when the box has no email delivery: the email method is then skipped. */
  readonly email: EmailChannel | undefined;
  readonly clock: Clock;
  readonly random: Random;
  /** The config in force for this request: read once per step, never cached across requests. */
  config(): AuthEngineConfig;
  /** Bound to the request in hand: the engine gives each request its own context (engine.ts). */
  readonly onDecision: ((d: AuthDecision) => void) | undefined;
  readonly challenges: ChallengeStore;
  readonly users: Table<UserRecord>;
  /** Per-key serial queues: `c:<challenge id>` and `u:<user>` (two packets for one State, two logins of one user). */
  readonly locks: KeyedSerialQueue;
  /** Lockout, SMS limits, tokens, override codes, IP history, the adaptive policy. */
  readonly guard: AuthGuard;
  readonly counters: AuthStats;
}

export function createEngineContext(deps: AuthEngineDeps): EngineContext {
  const config = typeof deps.config === 'function' ? deps.config : () => deps.config as AuthEngineConfig;
  const guard = new AuthGuard(
    deps.store,
    deps.clock,
    deps.random,
    config().deviceSecret,
    () => {
      const c = config();
      return {
        lockout: c.lockout ?? DEFAULT_GUARD_SETTINGS.lockout,
        limits: c.limits ?? DEFAULT_GUARD_SETTINGS.limits,
        methods: c.methods ?? DEFAULT_GUARD_SETTINGS.methods,
        smsPerUser: { max: c.passcode.maxNewPerUser, windowMs: c.passcode.newPerUserWindowMinutes * 60_000 },
        modemsPerMinute: c.modemsPerMinute ?? 10,
      };
    },
    deps.geoip,
  );
  return {
    directory: deps.directory,
    outbox: deps.outbox,
    email: deps.email,
    clock: deps.clock,
    random: deps.random,
    config,
    onDecision: undefined,
    challenges: new ChallengeStore(deps.store, deps.clock),
    users: deps.store.table<UserRecord>(USERS_TABLE),
    locks: new KeyedSerialQueue(),
    guard,
    counters: {
      requests: 0,
      accepts: 0,
      rejects: 0,
      challenges: 0,
      smsQueued: 0,
      challengesReused: 0,
      wrongPasscodes: 0,
      errors: 0,
    },
  };
}

// Derived once per device secret (a config reload hands the same Buffer unless it changed).
const passcodeKeys = new WeakMap<Buffer, Buffer>();

/** The passcode HMAC key for this config; throws when the device secret is too short. */
export function passcodeKey(cfg: AuthEngineConfig): Buffer {
  let k = passcodeKeys.get(cfg.deviceSecret);
  if (!k) {
    if (cfg.deviceSecret.length < MIN_KEY_BYTES) {
      throw new MfaError(
        `the device secret must be at least ${MIN_KEY_BYTES} bytes`,
        ErrorCode.AuthDeviceSecretWeak,
        { field: 'deviceSecret' },
      );
    }
    k = derivePasscodeKey(cfg.deviceSecret);
    passcodeKeys.set(cfg.deviceSecret, k);
  }
  return k;
}

export function decide(ctx: EngineContext, d: Omit<AuthDecision, 'at'>, r: HandlerReply): HandlerReply {
  const decision: AuthDecision = { at: ctx.clock.now(), ...d };
  if (d.outcome === 'accept') ctx.counters.accepts++;
  else if (d.outcome === 'reject') ctx.counters.rejects++;
  else ctx.counters.challenges++;
  // Checked first: with the level above info, the fields object is not built on every request.
  if (log.isLevelEnabled('info'))
    log.info(
      {
        user: d.user,
        client: d.client,
        outcome: d.outcome,
        reason: d.reason,
        rule: d.rule,
        challengeId: d.challengeId,
      },
      'auth decision',
    );
  try {
    ctx.onDecision?.(decision);
  } catch (e) {
    // The audit must not turn a decided login into an error for the user.
    log.error({ err: describeError(e) }, 'onDecision hook failed');
  }
  return r;
}

/**
 * groupAttributes, remembered per group list for each groupAttribute config (a reload brings a
 * new object): most users share a handful of group lists, and packing them anew built a dozen
 * Buffers per Accept. The results are shared, so they are frozen; the encoder only reads them.
 */
const groupMemo = new WeakMap<GroupAttributeConfig, Map<string, GroupAttributesResult>>();
const GROUP_MEMO_ENTRIES = 256;

function groupAttributesFor(groups: readonly string[], cfg: GroupAttributeConfig): GroupAttributesResult {
  let memo = groupMemo.get(cfg);
  if (!memo) {
    memo = new Map();
    groupMemo.set(cfg, memo);
  }
  const key = JSON.stringify(groups);
  let g = memo.get(key);
  if (!g) {
    const fresh = groupAttributes(groups, cfg);
    g = {
      attributes: Object.freeze(
        fresh.attributes.map((a) => Object.freeze(a)),
      ) as GroupAttributesResult['attributes'],
      omitted: Object.freeze(fresh.omitted) as string[],
    };
    if (memo.size >= GROUP_MEMO_ENTRIES) memo.clear();
    memo.set(key, g);
  }
  return g;
}

export function acceptReply(
  ctx: EngineContext,
  client: NasClient,
  groups: readonly string[],
  cfg: AuthEngineConfig,
): HandlerReply {
  const attributes: HandlerReply['attributes'] = [...client.acceptAttributes];
  const g = groupAttributesFor(groups, cfg.policy.groupAttribute);
  if (g.omitted.length > 0)
    log.warn({ omitted: g.omitted.length }, 'some groups left out of the group attribute');
  attributes.push(...g.attributes);
  return { code: 'Access-Accept', attributes };
}

/** The reject for an SMS or email code that a durable limit refused, naming the limit and the wait. */
export function rateLimited(
  ctx: EngineContext,
  who: Omit<AuthDecision, 'at' | 'outcome' | 'reason'>,
  to: string,
  refused: Extract<SmsTake, { ok: false }>,
): HandlerReply {
  return decide(
    ctx,
    {
      ...who,
      outcome: 'reject',
      reason: 'sms-rate-limited',
      code: ErrorCode.AuthSmsRateLimited,
      to,
      detail: `${refused.limit} limit: ${refused.detail}; retry in ${Math.ceil(refused.retryInMs / 60_000)} min`,
    },
    reply('Access-Reject', MESSAGES.smsRateLimited),
  );
}
