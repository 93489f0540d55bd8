/**
 * Simulated users behind the NAS: each logs in with radclient (the real NAS-side peer), reads its
 * passcode from the simulated handset's inbox, and answers the challenge. Every SMS any modem
 * delivered is kept per number, so scenarios can count duplicates and losses.
 */
import type { ModemSimulator, ReceivedSms } from '../../firmware/src/modem/simulator/index.ts';
import { q, radclient, type RadclientReply } from '../helpers/radclient.ts';
import { SECRET, bulkUser, sleep, type Box } from './harness.ts';

export class Handsets {
  /** Every SMS delivered, by recipient, in arrival order. */
  readonly byNumber = new Map<string, ReceivedSms[]>();
  private readonly waiters: (() => void)[] = [];

  constructor(sims: ModemSimulator[]) {
    for (const s of sims) {
      s.inbox.on('sms', (m) => {
        this.byNumber.set(m.to, [...(this.byNumber.get(m.to) ?? []), m]);
        for (const w of this.waiters.splice(0)) w();
      });
    }
  }

  count(): number {
    let n = 0;
    for (const l of this.byNumber.values()) n += l.length;
    return n;
  }

  /** The `nth` (1-based) SMS to `number`, waiting up to `timeoutMs`. */
  async nth(number: string, nth: number, timeoutMs: number): Promise<ReceivedSms | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.byNumber.get(number)?.[nth - 1];
      if (m) return m;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /**
   * SMS that went out more than once with the same passcode text to the same number. Distinct
   * texts to one number are separate logins, not duplicates.
   */
  duplicates(): { number: string; text: string; copies: number }[] {
    const out: { number: string; text: string; copies: number }[] = [];
    for (const [number, list] of this.byNumber) {
      const seen = new Map<string, number>();
      for (const m of list) seen.set(m.text, (seen.get(m.text) ?? 0) + 1);
      for (const [text, copies] of seen) if (copies > 1) out.push({ number, text, copies });
    }
    return out;
  }
}

export const passcodeIn = (text: string): string | undefined => /\b(\d{6,10})\b/.exec(text)?.[1];

export function step1(
  box: Box,
  user: string,
  password: string,
  extra: [string, string][] = [],
): Promise<RadclientReply> {
  return radclient(
    `127.0.0.1:${box.radiusPort}`,
    SECRET,
    [['User-Name', q(user)], ['User-Password', q(password)], ['Message-Authenticator', '0x00'], ...extra],
    { timeoutSeconds: 5, retries: 1 },
  );
}

export function step2(box: Box, user: string, code: string, state: string): Promise<RadclientReply> {
  return radclient(
    `127.0.0.1:${box.radiusPort}`,
    SECRET,
    [
      ['User-Name', q(user)],
      ['User-Password', q(code)],
      ['State', state],
      ['Message-Authenticator', '0x00'],
    ],
    { timeoutSeconds: 5, retries: 1 },
  );
}

export interface LoginResult {
  user: string;
  step1: string | undefined;
  /** Step 1's Reply-Message, which says why a reject was a reject. */
  reply?: string;
  state?: string;
  smsText?: string;
  step2?: string | undefined;
  ms: number;
}

/**
 * A whole login for bulk user `i`: password → challenge → read the SMS → passcode → accept.
 * This login's passcode is the first SMS to the user's number after those already there before
 * step 1: a caller's own count would go wrong as soon as an earlier login was refused at step 1
 * (by the box's SMS cap, say) and sent nothing. One login per user at a time.
 */
export async function login(
  box: Box,
  phones: Handsets,
  i: number,
  password: string,
  smsTimeoutMs = 20_000,
  onChallenge: () => void = () => undefined,
): Promise<LoginResult> {
  const t0 = performance.now();
  const u = bulkUser(i);
  const nth = (phones.byNumber.get(u.number)?.length ?? 0) + 1;
  const r1 = await step1(box, u.name, password);
  const res: LoginResult = { user: u.name, step1: r1.code, ms: 0 };
  const reply = r1.attributes.get('Reply-Message')?.[0];
  if (reply !== undefined) res.reply = reply;
  const state = r1.attributes.get('State')?.[0];
  if (r1.code !== 'Access-Challenge' || !state) {
    res.ms = performance.now() - t0;
    return res;
  }
  res.state = state;
  onChallenge();
  const sms = await phones.nth(u.number, nth, smsTimeoutMs);
  res.smsText = sms?.text;
  const code = sms ? passcodeIn(sms.text) : undefined;
  if (code) res.step2 = (await step2(box, u.name, code, state)).code;
  res.ms = performance.now() - t0;
  return res;
}

/** Runs `fn` over `items` with at most `width` in flight. */
export async function pool<T, R>(items: T[], width: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const k = next++;
      out[k] = await fn(items[k] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

export function p99(ms: number[]): number {
  if (ms.length === 0) return 0;
  const s = [...ms].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)] ?? 0);
}

/** Retries step 1 until the box has a ready modem (it refuses while the modem initialises). */
export async function waitReady(
  box: Box,
  phones: Handsets,
  i: number,
  password: string,
): Promise<LoginResult> {
  for (let k = 0; k < 80; k++) {
    const r = await login(box, phones, i, password);
    if (r.step1 === 'Access-Challenge') return r;
    await sleep(250);
  }
  throw new Error(`box never became ready:\n${box.out()}`);
}
