/**
 * Step 2 (State): State + passcode → constant-time check → Accept | Challenge (tries left) |
 * Reject, under the challenge's lock.
 */
import { ErrorCode } from '../errors.ts';
import { maskNumber } from '../phone.ts';
import { MAX_STATE_BYTES, MIN_STATE_BYTES } from './challenges.ts';
import { CONDITION_REPLY, MESSAGES, reply, type AuthDecision } from './decision.ts';
import { acceptReply, decide, passcodeKey, type EngineContext } from './engine-context.ts';
import { normaliseLogin } from './login.ts';
import { verifyPasscode } from './passcode.ts';
import type { MethodName } from '../config/auth-schema.ts';
import { parseCallingStationId } from './calling-station.ts';
import { asksForNext } from './chain.ts';
import { maskEmail } from './email-sender.ts';
import type { ChallengeRecord } from './challenges.ts';
import { DEFAULT_GUARD_SETTINGS } from './guard.ts';
import { startMethod } from './method-step.ts';
import type { LoginSubject } from './engine-context.ts';
import type { AuthEngineConfig } from './engine-context.ts';
import type { AccessRequest, HandlerReply, NasClient } from './types.ts';

export async function passcodeStep(
  ctx: EngineContext,
  req: AccessRequest,
  client: NasClient,
  state: Buffer,
): Promise<HandlerReply> {
  const cfg = ctx.config();
  const login = normaliseLogin(req.userName);
  const base: Who = { step: 'passcode', client: client.name, user: login?.account ?? '' };
  if (req.callingStationId !== undefined) base.callingStationId = req.callingStationId;
  if (state.length < MIN_STATE_BYTES || state.length > MAX_STATE_BYTES) return unknown(ctx, base);
  const stateHex = state.toString('hex');
  // One lookup outside the lock (State → id, from memory when the challenge is cached), and the
  // record itself read once, inside it: two requests for one challenge see each other's writes.
  const id = await ctx.challenges.idForState(stateHex);
  if (id === undefined) return unknown(ctx, base);

  return ctx.locks.run(`c:${id}`, async (held) => {
    const r = await ctx.challenges.get(id);
    // A State that the record no longer lists (evicted past the cap) is as good as unknown.
    if (!r || !r.stateIds.includes(stateHex)) return unknown(ctx, base);
    const to = r.to !== '' ? maskNumber(r.to) : r.email !== undefined ? maskEmail(r.email) : undefined;
    const who: Who = { ...base, challengeId: r.id };
    if (to !== undefined) who.to = to;
    // A State is bound to the NAS client that received the challenge: replayed through another
    // client it is as good as unknown, and the code is not looked at (no guess tested, no try spent).
    if (r.nas !== client.name) {
      return decide(
        ctx,
        {
          ...who,
          outcome: 'reject',
          reason: 'state-wrong-nas',
          code: ErrorCode.AuthChallengeUnknown,
          detail: `challenge issued to ${r.nas}`,
        },
        reply('Access-Reject', MESSAGES.unknownState),
      );
    }
    // Another name with this State: refuse without looking at the code, so it neither tests
    // a guess nor burns the real user's tries (that would let anyone lock them out). It learns nothing
    // about the challenge's state either.
    if (!login || (login.account !== r.login && login.account !== r.user)) {
      return decide(
        ctx,
        { ...who, outcome: 'reject', reason: 'user-mismatch', code: ErrorCode.AuthUserMismatch },
        reply('Access-Reject', MESSAGES.denied),
      );
    }
    const cond = ctx.challenges.condition(r);
    if (cond !== 'live') {
      const [reason, text, code] = CONDITION_REPLY[cond];
      return decide(ctx, { ...who, outcome: 'reject', reason, code }, reply('Access-Reject', text));
    }
    // Read once: the Accept's reset below reuses this read.
    const { state: userLock, read: lockRead } = await ctx.guard.lockout.check(r.user);
    if (userLock.locked) {
      return decide(
        ctx,
        { ...who, outcome: 'reject', reason: 'account-locked', code: ErrorCode.AuthAccountLocked },
        reply('Access-Reject', MESSAGES.locked),
      );
    }
    const methods = cfg.methods ?? DEFAULT_GUARD_SETTINGS.methods;
    const method = r.method ?? 'sms';
    const moveOn = (note?: string): Promise<HandlerReply> =>
      startMethod(
        ctx,
        req,
        client,
        cfg,
        subjectOf(r),
        { chain: r.chain ?? [method], from: (r.step ?? 0) + 1, retire: r, held, ...(note ? { note } : {}) },
        who,
      );
    if (asksForNext(req.password, methods.nextWord)) return moveOn();

    // The SMS or email passcode is checked here, synchronously: the common answer costs no await.
    const checked = passcodeMatches(r, method, req.password, cfg)
      ? { ok: true as const, method }
      : await checkOtherAnswers(ctx, r, method, req.password);
    if (checked.ok) {
      // Used is on disk before the Accept leaves: a replay after a crash still fails. Where the
      // user came from goes in the same batch, so an Accept costs one LevelDB write.
      const seen = ctx.guard.ipHistory.recordOp(r.user, parseCallingStationId(r.callingStationId));
      await ctx.challenges.use(r, ctx.clock.now(), seen ? [seen] : []);
      await ctx.guard.lockout.success(r.user, lockRead);
      return decide(
        ctx,
        {
          ...who,
          outcome: 'accept',
          reason: 'passcode-ok',
          method: checked.method,
          ...(checked.detail ? { detail: checked.detail } : {}),
        },
        acceptReply(ctx, client, r.groups ?? [], cfg),
      );
    }
    // An SMS that failed for good or is still unsent: the user could not have the code, so the
    // answer is not counted and the login moves on to the next method.
    if (
      (method === 'sms' || method === 'sms-secondary') &&
      (await undelivered(ctx, r, methods.smsUnsentSeconds))
    )
      return moveOn(MESSAGES.smsNotDelivered);
    if (method === 'email' && emailUndelivered(ctx, r, methods.smsUnsentSeconds))
      return moveOn(MESSAGES.emailNotDelivered);

    const failed = await ctx.guard.lockout.failure(r.user);
    if (failed.lockedNow) {
      await ctx.challenges.save({ ...r, attempts: r.maxAttempts });
      return decide(
        ctx,
        {
          ...who,
          outcome: 'reject',
          reason: 'account-locked',
          code: ErrorCode.AuthAccountLocked,
          method,
          triesLeft: 0,
        },
        reply('Access-Reject', MESSAGES.locked),
      );
    }
    ctx.counters.wrongPasscodes++;
    const next = { ...r, attempts: r.attempts + 1 };
    await ctx.challenges.save(next);
    const left = next.maxAttempts - next.attempts;
    if (left <= 0) {
      return decide(
        ctx,
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
      ctx,
      { ...who, outcome: 'challenge', reason: 'passcode-wrong', triesLeft: left },
      reply('Access-Challenge', MESSAGES.wrongCode(left), state),
    );
  });
}

/** Who a decision is about: the request's part, then the challenge's once it is read. */
type Who = Omit<AuthDecision, 'at' | 'outcome' | 'reason'>;

function unknown(ctx: EngineContext, base: Who): HandlerReply {
  return decide(
    ctx,
    { ...base, outcome: 'reject', reason: 'state-unknown', code: ErrorCode.AuthChallengeUnknown },
    reply('Access-Reject', MESSAGES.unknownState),
  );
}

function subjectOf(r: ChallengeRecord): LoginSubject {
  return {
    userKey: r.user,
    login: r.login,
    username: r.user,
    groups: r.groups ?? [],
    numbers: r.numbers ?? { primary: r.to },
    ...(r.email === undefined ? {} : { email: r.email }),
    clientIp: parseCallingStationId(r.callingStationId),
  };
}

/** The answer is the passcode of a challenge that has one (SMS, email), in constant time. */
function passcodeMatches(
  r: ChallengeRecord,
  method: MethodName,
  answer: string,
  cfg: AuthEngineConfig,
): boolean {
  return (
    method !== 'token' &&
    method !== 'override' &&
    verifyPasscode(answer, { hash: r.passcodeHash, salt: r.salt }, passcodeKey(cfg))
  );
}

/**
 * When it is not the challenge's passcode: the answer against a token challenge's token, then
 * against the user's override codes (accepted at any challenge). Each check is constant-time in
 * the code.
 */
async function checkOtherAnswers(
  ctx: EngineContext,
  r: ChallengeRecord,
  method: MethodName,
  answer: string,
): Promise<{ ok: true; method: string; detail?: string } | { ok: false }> {
  if (method === 'token') {
    const t = await ctx.guard.tokens.verify(r.user, answer);
    if (t.ok) return { ok: true, method: 'token', detail: `token ${t.tokenId}` };
  }
  const o = await ctx.guard.overrides.use(r.user, answer);
  if (o)
    return {
      ok: true,
      method: 'override',
      detail: `override code ${o.id} issued by ${o.issuedBy}, ${o.usesLeft} uses left`,
    };
  return { ok: false };
}

/** The challenge's SMS failed for good, expired unsent, or is still unsent after `unsentSeconds`. */
async function undelivered(ctx: EngineContext, r: ChallengeRecord, unsentSeconds: number): Promise<boolean> {
  const status = await ctx.outbox.status(r.id);
  if (status === 'failed' || status === 'expired') return true;
  const stale = ctx.clock.now() - r.createdAt >= unsentSeconds * 1000;
  return stale && (status === 'queued' || status === 'submitting');
}

/** The challenge's email failed, or is still unsent after `unsentSeconds` (the relay hangs). */
function emailUndelivered(ctx: EngineContext, r: ChallengeRecord, unsentSeconds: number): boolean {
  const status = ctx.email?.status(r.id);
  if (status === 'failed') return true;
  return status === 'sending' && ctx.clock.now() - r.createdAt >= unsentSeconds * 1000;
}
