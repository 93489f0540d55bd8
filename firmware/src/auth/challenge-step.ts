/**
 * The challenge: reuse a live passcode (new State, no SMS) or make a new one, queued in the same
 * durable batch as the challenge record and never awaited, so the Access-Challenge leaves as soon
 * as the record is on disk. Runs under the user's lock.
 */
import { ErrorCode } from '../errors.ts';
import { maskNumber } from '../phone.ts';
import type { MethodName } from '../config/auth-schema.ts';
import type { ClientIp } from './calling-station.ts';
import { newChallengeRecord } from './challenge-record.ts';
import type { ChallengeRecord } from './challenges.ts';
import { MESSAGES, fill, reply, type AuthDecision } from './decision.ts';
import {
  decide,
  passcodeKey,
  rateLimited,
  type AuthEngineConfig,
  type EngineContext,
} from './engine-context.ts';
import { generatePasscode, hashPasscode, newSalt } from './passcode.ts';
import type { HeldLocks } from '../queue.ts';
import type { AccessRequest, HandlerReply, NasClient } from './types.ts';

/** Passcode validity below which a pending code is not worth reusing: a new one goes out. */
const REUSE_MIN_REMAINING_MS = 30_000;
/** Queue wait plus this must fit in the passcode's life, or the login is refused up front. */
const TYPING_MARGIN_MS = 30_000;
const STATE_BYTES = 16;

/** Where an SMS challenge sits in its login's method chain (method-step.ts). */
export interface SmsRoute {
  method: MethodName;
  chain: MethodName[];
  step: number;
  numbers: { primary?: string; secondary?: string };
  /** For moving on to the email method from this SMS. */
  email?: string;
  clientIp: ClientIp | undefined;
  /** Said before the prompt (the login moved on from another method). */
  note?: string;
  /** The locks the caller holds (step 2 moving on holds its challenge's). */
  held?: HeldLocks;
}

export async function challengeStep(
  ctx: EngineContext,
  req: AccessRequest,
  client: NasClient,
  cfg: AuthEngineConfig,
  loginAccount: string,
  userKey: string,
  user: { username: string; groups: readonly string[] },
  to: string,
  who: Omit<AuthDecision, 'at' | 'outcome' | 'reason'>,
  route?: SmsRoute,
): Promise<HandlerReply> {
  const masked = maskNumber(to);
  const asked = fill(cfg.passcode.prompt, { masked });
  const prompt = route?.note ? `${route.note} ${asked}` : asked;
  const state = ctx.random.bytes(STATE_BYTES);
  const stateHex = state.toString('hex');

  const pending = await ctx.challenges.latestForUser(userKey);
  if (pending && (await reusable(ctx, pending, to, client))) {
    // Same passcode, new State, no SMS: the first code may just be slow to arrive.
    const r = await ctx.locks.run(
      `c:${pending.id}`,
      async () => {
        const fresh = await ctx.challenges.get(pending.id);
        if (!fresh || ctx.challenges.condition(fresh) !== 'live') return undefined;
        return ctx.challenges.addState(fresh, stateHex);
      },
      route?.held,
    );
    if (r) {
      ctx.counters.challengesReused++;
      return decide(
        ctx,
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
  if (!ctx.outbox.ready() || !(ctx.outbox.expectedWaitMs() < ttlMs - TYPING_MARGIN_MS)) {
    return decide(
      ctx,
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

  // Durable limits: per user, per end-user IP, and the box's global cap (auth/guard.ts).
  const allowed = await ctx.guard.takeSms(userKey, route?.clientIp);
  if (!allowed.ok) {
    return rateLimited(ctx, who, masked, allowed);
  }

  const key = passcodeKey(cfg);
  const code = generatePasscode(ctx.random, cfg.passcode.length);
  const salt = newSalt(ctx.random);
  const record = newChallengeRecord(
    ctx,
    cfg.passcode,
    { userKey, login: loginAccount, groups: user.groups },
    route,
    client,
    req,
    { stateHex, to, passcode: { hash: hashPasscode(code, salt, key), salt } },
  );
  const text = fill(cfg.passcode.smsTemplate, {
    code,
    minutes: String(Math.ceil(cfg.passcode.ttlSeconds / 60)),
  });
  const prepared = ctx.outbox.prepare({
    challengeId: record.id,
    to,
    text,
    expiresAt: record.expiresAt,
    flash: cfg.passcode.flash,
    username: user.username,
  });
  try {
    if (pending && ctx.challenges.condition(pending) === 'live') {
      // A pending code that is not being reused (number changed, SMS failed) must stop working.
      // Retired under the challenge's own lock, from a fresh read: a wrong-code save for it
      // (passcode-step, same lock) can then neither overwrite the retirement with a live copy
      // nor be overwritten by a stale one.
      await ctx.locks.run(
        `c:${pending.id}`,
        async () => {
          const fresh = await ctx.challenges.get(pending.id);
          const retire = fresh && ctx.challenges.condition(fresh) === 'live' ? fresh : undefined;
          await ctx.challenges.create(record, prepared.ops, retire);
        },
        route?.held,
      );
    } else {
      await ctx.challenges.create(record, prepared.ops);
    }
  } catch (e) {
    prepared.abandoned();
    throw e;
  }
  // The challenge and the outbox entry are durable together: the SMS may go.
  prepared.committed();
  ctx.counters.smsQueued++;
  return decide(
    ctx,
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

async function reusable(
  ctx: EngineContext,
  r: ChallengeRecord,
  to: string,
  client: NasClient,
): Promise<boolean> {
  // A State works only through the client that received it, so a login through another client
  // (the other Gateway of a pair) gets its own challenge, and the pending one is retired.
  if (ctx.challenges.condition(r) !== 'live' || r.to !== to || r.nas !== client.name) return false;
  if (ctx.challenges.remainingMs(r) < REUSE_MIN_REMAINING_MS) return false;
  // A code whose SMS failed or expired unsent never reaches the phone: send a new one.
  const status = await ctx.outbox.status(r.id);
  return status !== 'failed' && status !== 'expired';
}
