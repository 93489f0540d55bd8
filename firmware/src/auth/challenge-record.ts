/**
 * The one place a new challenge record is made. The SMS, email, token and override methods all
 * start a login's second factor with the same record (who, which NAS, expiry, tries, where in the
 * chain); only the passcode and the SMS number differ. Built here once so a field added for one
 * method (or a limit such as maxAttempts) cannot be forgotten in another. The methods with no SMS
 * (email, token, override) also store it and answer alike; the SMS step has its outbox batch and
 * its own locking (challenge-step.ts).
 */
import type { Clock, Random } from '../clock.ts';
import type { MethodName } from '../config/auth-schema.ts';
import type { PasscodeConfig } from '../config/schema.ts';
import type { ChallengeRecord } from './challenges.ts';
import { reply, type AuthDecision } from './decision.ts';
import { decide, type EngineContext } from './engine-context.ts';
import type { AccessRequest, HandlerReply, NasClient } from './types.ts';

/** 16 random bytes: a challenge id is a store key and the outbox key, never guessed from outside. */
const ID_BYTES = 16;

/** Who the challenge is for, as step 1 found them. */
export interface ChallengeSubject {
  userKey: string;
  login: string;
  groups: readonly string[];
}

/** The method and its place in the login's chain; absent only for records from before chains. */
export interface ChallengeRoute {
  method: MethodName;
  chain: readonly MethodName[];
  step: number;
  numbers: { primary?: string; secondary?: string };
  email?: string;
}

/** What differs between methods. */
export interface ChallengeExtra {
  /** Hex of the State handed to the NAS with this challenge. */
  stateHex: string;
  /** E.164 number of an SMS challenge; '' when nothing goes by SMS. */
  to: string;
  /** Hashed passcode (passcode.ts); absent for a token or override challenge, which then never verifies a passcode. */
  passcode?: { hash: string; salt: Buffer };
}

export function newChallengeRecord(
  ctx: { readonly random: Random; readonly clock: Clock },
  passcode: Pick<PasscodeConfig, 'ttlSeconds' | 'maxAttempts'>,
  subject: ChallengeSubject,
  route: ChallengeRoute | undefined,
  client: Pick<NasClient, 'name'>,
  req: Pick<AccessRequest, 'callingStationId'>,
  extra: ChallengeExtra,
): ChallengeRecord {
  const now = ctx.clock.now();
  return {
    id: ctx.random.bytes(ID_BYTES).toString('hex'),
    user: subject.userKey,
    login: subject.login,
    stateIds: [extra.stateHex],
    // An empty hash never verifies (wrong length fails closed in passcode.ts).
    passcodeHash: extra.passcode?.hash ?? '',
    salt: extra.passcode?.salt.toString('hex') ?? '',
    expiresAt: now + passcode.ttlSeconds * 1000,
    attempts: 0,
    maxAttempts: passcode.maxAttempts,
    nas: client.name,
    ...(req.callingStationId === undefined ? {} : { callingStationId: req.callingStationId }),
    createdAt: now,
    to: extra.to,
    groups: [...subject.groups],
    used: false,
    ...(route === undefined
      ? {}
      : { method: route.method, chain: [...route.chain], step: route.step, numbers: route.numbers }),
    ...(route?.email === undefined ? {} : { email: route.email }),
  };
}

/**
 * Stores a challenge with no outbox entry, retiring the one it replaces: `replaces` when step 2
 * moves on, else the user's latest while still live (its code must stop working).
 */
export async function storeChallenge(
  ctx: EngineContext,
  record: ChallengeRecord,
  replaces: ChallengeRecord | undefined,
): Promise<void> {
  const latest = replaces ?? (await ctx.challenges.latestForUser(record.user));
  const retire = latest && ctx.challenges.condition(latest) === 'live' ? latest : undefined;
  await ctx.challenges.create(record, [], retire);
}

/** The Access-Challenge for a new challenge, audited; `note` is said before the prompt. */
export function challengeReply(
  ctx: EngineContext,
  who: Omit<AuthDecision, 'at' | 'outcome' | 'reason'>,
  record: ChallengeRecord,
  state: Buffer,
  o: { prompt: string; note?: string | undefined; movedOn: boolean; to?: string },
): HandlerReply {
  return decide(
    ctx,
    {
      ...who,
      outcome: 'challenge',
      reason: o.movedOn ? 'method-changed' : 'challenge-sent',
      challengeId: record.id,
      ...(o.to === undefined ? {} : { to: o.to }),
      triesLeft: record.maxAttempts,
    },
    reply('Access-Challenge', o.note ? `${o.note} ${o.prompt}` : o.prompt, state),
  );
}
