/**
 * The engine with the auth policy: lockout, the bad-password throttle, SMS limits, tokens,
 * override codes, method chains and adaptive rules, on a real store with a fake clock.
 */
import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  MESSAGES,
  type AuthDecision,
  type AuthEngine,
  type AuthEngineConfig,
} from '../../../firmware/src/auth/engine.ts';
import { deriveAuthKeys } from '../../../firmware/src/auth/keys.ts';
import { Lockout } from '../../../firmware/src/auth/lockout.ts';
import { OverrideCodes } from '../../../firmware/src/auth/override-codes.ts';
import { TokenStore } from '../../../firmware/src/auth/tokens.ts';
import type { AccessRequest } from '../../../firmware/src/auth/types.ts';
import { limitsSchema, lockoutSchema, methodsSchema } from '../../../firmware/src/config/auth-schema.ts';
import { configSchema, passcodeSchema } from '../../../firmware/src/config/schema.ts';
import type { DemoDirectory } from '../../../firmware/src/directory/demo.ts';
import { ErrorCode } from '../../../firmware/src/errors.ts';
import type { Store } from '../../../firmware/src/store/store.ts';
import { FakeClock, type FakeOutbox, type SeededRandom } from './doubles.ts';
import {
  accessRequest as req,
  messageOf as message,
  nasClient,
  openEngineRig,
  stateOf,
  type EngineRig,
} from './engine-rig.ts';
import { base32Bytes } from '../../helpers/totp.ts';

const client = nasClient();
const SECRET = Buffer.alloc(32, 9);

function totp(seed: Buffer, t: number): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(t / 30_000)));
  const h = createHmac('sha1', seed).update(msg).digest();
  const off = h[h.length - 1]! & 0xf;
  return String((h.readUInt32BE(off) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

describe('auth engine with the policy', () => {
  let rig: EngineRig;
  let store: Store;
  let clock: FakeClock;
  let directory: DemoDirectory;
  let outbox: FakeOutbox;
  let decisions: AuthDecision[];
  let cfg: AuthEngineConfig;
  let engine: AuthEngine;
  let random: SeededRandom;

  beforeEach(async () => {
    const c = configSchema.parse({});
    cfg = {
      passcode: passcodeSchema.parse({}),
      policy: c.policy,
      lockout: c.lockout,
      limits: c.limits,
      methods: c.methods,
      defaultCountry: 'US',
      acceptPossibleNumbers: true,
      deviceSecret: SECRET,
    };
    rig = await openEngineRig({ config: () => cfg, clock: new FakeClock(Date.UTC(2026, 2, 4, 10, 0)) });
    ({ store, clock, random, directory, outbox, decisions, engine } = rig);
  });
  afterEach(() => rig.close({ engine, store }));

  const login = (user: string, extra: Partial<AccessRequest> = {}) =>
    engine.handle(req(user, `${user}-pass`, extra), client);
  const answer = (user: string, state: Buffer, text: string) =>
    engine.handle(req(user, text, { state }), client);
  async function lastCode(): Promise<string> {
    const e = (await outbox.entries()).sort((a, b) => a.expiresAt - b.expiresAt).at(-1);
    return /passcode is (\d+)/.exec(e?.text ?? '')?.[1] ?? '';
  }

  describe('lockout', () => {
    it('5 wrong codes lock the user: a right password then gets "account locked" and no SMS; waiting ends it', async () => {
      for (let round = 0; round < 2; round++) {
        const st = stateOf(await login('alice'));
        for (let i = 0; i < (round === 0 ? 3 : 2); i++) await answer('alice', st, '000000');
      }
      expect(decisions.at(-1)).toMatchObject({ reason: 'account-locked', code: ErrorCode.AuthAccountLocked });
      const sms = (await outbox.entries()).length;
      const r = await login('alice');
      expect(r.code).toBe('Access-Reject');
      expect(message(r)).toBe(MESSAGES.locked);
      expect(decisions.at(-1)).toMatchObject({ reason: 'account-locked' });
      expect((await outbox.entries()).length).toBe(sms);
      // A wrong password while locked says nothing about the lock.
      expect(message(await engine.handle(req('alice', 'nope'), client))).toBe(MESSAGES.badCredentials);
      clock.advance(5 * 60_000);
      expect((await login('alice')).code).toBe('Access-Challenge');
    });

    it('a live challenge stops working when the user gets locked meanwhile', async () => {
      const st = stateOf(await login('alice'));
      const code = await lastCode();
      // Wrong codes from elsewhere (other challenges, other methods) lock alice.
      const lockout = new Lockout(store, clock, () => cfg.lockout ?? lockoutSchema.parse({}));
      for (let i = 0; i < 5; i++) await lockout.failure('alice');
      const r = await answer('alice', st, code);
      expect(r.code).toBe('Access-Reject');
      expect(message(r)).toBe(MESSAGES.locked);
    });
  });

  it('the bad-password throttle stops asking the directory after 5 wrong passwords in 5 min', async () => {
    for (let i = 0; i < 5; i++) await engine.handle(req('bob', `guess${i}`), client);
    expect(decisions.at(-1)?.detail).toContain('cool-down started');
    const binds = directory.binds;
    const r = await login('bob');
    expect(r.code).toBe('Access-Reject');
    expect(message(r)).toBe(MESSAGES.throttled);
    expect(decisions.at(-1)).toMatchObject({
      reason: 'password-throttled',
      code: ErrorCode.AuthPasswordThrottled,
    });
    expect(directory.binds).toBe(binds);
    // Other users are not affected; the cool-down ends.
    expect((await login('alice')).code).toBe('Access-Challenge');
    clock.advance(15 * 60_000);
    expect((await login('bob')).code).toBe('Access-Challenge');
  });

  describe('SMS limits', () => {
    it('per end-user IP', async () => {
      cfg = { ...cfg, limits: limitsSchema.parse({ smsPerIp: { max: 1, windowMinutes: 15 } }) };
      expect((await login('alice', { callingStationId: '198.51.100.1' })).code).toBe('Access-Challenge');
      const r = await login('bob', { callingStationId: '198.51.100.1' });
      expect(message(r)).toBe(MESSAGES.smsRateLimited);
      expect(decisions.at(-1)?.detail).toMatch(/^ip limit: 1 SMS per 15 min from 198.51.100.1/);
      expect((await login('bob', { callingStationId: '198.51.100.2' })).code).toBe('Access-Challenge');
    });

    it('the global cap per minute (default: 60 % of the modems), with the trip in the decision', async () => {
      cfg = { ...cfg, modemsPerMinute: 2 };
      expect((await login('alice')).code).toBe('Access-Challenge');
      const r = await login('bob');
      expect(message(r)).toBe(MESSAGES.smsRateLimited);
      expect(decisions.at(-1)).toMatchObject({
        reason: 'sms-rate-limited',
        detail: expect.stringMatching(/^global limit: global cap 1 SMS\/min/),
      });
      clock.advance(60_000);
      expect((await login('bob')).code).toBe('Access-Challenge');
    });

    it('the per-user budget survives a restart', async () => {
      cfg = {
        ...cfg,
        passcode: passcodeSchema.parse({ maxNewPerUser: 1 }),
        lockout: lockoutSchema.parse({ enabled: false }),
      };
      const st = stateOf(await login('alice'));
      for (let i = 0; i < 3; i++) await answer('alice', st, '000000');
      await rig.restart();
      ({ store, outbox, engine } = rig);
      expect(message(await login('alice'))).toBe(MESSAGES.smsRateLimited);
    });
  });

  describe('tokens', () => {
    async function enrol(user: string): Promise<Buffer> {
      const tokens = new TokenStore(store, clock, random, deriveAuthKeys(SECRET).tokenSecrets);
      const { uri } = await tokens.enrol(
        user,
        { type: 'totp', digits: 6, algorithm: 'SHA1', period: 30 },
        'test',
      );
      return base32Bytes(new URL(uri).searchParams.get('secret') ?? '');
    }

    it('a token user gets "Enter your token code", no SMS, and is accepted once per code', async () => {
      const seed = await enrol('alice');
      const r = await login('alice');
      expect(r.code).toBe('Access-Challenge');
      expect(message(r)).toBe('Enter your token code');
      expect(decisions.at(-1)).toMatchObject({ method: 'token', reason: 'challenge-sent' });
      expect(await outbox.entries()).toHaveLength(0);
      const code = totp(seed, clock.now());
      const ok = await answer('alice', stateOf(r), code);
      expect(ok.code).toBe('Access-Accept');
      expect(decisions.at(-1)).toMatchObject({ reason: 'passcode-ok', method: 'token' });
      // The same code on a new login is a replay.
      const again = await answer('alice', stateOf(await login('alice')), code);
      expect(again.code).toBe('Access-Challenge');
      expect(message(again)).toMatch(/Wrong code/);
    });

    it('the modem pool down: a token user still gets in; without a token the login is refused', async () => {
      outbox.isReady = false;
      const seed = await enrol('alice');
      const r = await login('alice');
      expect(message(r)).toBe('Enter your token code');
      expect((await answer('alice', stateOf(r), totp(seed, clock.now()))).code).toBe('Access-Accept');
      const b = await login('bob');
      expect(message(b)).toBe(MESSAGES.smsUnavailable);
    });

    it('"sms2" moves a token user on to the SMS', async () => {
      await enrol('alice');
      const r = await login('alice');
      const next = await answer('alice', stateOf(r), 'SMS2');
      expect(next.code).toBe('Access-Challenge');
      expect(message(next)).toBe('Enter the PASSCODE sent to ******0001');
      expect(decisions.at(-1)).toMatchObject({ reason: 'challenge-sent', method: 'sms' });
      expect((await answer('alice', stateOf(next), await lastCode())).code).toBe('Access-Accept');
      // The token challenge it left is dead.
      expect((await answer('alice', stateOf(r), '123456')).code).toBe('Access-Reject');
    });
  });

  describe('moving on in the chain', () => {
    it('a primary SMS that failed for good moves on to the secondary number, without counting a wrong code', async () => {
      const r = await login('bob');
      const first = decisions.at(-1)?.challengeId ?? '';
      outbox.statuses.set(first, 'failed');
      const next = await answer('bob', stateOf(r), '');
      expect(next.code).toBe('Access-Challenge');
      expect(message(next)).toBe('The SMS could not be delivered. Enter the PASSCODE sent to ******0012');
      const entries = await outbox.entries();
      expect(entries.map((e) => e.to).sort()).toEqual(['+15550000002', '+15550000012']);
      const second = entries.find((e) => e.to === '+15550000012')?.text ?? '';
      expect((await answer('bob', stateOf(next), /(\d{6})/.exec(second)?.[1] ?? '')).code).toBe(
        'Access-Accept',
      );
    });

    it('an SMS still unsent after methods.smsUnsentSeconds moves on too', async () => {
      const r = await login('bob');
      clock.advance(10_000);
      expect(message(await answer('bob', stateOf(r), '000000'))).toMatch(/Wrong code/);
      clock.advance(40_000);
      const next = await answer('bob', stateOf(r), '000000');
      expect(message(next)).toMatch(/could not be delivered.*0012$/);
    });

    it('the end of the chain: no second factor left', async () => {
      const r = await login('alice');
      const next = await answer('alice', stateOf(r), 'sms2');
      expect(next.code).toBe('Access-Reject');
      expect(decisions.at(-1)).toMatchObject({
        reason: 'no-second-factor',
        code: ErrorCode.AuthNoSecondFactor,
      });
    });
  });

  describe('override codes', () => {
    it('accepted once at any challenge of that user, and not of another', async () => {
      const codes = new OverrideCodes(store, clock, random, deriveAuthKeys(SECRET).overrideCodes);
      const { code } = await codes.issue('alice', { ttlMs: 3_600_000, uses: 1, by: 'helpdesk' });
      expect((await answer('bob', stateOf(await login('bob')), code)).code).toBe('Access-Challenge');
      const ok = await answer('alice', stateOf(await login('alice')), code);
      expect(ok.code).toBe('Access-Accept');
      expect(decisions.at(-1)).toMatchObject({
        method: 'override',
        detail: expect.stringContaining('issued by helpdesk'),
      });
      expect((await answer('alice', stateOf(await login('alice')), code)).code).toBe('Access-Challenge');
    });

    it('an override step in a chain prompts for it when the user has one', async () => {
      cfg = { ...cfg, methods: methodsSchema.parse({ chains: { default: ['token', 'override', 'sms'] } }) };
      const codes = new OverrideCodes(store, clock, random, deriveAuthKeys(SECRET).overrideCodes);
      const { code } = await codes.issue('alice', { ttlMs: 3_600_000, uses: 1, by: 'helpdesk' });
      const r = await login('alice');
      expect(message(r)).toBe('Enter your override code');
      expect(await outbox.entries()).toHaveLength(0);
      expect((await answer('alice', stateOf(r), code)).code).toBe('Access-Accept');
      expect(message(await login('alice'))).toBe('Enter the PASSCODE sent to ******0001');
    });
  });

  describe('adaptive rules', () => {
    it('trusted network: accepted on the password, explained in the decision', async () => {
      cfg = { ...cfg, policy: configSchema.parse({ policy: { trustedNetworks: ['10.0.0.0/8'] } }).policy };
      const r = await login('alice', { callingStationId: '10.1.2.3' });
      expect(r.code).toBe('Access-Accept');
      expect(decisions.at(-1)).toMatchObject({
        reason: 'policy-accept',
        rule: 'trusted-network',
        detail: expect.stringContaining('trusted-network=MATCH(networks:y)'),
      });
      expect(await outbox.entries()).toHaveLength(0);
    });

    it('an Accept marks its challenge used and records where the user came from in one durable write', async () => {
      const r = await login('alice', { callingStationId: '203.0.113.5' });
      const code = await lastCode();
      const before = store.syncCount;
      const ownWrite = vi.spyOn(store.table('ip-history'), 'putFast');
      expect((await answer('alice', stateOf(r), code)).code).toBe('Access-Accept');
      expect(store.syncCount - before).toBe(1);
      expect(ownWrite).not.toHaveBeenCalled();
      expect((await engine.guard.ipHistory.recent('alice')).map((s) => s.ip)).toEqual(['203.0.113.5']);
      // Used, on disk: the replay is refused.
      expect((await answer('alice', stateOf(r), code)).code).toBe('Access-Reject');
    });

    it('a reject rule, and IP history after a completed MFA', async () => {
      cfg = {
        ...cfg,
        policy: configSchema.parse({
          policy: {
            rules: [
              { name: 'no-weekends', if: { days: ['sat', 'sun'] }, then: 'reject' },
              { name: 'known-ip', if: { ipSeenWithinDays: 7 }, then: 'accept' },
            ],
          },
        }).policy,
      };
      const r = await login('alice', { callingStationId: '203.0.113.5' });
      expect(decisions.at(-1)?.detail).toContain('known-ip(ipSeenWithinDays:n)');
      expect((await answer('alice', stateOf(r), await lastCode())).code).toBe('Access-Accept');
      expect((await login('alice', { callingStationId: '203.0.113.5' })).code).toBe('Access-Accept');
      expect(decisions.at(-1)).toMatchObject({ rule: 'known-ip' });
      expect((await login('alice', { callingStationId: '203.0.113.6' })).code).toBe('Access-Challenge');
      clock.advance(3 * 86_400_000); // Saturday
      const sat = await login('alice', { callingStationId: '203.0.113.5' });
      expect(sat.code).toBe('Access-Reject');
      expect(decisions.at(-1)).toMatchObject({
        reason: 'policy-reject',
        rule: 'no-weekends',
        code: ErrorCode.AuthPolicyReject,
      });
    });
  });
});
