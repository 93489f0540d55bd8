/**
 * Step 2 (State): State + passcode → constant-time check → Accept | Challenge (tries left) |
 * Reject, under the challenge's lock.
 */
import { ErrorCode } from '../errors.ts';
import { maskNumber } from '../phone.ts';
import { MAX_STATE_BYTES, MIN_STATE_BYTES } from './challenges.ts';
import { CONDITION_REPLY, MESSAGES, reply } from './decision.ts';
import { acceptReply, decide, passcodeKey, type EngineContext } from './engine-context.ts';
import { normaliseLogin } from './login.ts';
import { verifyPasscode } from './passcode.ts';
import type { AccessRequest, HandlerReply, NasClient } from './types.ts';

export async function passcodeStep(
  ctx: EngineContext,
  req: AccessRequest,
  client: NasClient,
  state: Buffer,
): Promise<HandlerReply> {
  const cfg = ctx.config();
  const login = normaliseLogin(req.userName);
  const base = {
    step: 'passcode' as const,
    client: client.name,
    user: login?.account ?? '',
    ...(req.callingStationId === undefined ? {} : { callingStationId: req.callingStationId }),
  };
  const unknown = (): HandlerReply =>
    decide(
      ctx,
      { ...base, outcome: 'reject', reason: 'state-unknown', code: ErrorCode.AuthChallengeUnknown },
      reply('Access-Reject', MESSAGES.unknownState),
    );
  if (state.length < MIN_STATE_BYTES || state.length > MAX_STATE_BYTES) return unknown();
  const stateHex = state.toString('hex');
  // One lookup outside the lock (State → id, from memory when the challenge is cached), and the
  // record itself read once, inside it: two requests for one challenge see each other's writes.
  const id = await ctx.challenges.idForState(stateHex);
  if (id === undefined) return unknown();

  return ctx.locks.run(`c:${id}`, async () => {
    const r = await ctx.challenges.get(id);
    // A State that the record no longer lists (evicted past the cap) is as good as unknown.
    if (!r || !r.stateIds.includes(stateHex)) return unknown();
    const who = { ...base, challengeId: r.id, to: maskNumber(r.to) };
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
    if (verifyPasscode(req.password, { hash: r.passcodeHash, salt: r.salt }, passcodeKey(cfg))) {
      // Used is on disk before the Accept leaves: a replay after a crash still fails.
      await ctx.challenges.save({ ...r, used: true, usedAt: ctx.clock.now() });
      return decide(
        ctx,
        { ...who, outcome: 'accept', reason: 'passcode-ok' },
        acceptReply(ctx, client, r.groups ?? [], cfg),
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
