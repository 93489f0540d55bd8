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
import { challengeStep } from './challenge-step.ts';
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
    const v = await ctx.directory.verifyPassword(login.account, req.password);
    if (!v.ok) {
      const r = PASSWORD_REPLY[v.reason];
      return decide(
        ctx,
        { ...who, outcome: 'reject', reason: v.reason, ...(v.detail ? { detail: v.detail } : {}) },
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

  const mobile = liveNumber(user, cfg) ?? (await boxNumber(ctx, user, cfg));
  const clientIp = parseCallingStationId(req.callingStationId);
  const withIp = { ...who, dn: user.dn, ...(clientIp ? { clientIp: clientIp.address } : {}) };
  const verdict = ctx.policyFor(cfg.policy).decide({
    user: { username: user.username, groups: user.groups, groupDns: user.groupDns },
    clientIp,
    nas: client.name,
    mobile,
    now: ctx.clock.now(),
  });
  if (verdict.action === 'accept') {
    return decide(
      ctx,
      { ...withIp, outcome: 'accept', reason: 'policy-accept', rule: verdict.rule, detail: verdict.detail },
      acceptReply(ctx, client, user.groups, cfg),
    );
  }
  if (verdict.action === 'reject') {
    const [text, code] =
      verdict.reason === 'not-in-mfa-group'
        ? [MESSAGES.notInGroup, ErrorCode.AuthNotInMfaGroup]
        : [MESSAGES.noNumber, ErrorCode.AuthNoMobileNumber];
    return decide(
      ctx,
      {
        ...withIp,
        outcome: 'reject',
        reason: verdict.reason,
        code,
        rule: verdict.rule,
        detail: verdict.detail,
      },
      reply('Access-Reject', text),
    );
  }
  // The mobile-number rule runs last, so a challenge always has a number; say so if a future
  // rule ever breaks that, rather than texting `undefined`.
  if (mobile === undefined) throw new Error('policy chose a challenge for a user without a number');
  const to = mobile;
  const userKey = user.username.toLowerCase();
  return ctx.locks.run(`u:${userKey}`, () =>
    challengeStep(ctx, req, client, cfg, login.account, userKey, user, to, withIp),
  );
}
