/**
 * Step 1 (no State): User-Name + AD password → directory → policy → Reject | Accept | on to the
 * challenge step, under the user's lock.
 */
import type { DirectoryUser } from '../directory/directory.ts';
import { sameDn } from '../directory/dn.ts';
import { userKey as usersKey } from '../directory/users.ts';
import { ErrorCode } from '../errors.ts';
import { normaliseNumber } from '../phone.ts';
import { parseCallingStationId } from './calling-station.ts';
import { usableEmail } from './email-sender.ts';
import { startMethod, chainOf } from './method-step.ts';
import { explainCompact } from './policy.ts';
import { MESSAGES, PASSWORD_REPLY, reply } from './decision.ts';
import { acceptReply, decide, type AuthEngineConfig, type EngineContext } from './engine-context.ts';
import { normaliseLogin } from './login.ts';
import type { AccessRequest, HandlerReply, NasClient } from './types.ts';

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
async function boxNumber(
  ctx: EngineContext,
  user: DirectoryUser,
  cfg: AuthEngineConfig,
): Promise<string | undefined> {
  const rec = await ctx.users.get(usersKey(user.username));
  // A record synced for another entry (a login name reused after its owner left) holds the
  // old owner's phone: only the same directory entry may use it.
  if (rec?.source === 'directory' && !sameDn(rec.dn, user.dn)) return undefined;
  const raw = rec?.overrides?.secondaryMobile;
  return raw === undefined ? undefined : e164(raw, cfg);
}

/**
 * The primary number: the first usable from the primary attribute, else (as before chains) the
 * first usable of any. The secondary: the number entered on the box, else the directory's
 * secondary attribute; read only when the chain can use it.
 */
async function numbersOf(
  ctx: EngineContext,
  user: DirectoryUser,
  cfg: AuthEngineConfig,
  wantSecondary: boolean,
): Promise<{ primary?: string; secondary?: string }> {
  // A directory that does not say which number came from which attribute lists the primary first.
  const secondaryRaw = new Set(user.secondaryMobiles ?? user.mobiles.slice(1));
  const firstOf = (raws: readonly string[]): string | undefined => {
    for (const raw of raws) {
      const n = e164(raw, cfg);
      if (n !== undefined) return n;
    }
    return undefined;
  };
  const primary = firstOf(user.mobiles.filter((m) => !secondaryRaw.has(m))) ?? liveNumber(user, cfg);
  const secondary =
    wantSecondary || primary === undefined
      ? ((await boxNumber(ctx, user, cfg)) ?? firstOf([...secondaryRaw]))
      : undefined;
  // With no usable primary, the secondary is the first SMS, as it always was.
  const first = primary ?? secondary;
  return {
    ...(first === undefined ? {} : { primary: first }),
    ...(secondary === undefined || secondary === first ? {} : { secondary }),
  };
}

export async function passwordStep(
  ctx: EngineContext,
  req: AccessRequest,
  client: NasClient,
): Promise<HandlerReply> {
  const cfg = ctx.config();
  const base = {
    step: 'password' as const,
    client: client.name,
    ...(req.callingStationId === undefined ? {} : { callingStationId: req.callingStationId }),
  };
  const login = normaliseLogin(req.userName);
  if (!login) {
    return decide(
      ctx,
      { ...base, user: '', outcome: 'reject', reason: 'invalid-user-name' },
      reply('Access-Reject', MESSAGES.badCredentials),
    );
  }
  const who = { ...base, user: login.account };

  let user: DirectoryUser;
  if (client.passwordCheck === 'none') {
    // The NAS checked the password itself; the box is the second factor only. Nothing here
    // proves who is asking, so every "no" gets the generic words.
    const found = await ctx.directory.findUser(login.account);
    if (!found || found.disabled) {
      return decide(
        ctx,
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
        ctx,
        { ...who, outcome: 'reject', reason: 'bad-password', detail: 'empty password' },
        reply('Access-Reject', MESSAGES.badCredentials),
      );
    }
    // A flood of guesses for one name stops here, before it reaches AD's own lockout.
    if (await ctx.guard.passwordThrottled(login.account)) {
      return decide(
        ctx,
        { ...who, outcome: 'reject', reason: 'password-throttled', code: ErrorCode.AuthPasswordThrottled },
        reply('Access-Reject', MESSAGES.throttled),
      );
    }
    const v = await ctx.directory.verifyPassword(login.account, req.password);
    if (!v.ok) {
      const r = PASSWORD_REPLY[v.reason];
      const started = v.reason === 'bad-password' && (await ctx.guard.badPassword(login.account));
      const detail = [v.detail, started ? 'bad-password cool-down started' : undefined]
        .filter(Boolean)
        .join('; ');
      return decide(
        ctx,
        { ...who, outcome: 'reject', reason: v.reason, ...(detail ? { detail } : {}) },
        reply('Access-Reject', r.text),
      );
    }
    if (v.user.disabled) {
      return decide(
        ctx,
        { ...who, outcome: 'reject', reason: 'disabled' },
        reply('Access-Reject', MESSAGES.disabled),
      );
    }
    user = v.user;
  }

  const userKey = user.username.toLowerCase();
  const clientIp = parseCallingStationId(req.callingStationId);
  const withIp = { ...who, dn: user.dn, ...(clientIp ? { clientIp: clientIp.address } : {}) };
  // Locked by wrong codes: the password was right, so saying so tells nothing new; no SMS.
  const lock = await ctx.guard.lockout.state(userKey);
  if (lock.locked) {
    return decide(
      ctx,
      {
        ...withIp,
        outcome: 'reject',
        reason: 'account-locked',
        code: ErrorCode.AuthAccountLocked,
        detail:
          lock.until === undefined ? 'until an admin unlocks' : `until ${new Date(lock.until).toISOString()}`,
      },
      reply('Access-Reject', MESSAGES.locked),
    );
  }
  const verdict = await ctx.guard.decide(cfg.policy, {
    user: { username: user.username, groups: user.groups, groupDns: user.groupDns },
    clientIp,
    client: client.name,
    now: ctx.clock.now(),
  });
  const explained = { ...withIp, rule: verdict.rule, detail: explainCompact(verdict) };
  if (verdict.action === 'accept') {
    return decide(
      ctx,
      { ...explained, outcome: 'accept', reason: 'policy-accept' },
      acceptReply(ctx, client, user.groups, cfg),
    );
  }
  if (verdict.action === 'reject') {
    const [text, code] =
      verdict.reason === 'not-in-mfa-group'
        ? [MESSAGES.notInGroup, ErrorCode.AuthNotInMfaGroup]
        : [MESSAGES.denied, ErrorCode.AuthPolicyReject];
    return decide(
      ctx,
      { ...explained, outcome: 'reject', reason: verdict.reason, code },
      reply('Access-Reject', text),
    );
  }
  const chain = chainOf(cfg, verdict.chain);
  const numbers = await numbersOf(ctx, user, cfg, chain.includes('sms-secondary'));
  const email = usableEmail(user.email);
  const subject = {
    userKey,
    login: login.account,
    username: user.username,
    groups: user.groups,
    numbers,
    ...(email === undefined ? {} : { email }),
    clientIp,
  };
  return ctx.locks.run(`u:${userKey}`, () =>
    startMethod(ctx, req, client, cfg, subject, { chain, from: 0 }, explained),
  );
}
