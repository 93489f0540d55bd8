/**
 * OATH one-time codes (RFC 4226 HOTP, RFC 6238 TOTP), pure: the code arithmetic is otpauth's,
 * the window, resync and replay rules are ours.
 *
 *   TOTP: the expected step (now / period, plus the drift learned from this token) ±1. A code
 *         accepted at a neighbouring step moves the learned drift there (resync), so a hardware
 *         token whose clock wanders keeps working. A step at or before the last accepted one is
 *         a replay and is refused, even inside the window.
 *   HOTP: the next counter or the one after (±1 around the expected value: the one before is
 *         the last used, a replay). A code further ahead (up to 20 presses) is not accepted on
 *         its own; the very next code after it is (RFC 4226 §7.4 resync with two codes).
 *
 * Every candidate is compared, in constant time, whether or not an earlier one matched.
 */
import { timingSafeEqual } from 'node:crypto';
import { HOTP, Secret } from 'otpauth';

export type OathType = 'totp' | 'hotp';
export type OathAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface OathParams {
  type: OathType;
  digits: 6 | 7 | 8;
  algorithm: OathAlgorithm;
  /** TOTP step, s; default 30. */
  period: number;
}

/** What changes as codes are used. */
export interface OathCounters {
  /** HOTP: the next counter expected. */
  counter: number;
  /** TOTP: the last accepted step (replay guard). */
  lastStep?: number;
  /** TOTP: steps this token's clock is ahead (+) or behind (-). */
  drift: number;
  /** HOTP: a code far ahead seen once, waiting for the next one to confirm it. */
  resyncAt?: number;
}

export type OathResult =
  | { ok: true; counters: OathCounters; delta: number }
  | { ok: false; reason: 'wrong' | 'replay' | 'resync-pending'; counters: OathCounters };

/** TOTP steps either side of the expected one. */
export const TOTP_WINDOW = 1;
/** The learned drift is bounded, so a stolen code book cannot walk it anywhere. */
export const MAX_DRIFT_STEPS = 20;
/** HOTP presses ahead that start a two-code resync. */
export const HOTP_LOOK_AHEAD = 20;

export function otpAt(params: OathParams, secret: Buffer, counter: number): string {
  return HOTP.generate({
    secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
    algorithm: params.algorithm,
    digits: params.digits,
    counter,
  });
}

/** Both are `digits` ASCII digits long (checked before), so the lengths match. */
function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Which of `counters` matches `code`; all are computed and compared. */
function find(
  params: OathParams,
  secret: Buffer,
  code: string,
  counters: readonly number[],
): number | undefined {
  let hit: number | undefined;
  for (const c of counters) if (c >= 0 && same(otpAt(params, secret, c), code) && hit === undefined) hit = c;
  return hit;
}

export function checkOath(
  params: OathParams,
  secret: Buffer,
  state: OathCounters,
  code: string,
  nowMs: number,
): OathResult {
  const typed = code.trim();
  if (!/^\d+$/.test(typed) || typed.length !== params.digits)
    return { ok: false, reason: 'wrong', counters: state };
  if (params.type === 'totp') {
    const t = Math.floor(nowMs / 1000 / params.period);
    const centre = t + state.drift;
    const steps: number[] = [];
    for (let d = -TOTP_WINDOW; d <= TOTP_WINDOW; d++) steps.push(centre + d);
    const hit = find(params, secret, typed, steps);
    if (hit === undefined) return { ok: false, reason: 'wrong', counters: state };
    if (state.lastStep !== undefined && hit <= state.lastStep)
      return { ok: false, reason: 'replay', counters: state };
    const drift = Math.max(-MAX_DRIFT_STEPS, Math.min(MAX_DRIFT_STEPS, hit - t));
    return { ok: true, delta: hit - centre, counters: { ...state, lastStep: hit, drift } };
  }
  const c = state.counter;
  if (state.resyncAt !== undefined) {
    // The second code of a resync must be the press right after the first.
    const next = state.resyncAt + 1;
    const hit = find(params, secret, typed, [next, c, c + 1]);
    if (hit !== undefined) {
      const { resyncAt: _dropped, ...rest } = state;
      return { ok: true, delta: hit - c, counters: { ...rest, counter: hit + 1 } };
    }
  }
  const hit = find(params, secret, typed, [c, c + 1]);
  if (hit !== undefined) {
    const { resyncAt: _dropped, ...rest } = state;
    return { ok: true, delta: hit - c, counters: { ...rest, counter: hit + 1 } };
  }
  if (find(params, secret, typed, [c - 1]) !== undefined)
    return { ok: false, reason: 'replay', counters: state };
  const ahead: number[] = [];
  for (let k = 2; k <= HOTP_LOOK_AHEAD; k++) ahead.push(c + k);
  const far = find(params, secret, typed, ahead);
  if (far !== undefined)
    return { ok: false, reason: 'resync-pending', counters: { ...state, resyncAt: far } };
  return { ok: false, reason: 'wrong', counters: state };
}
