/**
 * Starts the second factor of a login: the first method of its chain that can be delivered now
 * (auth/chain.ts), from step 1, or from the next position when step 2 moves on (the user's
 * "sms2", an SMS that failed or is still unsent). An SMS method goes through the challenge step
 * (reuse, limits, the outbox); an email method through the email step; a token or override-code
 * method is a challenge record with nothing to send.
 */
import type { MethodName } from '../config/auth-schema.ts';
import { DEFAULT_CHAIN } from '../config/defaults.ts';
import { ErrorCode } from '../errors.ts';
import { maskNumber } from '../phone.ts';
import { plan, type MethodFacts, type Skipped } from './chain.ts';
import { challengeReply, newChallengeRecord, storeChallenge } from './challenge-record.ts';
import { challengeStep } from './challenge-step.ts';
import { emailStep } from './email-step.ts';
import type { ChallengeRecord } from './challenges.ts';
import { MESSAGES, reply, type AuthDecision } from './decision.ts';
import {
  acceptReply,
  decide,
  type AuthEngineConfig,
  type EngineContext,
  type LoginSubject,
} from './engine-context.ts';
import { DEFAULT_GUARD_SETTINGS } from './guard.ts';
import type { HeldLocks } from '../queue.ts';
import type { AccessRequest, HandlerReply, NasClient } from './types.ts';

/** Who the second factor is for, as known after step 1 (step 2 has it from the challenge record). */
export interface ChainPosition {
  chain: readonly MethodName[];
  from: number;
  /** Said before the new prompt, e.g. "The SMS could not be delivered." */
  note?: string;
  /** The challenge this one replaces (step 2 moving on). */
  retire?: ChallengeRecord;
  /** The locks the caller holds (step 2 holds `c:<retire.id>`), so nested steps do not wait on them. */
  held?: HeldLocks;
}

/** Queue wait plus this must fit in the passcode's life (as in the challenge step). */
const TYPING_MARGIN_MS = 30_000;

export function chainOf(cfg: AuthEngineConfig, name: string): readonly MethodName[] {
  const chains = (cfg.methods ?? DEFAULT_GUARD_SETTINGS.methods).chains;
  return chains[name] ?? chains.default ?? DEFAULT_CHAIN;
}

const skippedText = (s: readonly Skipped[]): string => s.map((x) => `${x.method}: ${x.why}`).join('; ');

export async function startMethod(
  ctx: EngineContext,
  req: AccessRequest,
  client: NasClient,
  cfg: AuthEngineConfig,
  subject: LoginSubject,
  pos: ChainPosition,
  who: Omit<AuthDecision, 'at' | 'outcome' | 'reason'>,
): Promise<HandlerReply> {
  const methods = cfg.methods ?? DEFAULT_GUARD_SETTINGS.methods;
  const ttlMs = cfg.passcode.ttlSeconds * 1000;
  const facts: MethodFacts = {
    hasToken: pos.chain.includes('token') && (await ctx.guard.tokens.has(subject.userKey)),
    primary: subject.numbers.primary,
    secondary: subject.numbers.secondary,
    hasOverride:
      pos.chain.includes('override') && (await ctx.guard.overrides.list(subject.userKey)).length > 0,
    smsReady: ctx.outbox.ready() && ctx.outbox.expectedWaitMs() < ttlMs - TYPING_MARGIN_MS,
    emailReady:
      pos.chain.includes('email') &&
      methods.email.enabled &&
      subject.email !== undefined &&
      ctx.email?.ready() === true,
  };
  const planned = plan(pos.chain, pos.from, facts);
  const why = (extra: string): string =>
    [who.detail, extra, planned.skipped.length > 0 ? `skipped ${skippedText(planned.skipped)}` : '']
      .filter((x) => x !== undefined && x !== '')
      .join(' | ');

  if (!planned.ok) {
    const noNumber = facts.primary === undefined && facts.secondary === undefined && !facts.hasToken;
    const smsDown = !facts.smsReady && (facts.primary !== undefined || facts.secondary !== undefined);
    // As before chains: an admin may let users without any number in on the password alone.
    if (noNumber && pos.from === 0 && !cfg.policy.rejectWithoutNumber)
      return decide(
        ctx,
        {
          ...who,
          outcome: 'accept',
          reason: 'policy-accept',
          rule: 'mobile-number',
          detail: why('no usable number: password only'),
        },
        acceptReply(ctx, client, subject.groups, cfg),
      );
    const [reason, text, code] = smsDown
      ? (['sms-unavailable', MESSAGES.smsUnavailable, ErrorCode.AuthSmsUnavailable] as const)
      : noNumber
        ? (['no-mobile-number', MESSAGES.noNumber, ErrorCode.AuthNoMobileNumber] as const)
        : (['no-second-factor', MESSAGES.noSecondFactor, ErrorCode.AuthNoSecondFactor] as const);
    return decide(
      ctx,
      { ...who, outcome: 'reject', reason, code, detail: why('') },
      reply('Access-Reject', text),
    );
  }

  const route = {
    method: planned.method,
    chain: [...pos.chain],
    step: planned.index,
    numbers: subject.numbers,
    ...(subject.email === undefined ? {} : { email: subject.email }),
    clientIp: subject.clientIp,
    ...(pos.note === undefined ? {} : { note: pos.note }),
    ...(pos.held === undefined ? {} : { held: pos.held }),
  };
  const whoNow = { ...who, method: planned.method, detail: why('') };
  if ((planned.method === 'sms' || planned.method === 'sms-secondary') && planned.to !== undefined)
    return challengeStep(
      ctx,
      req,
      client,
      cfg,
      subject.login,
      subject.userKey,
      subject,
      planned.to,
      whoNow,
      route,
    );

  if (planned.method === 'email' && subject.email !== undefined)
    return emailStep(
      ctx,
      req,
      client,
      cfg,
      { ...subject, email: subject.email },
      {
        chain: route.chain,
        step: planned.index,
        ...(pos.note === undefined ? {} : { note: pos.note }),
        ...(pos.retire === undefined ? {} : { retire: pos.retire }),
      },
      whoNow,
    );

  // token or override: a challenge with nothing to send.
  const state = ctx.random.bytes(16);
  const record = newChallengeRecord(ctx, cfg.passcode, subject, route, client, req, {
    stateHex: state.toString('hex'),
    to: '',
  });
  await storeChallenge(ctx, record, pos.retire);
  return challengeReply(ctx, whoNow, record, state, {
    prompt: planned.method === 'token' ? methods.tokenPrompt : methods.overridePrompt,
    note: pos.note,
    movedOn: pos.retire !== undefined,
  });
}

/** The masked number of an SMS challenge, for the audit; nothing for a token or override challenge. */
export function maskedTo(r: ChallengeRecord): string | undefined {
  return r.to === '' ? undefined : maskNumber(r.to);
}
