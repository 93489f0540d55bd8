import { lockoutSchema } from '../../../firmware/src/config/auth-schema.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createAuthEngine,
  MESSAGES,
  type AuthDecision,
  type AuthEngine,
  type AuthEngineConfig,
} from '../../../firmware/src/auth/engine.ts';
import { passcodeSchema, policySchema } from '../../../firmware/src/config/schema.ts';
import { DEMO_USERS, DemoDirectory, type DemoUser } from '../../../firmware/src/directory/demo.ts';
import { ErrorCode, MfaError } from '../../../firmware/src/errors.ts';
import type { NasClient } from '../../../firmware/src/auth/types.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import type { FakeClock, FakeOutbox, SeededRandom } from './doubles.ts';
import {
  accessRequest as req,
  messageOf as message,
  nasClient,
  openEngineRig,
  replyAttr as attr,
  stateOf,
  wrongCode as wrong,
  type EngineRig,
} from './engine-rig.ts';

const client = nasClient('netscaler', {
  acceptAttributes: [
    ['Class', 'mfabox'],
    ['Session-Timeout', 28800],
  ],
});

describe('auth engine', () => {
  let rig: EngineRig;
  let dir: string;
  let store: Store;
  let clock: FakeClock;
  let random: SeededRandom;
  let directory: DemoDirectory;
  let outbox: FakeOutbox;
  let decisions: AuthDecision[];
  let cfg: AuthEngineConfig;
  let engine: AuthEngine;

  /** A new engine over the test's current directory, outbox and store. */
  function build(): AuthEngine {
    return rig.build({ directory, outbox, store });
  }

  beforeEach(async () => {
    cfg = {
      passcode: passcodeSchema.parse({}),
      policy: policySchema.parse({}),
      defaultCountry: 'US',
      // The demo users' 555 numbers are fictional, as in `npm run demo`.
      acceptPossibleNumbers: true,
      deviceSecret: Buffer.alloc(32, 7),
    };
    rig = await openEngineRig({ config: () => cfg });
    ({ dir, store, clock, random, directory, outbox, decisions, engine } = rig);
  });
  afterEach(() => rig.close({ engine, store }));

  async function sentCode(index = -1): Promise<string> {
    const entries = await outbox.entries();
    const e = entries.at(index);
    const m = /passcode is (\d+)/.exec(e?.text ?? '');
    if (!m?.[1]) throw new Error('no passcode SMS');
    return m[1];
  }

  it('challenge → correct code → Accept with attributes; SMS queued once, durably with the challenge', async () => {
    const r1 = await engine.handle(req('alice', 'alice-pass', { callingStationId: '203.0.113.9' }), client);
    expect(r1.code).toBe('Access-Challenge');
    expect(message(r1)).toBe('Enter the PASSCODE sent to ******0001');
    const state = stateOf(r1);
    expect(state.length).toBeGreaterThanOrEqual(16);
    const entries = await outbox.entries();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ to: '+15550000001', username: 'alice' });
    expect(entries[0]?.text).toMatch(/^Your MFA Box passcode is \d{6}\. It expires in 5 min\.$/);
    expect(outbox.commits).toBe(1);
    expect(outbox.abandons).toBe(0);

    const code = await sentCode();
    const r2 = await engine.handle(req('alice', code, { state }), client);
    expect(r2.code).toBe('Access-Accept');
    expect(attr(r2, 'Class')).toBe('mfabox');
    expect(attr(r2, 'Session-Timeout')).toBe(28800);
    const vsa = attr(r2, '26:66:16') as Buffer;
    expect(vsa.toString()).toBe('CTXSUserGroups=MFA Users;VPN Users');
    expect(decisions.map((d) => [d.step, d.outcome, d.reason])).toEqual([
      ['password', 'challenge', 'challenge-sent'],
      ['passcode', 'accept', 'passcode-ok'],
    ]);
    expect(decisions[0]).toMatchObject({ user: 'alice', client: 'netscaler', clientIp: '203.0.113.9' });
    // No secret in the audit: neither the code, the password nor the State.
    const audit = JSON.stringify(decisions);
    expect(audit).not.toContain(code);
    expect(audit).not.toContain('alice-pass');
    expect(audit).not.toContain(state.toString('hex'));
  });

  it('wrong code: same State with tries left, then Reject after the last; the right code is then refused', async () => {
    const r1 = await engine.handle(req('alice', 'alice-pass'), client);
    const state = stateOf(r1);
    const code = await sentCode();
    const a = await engine.handle(req('alice', wrong(code), { state }), client);
    expect(a.code).toBe('Access-Challenge');
    expect(message(a)).toBe('Wrong code, 2 tries left');
    expect(stateOf(a).equals(state)).toBe(true);
    const b = await engine.handle(req('alice', 'not digits', { state }), client);
    expect(message(b)).toBe('Wrong code, 1 try left');
    const c = await engine.handle(req('alice', wrong(code), { state }), client);
    expect(c.code).toBe('Access-Reject');
    expect(message(c)).toBe(MESSAGES.exhausted);
    const d = await engine.handle(req('alice', code, { state }), client);
    expect(d.code).toBe('Access-Reject');
    expect(decisions.at(-1)?.code).toBe(ErrorCode.AuthPasscodeExhausted);
  });

  it('accepts the code typed with spaces', async () => {
    const state = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    const code = await sentCode();
    const spaced = ` ${code.slice(0, 3)} ${code.slice(3)} `;
    expect((await engine.handle(req('alice', spaced, { state }), client)).code).toBe('Access-Accept');
  });

  it('an expired passcode is rejected, even with the right code', async () => {
    const state = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    const code = await sentCode();
    clock.advance(300_000);
    const r = await engine.handle(req('alice', code, { state }), client);
    expect(r.code).toBe('Access-Reject');
    expect(message(r)).toBe(MESSAGES.expired);
    expect(decisions.at(-1)?.code).toBe(ErrorCode.AuthChallengeExpired);
  });

  it('in process, expiry follows the monotonic clock even if wall time steps back', async () => {
    const state = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    const code = await sentCode();
    clock.mono += 301_000;
    clock.wall -= 3_600_000;
    expect((await engine.handle(req('alice', code, { state }), client)).code).toBe('Access-Reject');
  });

  it('an unknown or malformed State is rejected', async () => {
    const a = await engine.handle(req('alice', '123456', { state: Buffer.alloc(16, 1) }), client);
    expect(a.code).toBe('Access-Reject');
    expect(message(a)).toBe(MESSAGES.unknownState);
    const b = await engine.handle(req('alice', '123456', { state: Buffer.alloc(3, 1) }), client);
    expect(b.code).toBe('Access-Reject');
    expect(decisions.map((d) => d.reason)).toEqual(['state-unknown', 'state-unknown']);
  });

  it('a used passcode cannot be replayed', async () => {
    const state = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    const code = await sentCode();
    expect((await engine.handle(req('alice', code, { state }), client)).code).toBe('Access-Accept');
    const again = await engine.handle(req('alice', code, { state }), client);
    expect(again.code).toBe('Access-Reject');
    expect(message(again)).toBe(MESSAGES.used);
  });

  it('a re-login while a code is pending gets a new State for the same code, with no second SMS', async () => {
    const s1 = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    const code = await sentCode();
    const w = await engine.handle(req('alice', wrong(code), { state: s1 }), client);
    expect(message(w)).toBe('Wrong code, 2 tries left');
    clock.advance(20_000);
    const r2 = await engine.handle(req('alice', 'alice-pass'), client);
    expect(r2.code).toBe('Access-Challenge');
    const s2 = stateOf(r2);
    expect(s2.equals(s1)).toBe(false);
    expect(await outbox.entries()).toHaveLength(1);
    expect(decisions.at(-1)?.reason).toBe('challenge-reused');
    // The tries are shared: a re-login does not reset the limit.
    const w2 = await engine.handle(req('alice', wrong(code), { state: s2 }), client);
    expect(message(w2)).toBe('Wrong code, 1 try left');
    expect((await engine.handle(req('alice', code, { state: s2 }), client)).code).toBe('Access-Accept');
    // Single use across all its States.
    expect((await engine.handle(req('alice', code, { state: s1 }), client)).code).toBe('Access-Reject');
  });

  it('a re-login after the code was used, or died, sends a new SMS', async () => {
    const s1 = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    await engine.handle(req('alice', await sentCode(), { state: s1 }), client);
    await engine.handle(req('alice', 'alice-pass'), client);
    expect(await outbox.entries()).toHaveLength(2);
    const c2 = await sentCode(1);
    const s2 = decisions.at(-1)?.challengeId;
    expect(s2).toBeDefined();
    // Exhaust the second one, then log in again: a third SMS.
    const st = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    for (let i = 0; i < 3; i++) await engine.handle(req('alice', wrong(c2), { state: st }), client);
    await engine.handle(req('alice', 'alice-pass'), client);
    expect(await outbox.entries()).toHaveLength(3);
  });

  it('limits NEW passcodes per user per window (a phished password cannot flood the phone or drain the SIM)', async () => {
    cfg = {
      ...cfg,
      passcode: passcodeSchema.parse({ maxNewPerUser: 2, newPerUserWindowMinutes: 15 }),
      // The wrong tries below would lock alice first (lockout has its own tests).
      lockout: lockoutSchema.parse({ enabled: false }),
    };
    // Each round burns the pending code with wrong tries, so the next login needs a new SMS.
    const burn = async (): Promise<void> => {
      const st = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
      const code = await sentCode();
      for (let i = 0; i < 3; i++) await engine.handle(req('alice', wrong(code), { state: st }), client);
    };
    await burn();
    await burn();
    expect(await outbox.entries()).toHaveLength(2);
    const limited = await engine.handle(req('alice', 'alice-pass'), client);
    expect(limited.code).toBe('Access-Reject');
    expect(message(limited)).toBe(MESSAGES.smsRateLimited);
    expect(decisions.at(-1)).toMatchObject({
      reason: 'sms-rate-limited',
      code: ErrorCode.AuthSmsRateLimited,
    });
    expect(await outbox.entries()).toHaveLength(2);
    // Other users are not affected, and the window passes.
    expect((await engine.handle(req('bob', 'bob-pass'), client)).code).toBe('Access-Challenge');
    clock.advance(15 * 60_000 + 1);
    expect((await engine.handle(req('alice', 'alice-pass'), client)).code).toBe('Access-Challenge');
  });

  it('a re-login whose earlier SMS failed sends a new code and retires the old one', async () => {
    const s1 = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    const old = await sentCode();
    const first = decisions.at(-1)?.challengeId ?? '';
    outbox.statuses.set(first, 'failed');
    await engine.handle(req('alice', 'alice-pass'), client);
    expect(await outbox.entries()).toHaveLength(2);
    const r = await engine.handle(req('alice', old, { state: s1 }), client);
    expect(r.code).toBe('Access-Reject');
  });

  it('user without a number / outside the MFA group: Reject, no SMS', async () => {
    const c = await engine.handle(req('carol', 'carol-pass'), client);
    expect(c.code).toBe('Access-Reject');
    expect(message(c)).toBe(MESSAGES.noNumber);
    const e = await engine.handle(req('erin', 'erin-pass'), client);
    expect(e.code).toBe('Access-Reject');
    expect(message(e)).toBe(MESSAGES.notInGroup);
    expect(await outbox.entries()).toHaveLength(0);
    expect(decisions.map((d) => d.code)).toEqual([ErrorCode.AuthNoMobileNumber, ErrorCode.AuthNotInMfaGroup]);
  });

  it('configurable: without a number or outside the group, the password alone may do', async () => {
    cfg = { ...cfg, policy: { ...cfg.policy, rejectWithoutNumber: false, rejectOutsideGroup: false } };
    expect((await engine.handle(req('carol', 'carol-pass'), client)).code).toBe('Access-Accept');
    expect((await engine.handle(req('erin', 'erin-pass'), client)).code).toBe('Access-Accept');
    expect(await outbox.entries()).toHaveLength(0);
  });

  it('SMS service unavailable: modem not ready, or the queue slower than the passcode life', async () => {
    outbox.isReady = false;
    const a = await engine.handle(req('alice', 'alice-pass'), client);
    expect(a.code).toBe('Access-Reject');
    expect(message(a)).toBe('SMS service unavailable');
    outbox.isReady = true;
    outbox.waitMs = 300_000;
    expect(message(await engine.handle(req('alice', 'alice-pass'), client))).toBe('SMS service unavailable');
    outbox.waitMs = Infinity;
    expect(message(await engine.handle(req('alice', 'alice-pass'), client))).toBe('SMS service unavailable');
    expect(await outbox.entries()).toHaveLength(0);
    // The code must arrive with time left to type it (30 s).
    outbox.waitMs = 270_000;
    expect(message(await engine.handle(req('alice', 'alice-pass'), client))).toBe('SMS service unavailable');
    outbox.waitMs = 269_999;
    expect((await engine.handle(req('alice', 'alice-pass'), client)).code).toBe('Access-Challenge');
  });

  it('bad password and unknown user get the same reply; status words only after a right password', async () => {
    const bad = await engine.handle(req('alice', 'nope'), client);
    const unknown = await engine.handle(req('mallory', 'nope'), client);
    expect(bad.code).toBe('Access-Reject');
    expect(unknown).toEqual(bad);
    const dave = await engine.handle(req('dave', 'dave-pass'), client);
    expect(message(dave)).toBe(MESSAGES.disabled);
    const daveWrong = await engine.handle(req('dave', 'wrong'), client);
    expect(message(daveWrong)).toBe(MESSAGES.badCredentials);
    expect(decisions.map((d) => d.reason)).toEqual([
      'bad-password',
      'unknown-user',
      'disabled',
      'bad-password',
    ]);
  });

  it('passwordCheck none: findUser, no bind', async () => {
    const none: NasClient = { ...client, passwordCheck: 'none' };
    const r = await engine.handle(req('alice', ''), none);
    expect(r.code).toBe('Access-Challenge');
    expect(directory.binds).toBe(0);
    const unknown = await engine.handle(req('mallory', ''), none);
    expect(message(unknown)).toBe(MESSAGES.badCredentials);
    const disabled = await engine.handle(req('dave', ''), none);
    expect(disabled).toEqual(unknown);
    expect(directory.binds).toBe(0);
  });

  it('DOMAIN\\user and user@domain are the same user as user (and step 2 may use any form)', async () => {
    const s = stateOf(await engine.handle(req('DEMO\\Alice', 'alice-pass'), client));
    const r = await engine.handle(req('alice@demo.mfabox', 'alice-pass'), client);
    expect(decisions.at(-1)?.reason).toBe('challenge-reused');
    expect(decisions.map((d) => d.user)).toEqual(['alice', 'alice']);
    const code = await sentCode();
    expect((await engine.handle(req('ALICE', code, { state: stateOf(r) }), client)).code).toBe(
      'Access-Accept',
    );
    expect((await engine.handle(req('alice', code, { state: s }), client)).code).toBe('Access-Reject');
  });

  it('an empty or unreadable User-Name is rejected before any bind', async () => {
    for (const name of ['', '   ', 'DOMAIN\\', 'a\u0000b', 'x'.repeat(300)]) {
      expect((await engine.handle(req(name, 'pw'), client)).code).toBe('Access-Reject');
    }
    expect(directory.binds).toBe(0);
  });

  it("another user's State is refused without testing the code or burning the owner's tries", async () => {
    const state = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    const code = await sentCode();
    for (let i = 0; i < 5; i++) {
      const r = await engine.handle(req('bob', code, { state }), client);
      expect(r.code).toBe('Access-Reject');
      expect(message(r)).toBe(MESSAGES.denied);
    }
    expect(decisions.at(-1)?.reason).toBe('user-mismatch');
    const w = await engine.handle(req('alice', wrong(code), { state }), client);
    expect(message(w)).toBe('Wrong code, 2 tries left');
    expect((await engine.handle(req('alice', code, { state }), client)).code).toBe('Access-Accept');
  });

  it('the challenge is durable before the reply: close and reopen the store between steps', async () => {
    const state = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    const code = await sentCode();
    await store.close();
    store = await openStore(dir);
    outbox.store = store;
    engine = build();
    const w = await engine.handle(req('alice', wrong(code), { state }), client);
    expect(message(w)).toBe('Wrong code, 2 tries left');
    await store.close();
    store = await openStore(dir);
    outbox.store = store;
    engine = build();
    // The try count survived the restart too.
    const w2 = await engine.handle(req('alice', wrong(code), { state }), client);
    expect(message(w2)).toBe('Wrong code, 1 try left');
    expect((await engine.handle(req('alice', code, { state }), client)).code).toBe('Access-Accept');
  });

  it('two requests for one State at once: only one can succeed', async () => {
    const state = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    const code = await sentCode();
    const replies = await Promise.all(
      Array.from({ length: 5 }, () => engine.handle(req('alice', code, { state }), client)),
    );
    expect(replies.filter((r) => r.code === 'Access-Accept')).toHaveLength(1);
  });

  it('two logins of one user at once send one SMS', async () => {
    const replies = await Promise.all(
      Array.from({ length: 4 }, () => engine.handle(req('alice', 'alice-pass'), client)),
    );
    expect(replies.every((r) => r.code === 'Access-Challenge')).toBe(true);
    expect(await outbox.entries()).toHaveLength(1);
    expect(new Set(replies.map((r) => stateOf(r).toString('hex'))).size).toBe(4);
  });

  it('trusted networks and exempt groups accept without a passcode; a non-member is still rejected', async () => {
    cfg = { ...cfg, policy: { ...cfg.policy, trustedNetworks: ['10.0.0.0/8', '2001:db8::/32'] } };
    const inside = await engine.handle(req('alice', 'alice-pass', { callingStationId: '10.1.2.3' }), client);
    expect(inside.code).toBe('Access-Accept');
    expect(attr(inside, 'Class')).toBe('mfabox');
    const v6 = await engine.handle(req('bob', 'bob-pass', { callingStationId: '[2001:db8::7]:443' }), client);
    expect(v6.code).toBe('Access-Accept');
    const outside = await engine.handle(req('alice', 'alice-pass', { callingStationId: '11.1.2.3' }), client);
    expect(outside.code).toBe('Access-Challenge');
    const mac = await engine.handle(
      req('bob', 'bob-pass', { callingStationId: '00-11-22-33-44-55' }),
      client,
    );
    expect(mac.code).toBe('Access-Challenge');
    const erin = await engine.handle(req('erin', 'erin-pass', { callingStationId: '10.1.2.3' }), client);
    expect(erin.code).toBe('Access-Reject');
    cfg = { ...cfg, policy: { ...cfg.policy, exemptGroups: ['vpn users'] } };
    expect((await engine.handle(req('alice', 'alice-pass'), client)).code).toBe('Access-Accept');
    expect(decisions.filter((d) => d.outcome === 'accept').map((d) => d.rule)).toEqual([
      'trusted-network',
      'trusted-network',
      'exempt-group',
    ]);
  });

  it('uses the live directory number: a changed number gets a new SMS and the old code dies', async () => {
    const users = DEMO_USERS.map((u) => ({ ...u, mobiles: [...u.mobiles] }));
    directory = new DemoDirectory(users);
    engine = build();
    const s1 = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    const old = await sentCode();
    const alice = users.find((u) => u.username === 'alice');
    if (!alice) throw new Error('no alice');
    alice.mobiles = ['not a number', '(555) 000-0099'];
    const r = await engine.handle(req('alice', 'alice-pass'), client);
    expect(message(r)).toBe('Enter the PASSCODE sent to ******0099');
    const entries = await outbox.entries();
    expect(entries.map((e) => e.to).sort()).toEqual(['+15550000001', '+15550000099']);
    expect((await engine.handle(req('alice', old, { state: s1 }), client)).code).toBe('Access-Reject');
    const fresh = await sentCode(entries.findIndex((e) => e.to === '+15550000099'));
    expect((await engine.handle(req('alice', fresh, { state: stateOf(r) }), client)).code).toBe(
      'Access-Accept',
    );
  });

  it('sweeps expired challenges after the grace, and leaves live ones', async () => {
    const s1 = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    clock.advance(200_000);
    await engine.handle(req('bob', 'bob-pass'), client);
    clock.advance(120_000);
    expect(await engine.sweep(60_000)).toBe(0);
    clock.advance(60_000);
    expect(await engine.sweep(60_000)).toBe(1);
    const r = await engine.handle(req('alice', '123456', { state: s1 }), client);
    expect(decisions.at(-1)?.reason).toBe('state-unknown');
    expect(r.code).toBe('Access-Reject');
  });

  it('a failed durable write names StoreWriteFailed and sends nothing', async () => {
    store.atomic = () => Promise.reject(new MfaError('disk full', ErrorCode.StoreWriteFailed));
    const r = await engine.handle(req('alice', 'alice-pass'), client);
    expect(r.code).toBe('Access-Reject');
    expect(message(r)).toBe(MESSAGES.internal);
    expect(decisions.at(-1)).toMatchObject({ reason: 'internal-error', code: ErrorCode.StoreWriteFailed });
    expect(outbox.commits).toBe(0);
    expect(outbox.abandons).toBe(1);
  });

  it('a store failure is a Reject, never a throw', async () => {
    await store.close();
    const r = await engine.handle(req('alice', 'alice-pass'), client);
    expect(r.code).toBe('Access-Reject');
    expect(message(r)).toBe(MESSAGES.internal);
    expect(engine.stats().errors).toBe(1);
    store = await openStore(dir);
  });

  it('status words follow the directory reason; a locked account gets the generic reply', async () => {
    const base = DEMO_USERS[0]!;
    const mk = (username: string, failure: DemoUser['failure']): DemoUser => ({
      ...base,
      username,
      password: 'pw',
      ...(failure ? { failure } : {}),
    });
    directory = new DemoDirectory([
      mk('exp', 'password-expired'),
      mk('chg', 'must-change'),
      mk('lck', 'locked'),
      mk('acx', 'account-expired'),
      mk('now', 'not-permitted-now'),
      mk('wks', 'workstation'),
      mk('dwn', 'unavailable'),
    ]);
    engine = build();
    const got: Record<string, string | undefined> = {};
    for (const u of ['exp', 'chg', 'lck', 'acx', 'now', 'wks', 'dwn']) {
      got[u] = message(await engine.handle(req(u, 'pw'), client));
    }
    expect(got).toEqual({
      exp: MESSAGES.passwordExpired,
      chg: MESSAGES.passwordExpired,
      lck: MESSAGES.badCredentials,
      acx: MESSAGES.accountExpired,
      now: MESSAGES.notPermittedNow,
      wks: MESSAGES.workstation,
      dwn: MESSAGES.directoryUnavailable,
    });
    expect(decisions.find((d) => d.user === 'lck')?.reason).toBe('locked');
  });

  it('an empty password never reaches the directory', async () => {
    const r = await engine.handle(req('alice', ''), client);
    expect(r.code).toBe('Access-Reject');
    expect(message(r)).toBe(MESSAGES.badCredentials);
    expect(directory.binds).toBe(0);
  });

  it('a directory that throws is a Reject saying the directory is unavailable', async () => {
    directory.verifyPassword = () =>
      Promise.reject(new MfaError('all DCs down', ErrorCode.DirectoryUnavailable));
    const r = await engine.handle(req('alice', 'alice-pass'), client);
    expect(r.code).toBe('Access-Reject');
    expect(message(r)).toBe(MESSAGES.directoryUnavailable);
    expect(decisions.at(-1)).toMatchObject({ reason: 'unavailable', code: ErrorCode.DirectoryUnavailable });
  });

  it('a directory user marked disabled is refused even if the bind succeeded', async () => {
    directory.verifyPassword = () =>
      Promise.resolve({
        ok: true,
        user: {
          username: 'alice',
          dn: 'x',
          mobiles: ['+15550000001'],
          groups: ['MFA Users'],
          disabled: true,
        },
      });
    const r = await engine.handle(req('alice', 'alice-pass'), client);
    expect(message(r)).toBe(MESSAGES.disabled);
    expect(await outbox.entries()).toHaveLength(0);
  });

  it('a failing audit hook does not change the answer', async () => {
    engine = createAuthEngine({
      directory,
      outbox,
      store,
      clock,
      random,
      config: cfg,
      onDecision: () => {
        throw new Error('audit disk full');
      },
    });
    expect((await engine.handle(req('alice', 'alice-pass'), client)).code).toBe('Access-Challenge');
  });

  it('a pending code about to expire is not reused: a fresh one goes out', async () => {
    const s1 = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    const old = await sentCode();
    clock.advance(280_000);
    const r = await engine.handle(req('alice', 'alice-pass'), client);
    expect(decisions.at(-1)?.reason).toBe('challenge-sent');
    expect(await outbox.entries()).toHaveLength(2);
    expect((await engine.handle(req('alice', old, { state: s1 }), client)).code).toBe('Access-Reject');
    const first = decisions[0]?.challengeId;
    const fresh = (await outbox.entries()).find((e) => e.challengeId !== first);
    const code = /is (\d+)/.exec(fresh?.text ?? '')?.[1] ?? '';
    expect((await engine.handle(req('alice', code, { state: stateOf(r) }), client)).code).toBe(
      'Access-Accept',
    );
  });

  it('keeps at most 16 States per challenge; the oldest stops working', async () => {
    const states: Buffer[] = [];
    for (let i = 0; i < 17; i++)
      states.push(stateOf(await engine.handle(req('alice', 'alice-pass'), client)));
    expect(await outbox.entries()).toHaveLength(1);
    const code = await sentCode();
    expect(message(await engine.handle(req('alice', code, { state: states[0] }), client))).toBe(
      MESSAGES.unknownState,
    );
    expect((await engine.handle(req('alice', code, { state: states[16] }), client)).code).toBe(
      'Access-Accept',
    );
  });

  it('a mismatched user learns nothing, not even that the code expired', async () => {
    const state = stateOf(await engine.handle(req('alice', 'alice-pass'), client));
    clock.advance(400_000);
    expect(message(await engine.handle(req('bob', '000000', { state }), client))).toBe(MESSAGES.denied);
  });

  it('start() sweeps in the background until stop()', async () => {
    await engine.handle(req('alice', 'alice-pass'), client);
    const count = async (): Promise<number> => {
      let n = 0;
      for await (const _ of store.table('challenges').entries()) n++;
      return n;
    };
    expect(await count()).toBe(3);
    clock.advance(3_600_000);
    engine.start(5);
    engine.start(5);
    for (let i = 0; i < 200 && (await count()) > 0; i++) await new Promise((r) => setTimeout(r, 5));
    await engine.stop();
    await engine.stop();
    expect(await count()).toBe(0);
  });

  it('stop() resolves only after a sweep in progress is done, so the store can close after it', async () => {
    await engine.handle(req('alice', 'alice-pass'), client);
    let began!: () => void;
    const sweepBegan = new Promise<void>((r) => (began = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const atomic = store.atomic.bind(store);
    store.atomic = async (ops) => {
      if (ops.some((o) => o.sublevel === 'challenges' && o.type === 'del')) {
        began();
        await gate;
      }
      return atomic(ops);
    };
    clock.advance(3_600_000);
    engine.start(5);
    await sweepBegan;
    let stopped = false;
    const stopping = engine.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(stopped).toBe(false);
    release();
    await stopping;
    let left = 0;
    for await (const _ of store.table('challenges').entries()) left++;
    expect(left).toBe(0);
  });

  it('refuses a device secret shorter than 16 bytes', () => {
    cfg = { ...cfg, deviceSecret: Buffer.alloc(8) };
    expect(() => build()).toThrow(expect.objectContaining({ code: ErrorCode.AuthDeviceSecretWeak }));
  });
});
