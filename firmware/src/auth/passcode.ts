/**
 * Passcodes, pure: generate, hash for storage, verify in constant time.
 *
 * Why HMAC and not scrypt: a 6-digit code has ~20 bits, so no slow hash makes a stolen store
 * safe against offline guessing of 10^6 candidates. What does protect it is a key the store does
 * not hold: HMAC-SHA256 keyed by the device secret, over a per-challenge random salt and the
 * code. A dump of the challenges table alone then says nothing about the code during its few
 * minutes of life, and the salt keeps two challenges with the same code from looking alike.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Random } from '../clock.ts';
import { deriveSubkey } from '../store/device-key.ts';
import { HmacSha256 } from './hmac-sha256.ts';

export const MIN_LENGTH = 4;
export const MAX_LENGTH = 10;
export const SALT_BYTES = 16;
/** The device secret must carry at least this many bytes of entropy to key the HMAC. */
export const MIN_KEY_BYTES = 16;

/** 48 bits per draw: above 10^10 (the longest code), and exact in a JS number. */
const DRAW_BYTES = 6;
const DRAW_RANGE = 2 ** 48;

/**
 * A uniform N-digit code (leading zeros allowed). Rejection sampling over 48-bit draws: a plain
 * `draw % 10^n` would favour low codes, because 2^48 is not a multiple of 10^n.
 */
export function generatePasscode(random: Random, length: number): string {
  if (!Number.isInteger(length) || length < MIN_LENGTH || length > MAX_LENGTH) {
    throw new RangeError(`passcode length must be ${MIN_LENGTH}–${MAX_LENGTH}, got ${length}`);
  }
  const space = 10 ** length;
  const limit = DRAW_RANGE - (DRAW_RANGE % space);
  for (;;) {
    const draw = random.bytes(DRAW_BYTES).readUIntBE(0, DRAW_BYTES);
    if (draw < limit) return String(draw % space).padStart(length, '0');
  }
}

/**
 * The HMAC key, derived from the device secret for this one purpose (HKDF-SHA256), so the same
 * secret can key other things (the outbox's encryption at rest) without the uses meeting.
 */
export function derivePasscodeKey(deviceSecret: Buffer): Buffer {
  if (deviceSecret.length < MIN_KEY_BYTES) {
    throw new RangeError(`the device secret must be at least ${MIN_KEY_BYTES} bytes`);
  }
  return deriveSubkey(deviceSecret, 'passcode');
}

export function newSalt(random: Random): Buffer {
  return random.bytes(SALT_BYTES);
}

export function hashPasscode(code: string, salt: Buffer, key: Buffer): string {
  return mac(key, salt, code).toString('hex');
}

/**
 * What the user typed, as the code to compare: spaces anywhere are dropped ("123 456" is a fine
 * way to read a code off a phone). Returns undefined for anything else than digits.
 */
export function normaliseInput(input: string): string | undefined {
  const compact = input.replace(/\s+/g, '');
  return /^\d{1,64}$/.test(compact) ? compact : undefined;
}

/** The key's precomputed HMAC states, per key Buffer (a config reload keeps the same one). */
const keyStates = new WeakMap<Buffer, HmacSha256>();
/** salt || code for the check: a 16-octet salt and at most 64 digits fit without growing it. */
let scratch = new Uint8Array(128);

/**
 * HMAC-SHA256(key, salt || code) for an ASCII code (what generatePasscode makes and normaliseInput
 * lets through: one octet per character, as UTF-8 would encode it), without node:crypto. The salt
 * has a fixed length, so salt || code is unambiguous without a separator.
 */
function mac(key: Buffer, salt: Uint8Array, code: string): Buffer {
  let h = keyStates.get(key);
  if (!h) {
    h = new HmacSha256(key);
    keyStates.set(key, h);
  }
  const len = salt.length + code.length;
  if (len > scratch.length) scratch = new Uint8Array(len);
  scratch.set(salt);
  for (let i = 0; i < code.length; i++) scratch[salt.length + i] = code.charCodeAt(i);
  const out = h.mac(scratch, len);
  // Nor here: the typed code does not stay in memory past its check.
  scratch.fill(0, 0, len);
  return out;
}

/**
 * Constant-time check of a typed code against a stored hash. Malformed input is still run through
 * the HMAC and the comparison, so a wrong-format guess takes as long as a wrong code.
 */
export function verifyPasscode(input: string, stored: { hash: string; salt: string }, key: Buffer): boolean {
  const code = normaliseInput(input);
  const expected = Buffer.from(stored.hash, 'hex');
  const actual = mac(key, Buffer.from(stored.salt, 'hex'), code ?? '\u0000');
  // A corrupt stored hash (wrong length) must fail closed, not throw from timingSafeEqual.
  const sameLength = expected.length === actual.length;
  const equal = timingSafeEqual(actual, sameLength ? expected : actual) && sameLength;
  return equal && code !== undefined;
}
