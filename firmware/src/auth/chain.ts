/**
 * Method chains, pure: an ordered list of second-factor methods, and which one a login uses.
 * The engine asks for the first method it can deliver from a position; a method that cannot be
 * delivered (no token, no number, the modem pool down, a rate limit, email off) is skipped with
 * its reason, and the same question from the next position moves a login on after a permanent
 * SMS failure, an SMS still unsent after N s, or the user's "sms2".
 */
import type { MethodName } from '../config/auth-schema.ts';

export interface MethodFacts {
  hasToken: boolean;
  /** E.164 primary number, if usable. */
  primary: string | undefined;
  /** E.164 secondary number (directory attribute, or the box-side number), if usable. */
  secondary: string | undefined;
  /** The user has a live override code. */
  hasOverride: boolean;
  /** An SMS queued now would go out in time. */
  smsReady: boolean;
  /** Email is enabled and the user has an address. */
  emailReady: boolean;
}

export interface Skipped {
  method: MethodName;
  why: string;
}

export type Planned =
  | { ok: true; index: number; method: MethodName; to?: string; skipped: Skipped[] }
  | { ok: false; skipped: Skipped[] };

/** Why `method` cannot be used now, or undefined when it can. */
export function blocker(method: MethodName, f: MethodFacts): string | undefined {
  switch (method) {
    case 'token':
      return f.hasToken ? undefined : 'no token enrolled';
    case 'sms':
      if (f.primary === undefined) return 'no primary number';
      return f.smsReady ? undefined : 'SMS unavailable (modem pool down or queue too long)';
    case 'sms-secondary':
      if (f.secondary === undefined || f.secondary === f.primary) return 'no secondary number';
      return f.smsReady ? undefined : 'SMS unavailable (modem pool down or queue too long)';
    case 'override':
      return f.hasOverride ? undefined : 'no override code issued';
    case 'email':
      return f.emailReady ? undefined : 'email off or no address';
  }
}

/** The number an SMS method sends to. */
export function numberFor(method: MethodName, f: MethodFacts): string | undefined {
  return method === 'sms' ? f.primary : method === 'sms-secondary' ? f.secondary : undefined;
}

/**
 * The first usable method at or after `from`. `also` adds reasons found by the caller (an SMS
 * limit that refused a method already tried), keyed by index.
 */
export function plan(
  chain: readonly MethodName[],
  from: number,
  facts: MethodFacts,
  also: ReadonlyMap<number, string> = new Map(),
): Planned {
  const skipped: Skipped[] = [];
  for (let i = Math.max(0, from); i < chain.length; i++) {
    const method = chain[i];
    if (method === undefined) continue;
    const why = also.get(i) ?? blocker(method, facts);
    if (why !== undefined) {
      skipped.push({ method, why });
      continue;
    }
    const to = numberFor(method, facts);
    return { ok: true, index: i, method, ...(to === undefined ? {} : { to }), skipped };
  }
  return { ok: false, skipped };
}

/** Whether the user's answer asks for the next method ("sms2" by default; any case, spaces ignored). */
export function asksForNext(answer: string, nextWord: string): boolean {
  return answer.trim().toLowerCase() === nextWord.toLowerCase();
}
