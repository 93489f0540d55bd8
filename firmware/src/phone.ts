/**
 * Phone numbers, pure. AD holds numbers as people typed them ("(555) 010-0001", "0151 1234567");
 * the modem needs E.164. libphonenumber-js does the country rules better than hand-written code.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

export type PhoneResult = { ok: true; e164: string } | { ok: false; reason: string };

export interface NormaliseOptions {
  /**
   * Accept numbers that have a plausible length but are not assigned in the country's numbering
   * plan, such as the fictional 555-01xx (US) or 07700 900xxx (UK) numbers of a test lab or the
   * demo. Off by default: such a number cannot receive an SMS, so a user with one is reported.
   */
  acceptPossible?: boolean;
}

export function normaliseNumber(
  raw: string,
  defaultCountry: string,
  opts: NormaliseOptions = {},
): PhoneResult {
  const trimmed = raw.trim();
  if (trimmed.length === 0) return { ok: false, reason: 'empty number' };
  if (trimmed.length > 40) return { ok: false, reason: 'number too long' };
  // "00" is the international prefix in most of the world; libphonenumber wants "+".
  const input = trimmed.startsWith('00') ? `+${trimmed.slice(2)}` : trimmed;
  const parsed = parsePhoneNumberFromString(input, defaultCountry.toUpperCase() as CountryCode);
  if (!parsed) return { ok: false, reason: 'not a phone number' };
  if (!parsed.isPossible()) return { ok: false, reason: 'not a possible number' };
  if (opts.acceptPossible !== true && !parsed.isValid()) return { ok: false, reason: 'not a valid number' };
  return { ok: true, e164: parsed.number };
}

/** "+15550000001" → "******0001": enough for the user to recognise the phone, not enough to leak it. */
export function maskNumber(e164: string, visible = 4): string {
  const digits = e164.replace(/\D/g, '');
  if (digits.length <= visible) return '*'.repeat(digits.length);
  return '*'.repeat(6) + digits.slice(-visible);
}
