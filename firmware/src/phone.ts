/**
 * Phone numbers, pure. AD holds numbers as people typed them ("(555) 010-0001", "0151 1234567");
 * the modem needs E.164. libphonenumber-js does the country rules better than hand-written code.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

export type PhoneResult = { ok: true; e164: string } | { ok: false; reason: string };

export function normaliseNumber(raw: string, defaultCountry: string): PhoneResult {
  const trimmed = raw.trim();
  if (trimmed.length === 0) return { ok: false, reason: 'empty number' };
  if (trimmed.length > 40) return { ok: false, reason: 'number too long' };
  // "00" is the international prefix in most of the world; libphonenumber wants "+".
  const input = trimmed.startsWith('00') ? `+${trimmed.slice(2)}` : trimmed;
  const parsed = parsePhoneNumberFromString(input, defaultCountry.toUpperCase() as CountryCode);
  if (!parsed) return { ok: false, reason: 'not a phone number' };
  if (!parsed.isPossible()) return { ok: false, reason: 'not a possible number' };
  // Fictional 555-01xx numbers (the demo's) are "possible" but not "valid"; accept possible ones
  // so a test lab works, and let the network refuse truly bad ones.
  return { ok: true, e164: parsed.number };
}

/** "+15550000001" → "******0001": enough for the user to recognise the phone, not enough to leak it. */
export function maskNumber(e164: string, visible = 4): string {
  const digits = e164.replace(/\D/g, '');
  if (digits.length <= visible) return '*'.repeat(digits.length);
  return '*'.repeat(6) + digits.slice(-visible);
}
