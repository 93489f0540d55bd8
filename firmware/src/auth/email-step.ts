/**
 * The email method's challenge: a passcode made, hashed and checked exactly like the SMS one (the
 * same length, expiry, tries and constant-time compare in passcode-step.ts), counted against the
 * user's and the IP's passcode budgets, and sent through the email channel in the background once
 * the challenge is on disk, so the Access-Challenge never waits on the relay.
 */
import { challengeReply, newChallengeRecord, storeChallenge } from './challenge-record.ts';
import type { ChallengeRecord } from './challenges.ts';
import { fill, type AuthDecision } from './decision.ts';
import { maskEmail } from './email-sender.ts';
import {
  passcodeKey,
  rateLimited,
  type AuthEngineConfig,
  type EngineContext,
  type LoginSubject,
} from './engine-context.ts';
import { DEFAULT_GUARD_SETTINGS } from './guard.ts';
import { generatePasscode, hashPasscode, newSalt } from './passcode.ts';
import type { AccessRequest, HandlerReply, NasClient } from './types.ts';

export interface EmailRoute {
  chain: ChallengeRecord['chain'] & {};
  step: number;
  /** Said before the prompt (the login moved on from another method). */
  note?: string;
  /** The challenge this one replaces (step 2 moving on). */
  retire?: ChallengeRecord;
}

export async function emailStep(
  ctx: EngineContext,
  req: AccessRequest,
  client: NasClient,
  cfg: AuthEngineConfig,
  subject: LoginSubject & { email: string },
  route: EmailRoute,
  who: Omit<AuthDecision, 'at' | 'outcome' | 'reason'>,
): Promise<HandlerReply> {
  const masked = maskEmail(subject.email);
  const allowed = await ctx.guard.takeSms(subject.userKey, subject.clientIp, 'email');
  if (!allowed.ok) {
    return rateLimited(ctx, who, masked, allowed);
  }

  const state = ctx.random.bytes(16);
  const code = generatePasscode(ctx.random, cfg.passcode.length);
  const salt = newSalt(ctx.random);
  const record = newChallengeRecord(
    ctx,
    cfg.passcode,
    subject,
    { method: 'email', chain: route.chain, step: route.step, numbers: subject.numbers, email: subject.email },
    client,
    req,
    {
      stateHex: state.toString('hex'),
      to: '',
      passcode: { hash: hashPasscode(code, salt, passcodeKey(cfg)), salt },
    },
  );
  await storeChallenge(ctx, record, route.retire);

  const methods = cfg.methods ?? DEFAULT_GUARD_SETTINGS.methods;
  // After the record is on disk, as the outbox does: a code is never sent for a challenge that
  // could not be stored.
  ctx.email?.send(record.id, {
    to: subject.email,
    subject: methods.email.subject,
    text: fill(cfg.passcode.smsTemplate, { code, minutes: String(Math.ceil(cfg.passcode.ttlSeconds / 60)) }),
  });
  return challengeReply(ctx, who, record, state, {
    prompt: fill(cfg.passcode.prompt, { masked }),
    note: route.note,
    movedOn: route.retire !== undefined,
    to: masked,
  });
}
