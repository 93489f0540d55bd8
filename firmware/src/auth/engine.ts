/**
 * The two-step login, behind the RadiusHandler seam.
 *
 *   step 1 (no State): User-Name + AD password → directory → policy → Reject | Accept | Challenge
 *   step 2 (State):    State + passcode → constant-time check → Accept | Challenge (tries left) | Reject
 *
 * The SMS is queued in the same durable batch as the challenge and never awaited, so the
 * Access-Challenge leaves as soon as the record is on disk.
 *
 * What a Reply-Message may say: a wrong password and an unknown user get the same words, so the
 * reply never tells whether a name exists. "Account disabled", "Password expired" and the like
 * are only said when the directory reports them, which AD does only after the password was
 * right. A locked account is the exception: AD reports the lockout whatever password was sent,
 * so saying so would confirm the name; it gets the generic reply, and the audit has the truth.
 */
import type { Clock, Random } from '../clock.ts';
import type { PasscodeConfig, PolicyConfig } from '../config/schema.ts';
import type { Directory, DirectoryUser, PasswordFailureReason } from '../directory/directory.ts';
import { sameDn } from '../directory/dn.ts';
import { USERS_TABLE, userKey as usersKey, type UserRecord } from '../directory/users.ts';
import type { Outbox } from '../dispatch/types.ts';
import { ErrorCode, MfaError, describeError } from '../errors.ts';
import { logger } from '../log.ts';
import { maskNumber, normaliseNumber } from '../phone.ts';
import { KeyedSerialQueue } from '../queue.ts';
import type { AccessRequest, HandlerReply, NasClient, RadiusHandler } from './types.ts';
import type { Store } from '../store/store.ts';
import { groupAttributes } from './attributes.ts';
import { parseCallingStationId } from './calling-station.ts';
import {
  ChallengeStore,
  MAX_STATE_BYTES,
  MIN_STATE_BYTES,
  type ChallengeCondition,
  type ChallengeRecord,
} from './challenges.ts';
import { normaliseLogin } from './login.ts';
import {
  MIN_KEY_BYTES,
  derivePasscodeKey,
  generatePasscode,
  hashPasscode,
  newSalt,
  verifyPasscode,
} from './passcode.ts';
import { SmsBudget } from './sms-budget.ts';
import { buildPolicy, type Policy, type PolicyRuleName } from './policy.ts';

const log = logger('auth');

export interface AuthEngineConfig {
  passcode: PasscodeConfig;
  policy: PolicyConfig;
  /** ISO 3166 alpha-2 for directory numbers without a + prefix. */
  defaultCountry: string;
  /** Accept numbers that are possible but not valid (directory.acceptPossibleNumbers); default true (as in the config). */
  acceptPossibleNumbers?: boolean;
  /** Keys the passcode HMAC; at least 16 bytes, never stored beside the challenges. */
  deviceSecret: Buffer;
}

export interface AuthEngineDeps {
  directory: Directory;
  outbox: Outbox;
  store: Store;
  clock: Clock;
  random: Random;
  /** A getter is re-read on every request, so a config change applies without a restart. */
  config: AuthEngineConfig | (() => AuthEngineConfig);
  /** Every decision, for the audit. Holds no secrets (no password, passcode, State or SMS text). */
  onDecision?: (d: AuthDecision) => void;
}

export type AuthOutcome = 'accept' | 'reject' | 'challenge';

export type AuthReason =
  | 'invalid-user-name'
  | PasswordFailureReason
  | 'not-in-mfa-group'
  | 'no-mobile-number'
  | 'sms-unavailable'
  | 'sms-rate-limited'
  | 'policy-accept'
  | 'challenge-sent'
  | 'challenge-reused'
  | 'passcode-ok'
  | 'passcode-wrong'
  | 'passcode-exhausted'
  | 'state-unknown'
  | 'state-expired'
  | 'state-used'
  | 'state-superseded'
  | 'user-mismatch'
  | 'internal-error';

export interface AuthDecision {
  /** Wall ms. */
  at: number;
  step: 'password' | 'passcode';
  /** Normalised account name ("" when the User-Name could not be read). */
  user: string;
  /** NAS client name. */
  client: string;
  outcome: AuthOutcome;
  reason: AuthReason;
  /** For rejects that an admin can act on: the README troubleshooting row. */
  code?: ErrorCode;
  /** The policy rule that accepted or rejected. */
  rule?: PolicyRuleName;
  /** The challenge's id (not its State, which is a bearer token): joins the outbox and audit. */
  challengeId?: string;
  callingStationId?: string;
  /** Parsed end-user IP, when Calling-Station-Id held one. */
  clientIp?: string;
  /** Masked number, e.g. ******0001. */
  to?: string;
  triesLeft?: number;
  detail?: string;
}

export interface AuthStats {
  requests: number;
  accepts: number;
  rejects: number;
  challenges: number;
  smsQueued: number;
  challengesReused: number;
  wrongPasscodes: number;
  errors: number;
}

export interface AuthEngine {
  /** The RadiusHandler the server calls. Never throws: an internal failure is a Reject. */
  handle: RadiusHandler;
  /** Deletes challenges expired longer than the grace; returns how many. */
  sweep(graceMs?: number): Promise<number>;
  /** Sweeps every `intervalMs` (default 60 s) until stop(). */
  start(intervalMs?: number): void;
  stop(): void;
  stats(): AuthStats;
}

/** Short texts: NetScaler shows the Reply-Message as the prompt or the failure line. */
export const MESSAGES = {
  badCredentials: 'Wrong user name or password',
  disabled: 'Account disabled',
  accountExpired: 'Account expired',
  passwordExpired: 'Password expired: change it, then log in again',
  notPermittedNow: 'Logon not permitted at this time',
  workstation: 'Logon not permitted from this device',
  directoryUnavailable: 'Directory unavailable, try again later',
  notInGroup: 'Not enrolled for MFA: contact the help desk',
  noNumber: 'No mobile number on file: contact the help desk',
  smsUnavailable: 'SMS service unavailable',
  smsRateLimited: 'Too many passcodes requested, try again later',
  wrongCode: (left: number) => `Wrong code, ${left} ${left === 1 ? 'try' : 'tries'} left`,
  exhausted: 'Too many wrong codes: log in again',
  expired: 'Passcode expired: log in again',
  unknownState: 'Login timed out: log in again',
  used: 'Passcode already used: log in again',
  denied: 'Access denied',
  internal: 'Service error, try again',
} as const;

/** Passcode validity below which a pending code is not worth reusing: a new one goes out. */
const REUSE_MIN_REMAINING_MS = 30_000;
/** Queue wait plus this must fit in the passcode's life, or the login is refused up front. */
const TYPING_MARGIN_MS = 30_000;
const STATE_BYTES = 16;
const ID_BYTES = 16;
const DEFAULT_SWEEP_GRACE_MS = 10 * 60_000;

const PASSWORD_REPLY: Record<PasswordFailureReason, { text: string; code?: ErrorCode }> = {
  'bad-password': { text: MESSAGES.badCredentials },
  'unknown-user': { text: MESSAGES.badCredentials },
  locked: { text: MESSAGES.badCredentials },
  disabled: { text: MESSAGES.disabled },
  'account-expired': { text: MESSAGES.accountExpired },
  'password-expired': { text: MESSAGES.passwordExpired },
  'must-change': { text: MESSAGES.passwordExpired },
  'not-permitted-now': { text: MESSAGES.notPermittedNow },
  workstation: { text: MESSAGES.workstation },
  unavailable: { text: MESSAGES.directoryUnavailable },
};

const CONDITION_REPLY: Record<Exclude<ChallengeCondition, 'live'>, [AuthReason, string, ErrorCode]> = {
  used: ['state-used', MESSAGES.used, ErrorCode.AuthChallengeUsed],
  exhausted: ['passcode-exhausted', MESSAGES.exhausted, ErrorCode.AuthPasscodeExhausted],
  expired: ['state-expired', MESSAGES.expired, ErrorCode.AuthChallengeExpired],
  superseded: ['state-superseded', MESSAGES.unknownState, ErrorCode.AuthChallengeUnknown],
};

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => values[k] ?? m);
}

function reply(code: HandlerReply['code'], message?: string, state?: Buffer): HandlerReply {
  const attributes: HandlerReply['attributes'] = [];
  if (state) attributes.push(['State', state]);
  if (message !== undefined) attributes.push(['Reply-Message', message]);
  return { code, attributes };
}

export function createAuthEngine(deps: AuthEngineDeps): AuthEngine {
  const { directory, outbox, store, clock, random } = deps;
  const config = typeof deps.config === 'function' ? deps.config : () => deps.config as AuthEngineConfig;
  const challenges = new ChallengeStore(store, clock);
  const users = store.table<UserRecord>(USERS_TABLE);
  // Serialises work per key in this process (two packets for one State, two logins of one user).
  const locks = new KeyedSerialQueue();
  const budget = new SmsBudget(clock, () => {
    const p = config().passcode;
    return { max: p.maxNewPerUser, windowMs: p.newPerUserWindowMinutes * 60_000 };
  });
  const policies = new WeakMap<PolicyConfig, Policy>();
  const counters: AuthStats = {
    requests: 0,
    accepts: 0,
    rejects: 0,
    challenges: 0,
    smsQueued: 0,
    challengesReused: 0,
    wrongPasscodes: 0,
    errors: 0,
  };
  let timer: NodeJS.Timeout | undefined;

  // Derived once per device secret (a config reload hands the same Buffer unless it changed).
  const keys = new WeakMap<Buffer, Buffer>();
  function secret(cfg: AuthEngineConfig): Buffer {
    let k = keys.get(cfg.deviceSecret);
    if (!k) {
      if (cfg.deviceSecret.length < MIN_KEY_BYTES) {
        throw new MfaError(
          `the device secret must be at least ${MIN_KEY_BYTES} bytes`,
          ErrorCode.AuthDeviceSecretWeak,
          { field: 'deviceSecret' },
        );
      }
      k = derivePasscodeKey(cfg.deviceSecret);
      keys.set(cfg.deviceSecret, k);
    }
    return k;
  }
  secret(config());

  function policyFor(cfg: PolicyConfig): Policy {
    let p = policies.get(cfg);
    if (!p) {
      p = buildPolicy(cfg);
      policies.set(cfg, p);
    }
    return p;
  }

  function decide(d: Omit<AuthDecision, 'at'>, r: HandlerReply): HandlerReply {
    const decision: AuthDecision = { at: clock.now(), ...d };
    if (d.outcome === 'accept') counters.accepts++;
    else if (d.outcome === 'reject') counters.rejects++;
    else counters.challenges++;
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
      deps.onDecision?.(decision);
    } catch (e) {
      // The audit must not turn a decided login into an error for the user.
      log.error({ err: describeError(e) }, 'onDecision hook failed');
    }
    return r;
  }

  function acceptReply(client: NasClient, groups: readonly string[], cfg: AuthEngineConfig): HandlerReply {
    const attributes: HandlerReply['attributes'] = [...client.acceptAttributes];
    const g = groupAttributes(groups, cfg.policy.groupAttribute);
    if (g.omitted.length > 0)
      log.warn({ omitted: g.omitted.length }, 'some groups left out of the group attribute');
    attributes.push(...g.attributes);
    return { code: 'Access-Accept', attributes };
  }

  /** A number in E.164 under the configured country and number check, or undefined. */
  function e164(raw: string, cfg: AuthEngineConfig): string | undefined {
    const n = normaliseNumber(raw, cfg.defaultCountry, {
      acceptPossible: cfg.acceptPossibleNumbers !== false,
    });
    return n.ok ? n.e164 : undefined;
  }

  function liveNumber(user: DirectoryUser, cfg: AuthEngineConfig): string | undefined {
    for (const raw of user.mobiles) {
      const n = e164(raw, cfg);
      if (n !== undefined) return n;
    }
    return undefined;
  }

  /**
   * The secondary number entered on the box, for a user whose live directory entry has no usable
   * one (read only then, so an ordinary login costs no store read).
   */
  async function boxNumber(user: DirectoryUser, cfg: AuthEngineConfig): Promise<string | undefined> {
    const rec = await users.get(usersKey(user.username));
    // A record synced for another entry (a login name reused after its owner left) holds the
    // old owner's phone: only the same directory entry may use it.
    if (rec?.source === 'directory' && !sameDn(rec.dn, user.dn)) return undefined;
    const raw = rec?.overrides?.secondaryMobile;
    return raw === undefined ? undefined : e164(raw, cfg);
  }

  async function passwordStep(req: AccessRequest, client: NasClient): Promise<HandlerReply> {
    const cfg = config();
    const base = {
      step: 'password' as const,
      client: client.name,
      ...(req.callingStationId === undefined ? {} : { callingStationId: req.callingStationId }),
    };
    const login = normaliseLogin(req.userName);
    if (!login) {
      return decide(
        { ...base, user: '', outcome: 'reject', reason: 'invalid-user-name' },
        reply('Access-Reject', MESSAGES.badCredentials),
      );
    }
    const who = { ...base, user: login.account };

    let user: DirectoryUser;
    if (client.passwordCheck === 'none') {
      // The NAS checked the password itself; the box is the second factor only. Nothing here
      // proves who is asking, so every "no" gets the generic words.
      const found = await directory.findUser(login.account);
      if (!found || found.disabled) {
        return decide(
          { ...who, outcome: 'reject', reason: found ? 'disabled' : 'unknown-user' },
          reply('Access-Reject', MESSAGES.badCredentials),
        );
      }
      user = found;
    } else {
      // An empty password is an LDAP "unauthenticated bind" that many servers answer with
      // success; never let one reach the directory, whatever it does about it.
      if (req.password.length === 0) {
        return decide(
          { ...who, outcome: 'reject', reason: 'bad-password', detail: 'empty password' },
          reply('Access-Reject', MESSAGES.badCredentials),
        );
      }
      const v = await directory.verifyPassword(login.account, req.password);
      if (!v.ok) {
        const r = PASSWORD_REPLY[v.reason];
        return decide(
          { ...who, outcome: 'reject', reason: v.reason, ...(v.detail ? { detail: v.detail } : {}) },
          reply('Access-Reject', r.text),
        );
      }
      if (v.user.disabled) {
        return decide(
          { ...who, outcome: 'reject', reason: 'disabled' },
          reply('Access-Reject', MESSAGES.disabled),
        );
      }
      user = v.user;
    }

    const mobile = liveNumber(user, cfg) ?? (await boxNumber(user, cfg));
    const clientIp = parseCallingStationId(req.callingStationId);
    const withIp = { ...who, ...(clientIp ? { clientIp: clientIp.address } : {}) };
    const verdict = policyFor(cfg.policy).decide({
      user: { username: user.username, groups: user.groups, groupDns: user.groupDns },
      clientIp,
      nas: client.name,
      mobile,
      now: clock.now(),
    });
    if (verdict.action === 'accept') {
      return decide(
        { ...withIp, outcome: 'accept', reason: 'policy-accept', rule: verdict.rule, detail: verdict.detail },
        acceptReply(client, user.groups, cfg),
      );
    }
    if (verdict.action === 'reject') {
      const [text, code] =
        verdict.reason === 'not-in-mfa-group'
          ? [MESSAGES.notInGroup, ErrorCode.AuthNotInMfaGroup]
          : [MESSAGES.noNumber, ErrorCode.AuthNoMobileNumber];
      return decide(
        {
          ...withIp,
          outcome: 'reject',
          reason: verdict.reason,
          code,
          rule: verdict.rule,
          detail: verdict.detail,
        },
        reply('Access-Reject', text),
      );
    }
    // The mobile-number rule runs last, so a challenge always has a number; say so if a future
    // rule ever breaks that, rather than texting `undefined`.
    if (mobile === undefined) throw new Error('policy chose a challenge for a user without a number');
    const to = mobile;
    const userKey = user.username.toLowerCase();
    return locks.run(`u:${userKey}`, () =>
      challengeStep(req, client, cfg, login.account, userKey, user, to, withIp),
    );
  }

  async function challengeStep(
    req: AccessRequest,
    client: NasClient,
    cfg: AuthEngineConfig,
    loginAccount: string,
    userKey: string,
    user: DirectoryUser,
    to: string,
    who: Omit<AuthDecision, 'at' | 'outcome' | 'reason'>,
  ): Promise<HandlerReply> {
    const masked = maskNumber(to);
    const prompt = fill(cfg.passcode.prompt, { masked });
    const state = random.bytes(STATE_BYTES);
    const stateHex = state.toString('hex');

    const pending = await challenges.latestForUser(userKey);
    if (pending && (await reusable(pending, to))) {
      // Same passcode, new State, no SMS: the first code may just be slow to arrive.
      const r = await locks.run(`c:${pending.id}`, async () => {
        const fresh = await challenges.get(pending.id);
        if (!fresh || challenges.condition(fresh) !== 'live') return undefined;
        return challenges.addState(fresh, stateHex);
      });
      if (r) {
        counters.challengesReused++;
        return decide(
          {
            ...who,
            outcome: 'challenge',
            reason: 'challenge-reused',
            challengeId: r.id,
            to: masked,
            triesLeft: r.maxAttempts - r.attempts,
          },
          reply('Access-Challenge', prompt, state),
        );
      }
    }

    const ttlMs = cfg.passcode.ttlSeconds * 1000;
    // The code must not only arrive before it expires, it must leave the user time to type it.
    if (!outbox.ready() || !(outbox.expectedWaitMs() < ttlMs - TYPING_MARGIN_MS)) {
      return decide(
        {
          ...who,
          outcome: 'reject',
          reason: 'sms-unavailable',
          code: ErrorCode.AuthSmsUnavailable,
          to: masked,
        },
        reply('Access-Reject', MESSAGES.smsUnavailable),
      );
    }

    const allowed = budget.take(userKey);
    if (!allowed.ok) {
      return decide(
        {
          ...who,
          outcome: 'reject',
          reason: 'sms-rate-limited',
          code: ErrorCode.AuthSmsRateLimited,
          to: masked,
          detail: `retry in ${Math.ceil(allowed.retryInMs / 60_000)} min`,
        },
        reply('Access-Reject', MESSAGES.smsRateLimited),
      );
    }

    const key = secret(cfg);
    const code = generatePasscode(random, cfg.passcode.length);
    const salt = newSalt(random);
    const now = clock.now();
    const record: ChallengeRecord = {
      id: random.bytes(ID_BYTES).toString('hex'),
      user: userKey,
      login: loginAccount,
      stateIds: [stateHex],
      passcodeHash: hashPasscode(code, salt, key),
      salt: salt.toString('hex'),
      expiresAt: now + ttlMs,
      attempts: 0,
      maxAttempts: cfg.passcode.maxAttempts,
      nas: client.name,
      ...(req.callingStationId === undefined ? {} : { callingStationId: req.callingStationId }),
      createdAt: now,
      to,
      groups: [...user.groups],
      used: false,
    };
    const text = fill(cfg.passcode.smsTemplate, {
      code,
      minutes: String(Math.ceil(cfg.passcode.ttlSeconds / 60)),
    });
    // A pending code that is not being reused (number changed, SMS failed) must stop working.
    const retire = pending && challenges.condition(pending) === 'live' ? pending : undefined;
    await challenges.create(
      record,
      outbox.prepare({
        challengeId: record.id,
        to,
        text,
        expiresAt: record.expiresAt,
        flash: cfg.passcode.flash,
        username: user.username,
      }),
      retire,
    );
    outbox.wake();
    counters.smsQueued++;
    return decide(
      {
        ...who,
        outcome: 'challenge',
        reason: 'challenge-sent',
        challengeId: record.id,
        to: masked,
        triesLeft: record.maxAttempts,
      },
      reply('Access-Challenge', prompt, state),
    );
  }

  async function reusable(r: ChallengeRecord, to: string): Promise<boolean> {
    if (challenges.condition(r) !== 'live' || r.to !== to) return false;
    if (challenges.remainingMs(r) < REUSE_MIN_REMAINING_MS) return false;
    // A code whose SMS failed or expired unsent never reaches the phone: send a new one.
    const status = await outbox.status(r.id);
    return status !== 'failed' && status !== 'expired';
  }

  async function passcodeStep(req: AccessRequest, client: NasClient, state: Buffer): Promise<HandlerReply> {
    const cfg = config();
    const login = normaliseLogin(req.userName);
    const base = {
      step: 'passcode' as const,
      client: client.name,
      user: login?.account ?? '',
      ...(req.callingStationId === undefined ? {} : { callingStationId: req.callingStationId }),
    };
    const unknown = (): HandlerReply =>
      decide(
        { ...base, outcome: 'reject', reason: 'state-unknown', code: ErrorCode.AuthChallengeUnknown },
        reply('Access-Reject', MESSAGES.unknownState),
      );
    if (state.length < MIN_STATE_BYTES || state.length > MAX_STATE_BYTES) return unknown();
    const stateHex = state.toString('hex');
    // One lookup outside the lock (State → id, from memory when the challenge is cached), and the
    // record itself read once, inside it: two requests for one challenge see each other's writes.
    const id = await challenges.idForState(stateHex);
    if (id === undefined) return unknown();

    return locks.run(`c:${id}`, async () => {
      const r = await challenges.get(id);
      // A State that the record no longer lists (evicted past the cap) is as good as unknown.
      if (!r || !r.stateIds.includes(stateHex)) return unknown();
      const who = { ...base, challengeId: r.id, to: maskNumber(r.to) };
      // Another name with this State: refuse without looking at the code, so it neither tests
      // a guess nor burns the real user's tries (that would let anyone lock them out). It learns nothing
      // about the challenge's state either.
      if (!login || (login.account !== r.login && login.account !== r.user)) {
        return decide(
          { ...who, outcome: 'reject', reason: 'user-mismatch', code: ErrorCode.AuthUserMismatch },
          reply('Access-Reject', MESSAGES.denied),
        );
      }
      const cond = challenges.condition(r);
      if (cond !== 'live') {
        const [reason, text, code] = CONDITION_REPLY[cond];
        return decide({ ...who, outcome: 'reject', reason, code }, reply('Access-Reject', text));
      }
      if (verifyPasscode(req.password, { hash: r.passcodeHash, salt: r.salt }, secret(cfg))) {
        // Used is on disk before the Accept leaves: a replay after a crash still fails.
        await challenges.save({ ...r, used: true, usedAt: clock.now() });
        return decide(
          { ...who, outcome: 'accept', reason: 'passcode-ok' },
          acceptReply(client, r.groups ?? [], cfg),
        );
      }
      counters.wrongPasscodes++;
      const next = { ...r, attempts: r.attempts + 1 };
      await challenges.save(next);
      const left = next.maxAttempts - next.attempts;
      if (left <= 0) {
        return decide(
          {
            ...who,
            outcome: 'reject',
            reason: 'passcode-exhausted',
            code: ErrorCode.AuthPasscodeExhausted,
            triesLeft: 0,
          },
          reply('Access-Reject', MESSAGES.exhausted),
        );
      }
      return decide(
        { ...who, outcome: 'challenge', reason: 'passcode-wrong', triesLeft: left },
        reply('Access-Challenge', MESSAGES.wrongCode(left), state),
      );
    });
  }

  const handle: RadiusHandler = async (req, client) => {
    counters.requests++;
    try {
      return req.state !== undefined && req.state.length > 0
        ? await passcodeStep(req, client, req.state)
        : await passwordStep(req, client);
    } catch (e) {
      counters.errors++;
      log.error({ err: describeError(e), client: client.name }, 'auth request failed');
      // Directory errors are the 600 block; a DC outage is worth saying, anything else is not.
      const thrown = e instanceof MfaError ? Number(e.code) : 0;
      const directoryDown = thrown >= 600 && thrown < 700;
      return decide(
        {
          step: req.state ? 'passcode' : 'password',
          user: normaliseLogin(req.userName)?.account ?? '',
          client: client.name,
          outcome: 'reject',
          reason: directoryDown ? 'unavailable' : 'internal-error',
          // A coded failure (StoreWriteFailed, a directory error) names its own troubleshooting row.
          code: thrown > 0 ? thrown : ErrorCode.AuthInternalError,
          detail: describeError(e),
        },
        reply('Access-Reject', directoryDown ? MESSAGES.directoryUnavailable : MESSAGES.internal),
      );
    }
  };

  return {
    handle,
    sweep: (graceMs = DEFAULT_SWEEP_GRACE_MS) => challenges.sweep(graceMs),
    start(intervalMs = 60_000) {
      if (timer) return;
      // Logins in flight across a restart then cost no disk read each.
      challenges.warm().catch((e: unknown) => {
        log.warn({ err: describeError(e) }, 'loading live challenges failed');
      });
      timer = setInterval(() => {
        challenges.sweep(DEFAULT_SWEEP_GRACE_MS).catch((e: unknown) => {
          log.warn({ err: describeError(e) }, 'challenge sweep failed');
        });
      }, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    stats: () => ({ ...counters }),
  };
}
