/**
 * The auth policy's state, for the engine steps and the admin commands alike: lockout, the SMS
 * limits (per user, per end-user IP, for the whole box), the bad-password throttle, OATH tokens,
 * override codes, IP history, the GeoIP lookup, and the compiled adaptive policy. Everything is in
 * the store, so a restart changes nothing an attacker could use.
 */
import type { Clock, Random } from '../clock.ts';
import type { LimitsConfig, LockoutConfig, MethodsConfig } from '../config/auth-schema.ts';
import { AUTH_DEFAULTS } from '../config/defaults.ts';
import type { Config, PolicyConfig } from '../config/schema.ts';
import type { Store } from '../store/store.ts';
import type { ClientIp } from './calling-station.ts';
import type { CountryFact, IpHistoryFact, PolicyUser } from './conditions.ts';
import { noGeoip, type CountryLookup } from './geoip.ts';
import { IpHistory } from './ip-history.ts';
import { deriveAuthKeys } from './keys.ts';
import { Lockout } from './lockout.ts';
import { OverrideCodes } from './override-codes.ts';
import { compilePolicy, type AdaptivePolicy, type AdaptiveVerdict } from './policy.ts';
import { RateWindows, type WindowLimit } from './rate-windows.ts';
import { TokenStore } from './tokens.ts';

export interface GuardSettings {
  lockout: LockoutConfig;
  limits: LimitsConfig;
  methods: MethodsConfig;
  /** New SMS per user per window (passcode.maxNewPerUser / newPerUserWindowMinutes). */
  smsPerUser: WindowLimit;
  /** The summed maxPerMinute of the modems, for the default global cap. */
  modemsPerMinute: number;
}

export const DEFAULT_GUARD_SETTINGS = AUTH_DEFAULTS;

export type SmsLimit = 'user' | 'ip' | 'global';

export type SmsTake = { ok: true } | { ok: false; limit: SmsLimit; retryInMs: number; detail: string };

const MIN = 60_000;

/** The settings from a whole config (the admin commands; the engine builds its own from AuthEngineConfig). */
export function guardSettings(c: Config): GuardSettings {
  const modems = c.modems.reduce((n, m) => n + m.maxPerMinute, 0);
  return {
    lockout: c.lockout,
    limits: c.limits,
    methods: c.methods,
    smsPerUser: { max: c.passcode.maxNewPerUser, windowMs: c.passcode.newPerUserWindowMinutes * MIN },
    modemsPerMinute: modems > 0 ? modems : 10,
  };
}

/** The global cap in force: configured, or 60 % of what the modems may send (at least 1); 0 = none. */
export function globalSmsCap(s: GuardSettings): number {
  if (s.limits.smsPerMinute !== undefined) return s.limits.smsPerMinute;
  return Math.max(1, Math.floor(s.modemsPerMinute * 0.6));
}

export class AuthGuard {
  readonly lockout: Lockout;
  readonly tokens: TokenStore;
  readonly overrides: OverrideCodes;
  readonly ipHistory: IpHistory;
  private readonly smsUser: RateWindows;
  private readonly smsIp: RateWindows;
  private readonly smsGlobal: RateWindows;
  private readonly badPw: RateWindows;
  private readonly coolDown: RateWindows;
  private readonly policies = new WeakMap<PolicyConfig, AdaptivePolicy>();

  constructor(
    store: Store,
    private readonly clock: Clock,
    random: Random,
    deviceKey: Buffer,
    private readonly settings: () => GuardSettings,
    public geoip: CountryLookup = noGeoip,
  ) {
    const keys = deriveAuthKeys(deviceKey);
    this.lockout = new Lockout(store, clock, () => settings().lockout);
    this.tokens = new TokenStore(store, clock, random, keys.tokenSecrets);
    this.overrides = new OverrideCodes(store, clock, random, keys.overrideCodes);
    this.ipHistory = new IpHistory(store, clock);
    this.smsUser = new RateWindows(store, clock, 'sms-user');
    this.smsIp = new RateWindows(store, clock, 'sms-ip');
    this.smsGlobal = new RateWindows(store, clock, 'sms-global');
    this.badPw = new RateWindows(store, clock, 'bad-password');
    this.coolDown = new RateWindows(store, clock, 'bad-password-cool-down');
  }

  /** Called once when the global SMS cap starts refusing (again at most once a minute while it does). */
  onGlobalCap: ((e: { cap: number; retryInMs: number }) => void) | undefined;
  private capTrippedAt = -Infinity;

  /** True while the user is in the bad-password cool-down: the box does not ask the directory. */
  async passwordThrottled(user: string): Promise<boolean> {
    const l = this.settings().limits;
    if (l.badPassword.max === 0) return false;
    return (await this.coolDown.count(user, l.badPasswordCoolDownMinutes * MIN)) > 0;
  }

  /** Counts a wrong directory password; true when this one started the cool-down. */
  async badPassword(user: string): Promise<boolean> {
    const l = this.settings().limits;
    if (l.badPassword.max === 0) return false;
    const n = await this.badPw.add(user, l.badPassword.windowMinutes * MIN, l.badPassword.max);
    if (n < l.badPassword.max) return false;
    await this.badPw.clear(user);
    await this.coolDown.add(user, l.badPasswordCoolDownMinutes * MIN, 1);
    return true;
  }

  /**
   * One new SMS for `user` from `ip`, if every limit allows it. The global cap is taken last, so
   * a login refused by its own limits never uses a slot of everyone's budget; and a login refused
   * by a later limit gets its earlier slots back, so a busy minute box-wide does not also spend
   * each waiting user's own budget on SMS that were never sent. An email passcode counts against
   * the same per-user and per-IP budgets (new passcodes), but not the modems' global cap.
   */
  async takeSms(user: string, ip: ClientIp | undefined, channel: 'sms' | 'email' = 'sms'): Promise<SmsTake> {
    const s = this.settings();
    const perUser = await this.smsUser.take(user, s.smsPerUser);
    if (!perUser.ok)
      return {
        ok: false,
        limit: 'user',
        retryInMs: perUser.retryInMs,
        detail: `${s.smsPerUser.max} new SMS per ${s.smsPerUser.windowMs / MIN} min for this user`,
      };
    const ipLimit = { max: s.limits.smsPerIp.max, windowMs: s.limits.smsPerIp.windowMinutes * MIN };
    let ipAt: number | undefined;
    if (ip) {
      const perIp = await this.smsIp.take(ip.address, ipLimit);
      if (!perIp.ok) {
        await this.smsUser.giveBack(user, perUser.at, s.smsPerUser.windowMs);
        return {
          ok: false,
          limit: 'ip',
          retryInMs: perIp.retryInMs,
          detail: `${ipLimit.max} SMS per ${s.limits.smsPerIp.windowMinutes} min from ${ip.address}`,
        };
      }
      ipAt = perIp.at;
    }
    if (channel === 'email') return { ok: true };
    const cap = globalSmsCap(s);
    const all = await this.smsGlobal.take('box', { max: cap, windowMs: MIN });
    if (!all.ok) {
      await this.smsUser.giveBack(user, perUser.at, s.smsPerUser.windowMs);
      if (ip && ipAt !== undefined) await this.smsIp.giveBack(ip.address, ipAt, ipLimit.windowMs);
      // One event per trip, not one per refused login: the audit gets a record the admin can find.
      const now = this.clock.now();
      if (now - this.capTrippedAt >= MIN) {
        this.capTrippedAt = now;
        this.onGlobalCap?.({ cap, retryInMs: all.retryInMs });
      }
      return { ok: false, limit: 'global', retryInMs: all.retryInMs, detail: `global cap ${cap} SMS/min` };
    }
    return { ok: true };
  }

  /** The adaptive policy for this config object (compiled once per object). */
  policy(cfg: PolicyConfig): AdaptivePolicy {
    let p = this.policies.get(cfg);
    if (!p) {
      p = compilePolicy(cfg);
      this.policies.set(cfg, p);
    }
    return p;
  }

  /** Decides, looking up the country and the IP history only when a rule asks for them. */
  async decide(
    cfg: PolicyConfig,
    input: { user: PolicyUser; clientIp: ClientIp | undefined; client: string; now: number },
  ): Promise<AdaptiveVerdict> {
    const p = this.policy(cfg);
    const country: CountryFact = p.needs.country
      ? this.geoip.country(input.clientIp)
      : { known: false, why: 'not asked' };
    const ipHistory: IpHistoryFact = p.needs.ipHistory
      ? await this.ipHistory.fact(input.user.username.toLowerCase(), input.clientIp)
      : { known: false, why: 'not asked' };
    return p.decide({ ...input, country, ipHistory });
  }

  /** Drops idle counters, expired override codes and old IP history. */
  async sweep(ipHistoryDays: number): Promise<number> {
    const s = this.settings();
    const longest = Math.max(
      s.smsPerUser.windowMs,
      s.limits.smsPerIp.windowMinutes * MIN,
      s.limits.badPassword.windowMinutes * MIN,
      s.limits.badPasswordCoolDownMinutes * MIN,
      MIN,
    );
    let n = 0;
    for (const w of [this.smsUser, this.smsIp, this.smsGlobal, this.badPw, this.coolDown])
      n += await w.sweep(longest);
    n += await this.overrides.sweep();
    n += await this.ipHistory.sweep(ipHistoryDays);
    return n;
  }
}
