/**
 * Addresses in semi-octets (TS 23.040 §9.1.2.5): a length in digits, the type of number, then
 * BCD digits low nibble first with an F fill. Pure.
 */
import { ErrorCode, MfaError } from '../../errors.ts';
import type { OctetReader } from './bytes.ts';
import { gsm7Decode, unpackSeptets } from './gsm7.ts';

/** TON international, NPI ISDN/E.164. */
export const TOA_INTERNATIONAL = 0x91;
/** TON unknown, NPI ISDN/E.164: a national number, dialled as the user wrote it. */
export const TOA_UNKNOWN = 0x81;

const BCD_DIGITS = '0123456789*#abc';
/** TS 23.040 allows 20 digits in an address field. */
export const MAX_ADDRESS_DIGITS = 20;

export interface Address {
  /** Digits, with a leading "+" for an international number. */
  number: string;
  toa: number;
}

/**
 * "+15550000001" → 0x91 and its digits; "0151234" → 0x81. Refuses anything else rather than
 * guessing: a passcode sent to a wrong number is a leak.
 */
export function parseNumber(raw: string): Address {
  const s = raw.trim();
  const international = s.startsWith('+');
  const digits = international ? s.slice(1) : s;
  if (!/^[0-9*#]+$/.test(digits) || digits.length > MAX_ADDRESS_DIGITS)
    throw new MfaError(
      `"${mask(s)}" is not a dialable number (digits, an optional leading +, at most ${MAX_ADDRESS_DIGITS} digits)`,
      ErrorCode.SmsInvalidNumber,
      { field: 'to' },
    );
  return { number: digits, toa: international ? TOA_INTERNATIONAL : TOA_UNKNOWN };
}

function mask(s: string): string {
  return s.length <= 4 ? s : `…${s.slice(-4)}`;
}

/** Address-Length (digit count), Type-of-Address, then the semi-octets. */
export function encodeAddress(raw: string): number[] {
  const { number, toa } = parseNumber(raw);
  return [number.length, toa, ...semiOctets(number)];
}

/** Digits packed two per octet, low nibble first, with a trailing F for an odd count. */
export function semiOctets(digits: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < digits.length; i += 2) {
    const lo = BCD_DIGITS.indexOf(digits.charAt(i));
    const hi = i + 1 < digits.length ? BCD_DIGITS.indexOf(digits.charAt(i + 1)) : 0x0f;
    out.push(((hi & 0x0f) << 4) | (lo & 0x0f));
  }
  return out;
}

/** Reads an address whose length counts digits (TP-DA, TP-RA). */
export function readAddress(r: OctetReader): Address {
  const len = r.u8('address length');
  const toa = r.u8('type of address');
  const octets = r.take(Math.ceil(len / 2), 'address digits');
  return { number: decodeAddressDigits(octets, len, toa), toa };
}

/** Reads the SMSC field, whose length counts octets (TOA included); 0 means "the SIM's default". */
export function readSmsc(r: OctetReader): string {
  const len = r.u8('SMSC length');
  if (len === 0) return '';
  const toa = r.u8('SMSC type of address');
  const octets = r.take(len - 1, 'SMSC digits');
  return decodeAddressDigits(octets, (len - 1) * 2, toa);
}

function decodeAddressDigits(octets: Uint8Array, digitCount: number, toa: number): string {
  if ((toa & 0x70) === 0x50) {
    // Alphanumeric (TON 101, TS 23.040 §9.1.2.5): GSM 7-bit packed; the length counts semi-octets.
    return gsm7Decode(unpackSeptets(octets, Math.floor((digitCount * 4) / 7)));
  }
  let digits = '';
  for (let i = 0; i < digitCount; i++) {
    const b = octets[i >> 1] ?? 0xff;
    const nib = i % 2 === 0 ? b & 0x0f : b >> 4;
    if (nib === 0x0f) break;
    digits += BCD_DIGITS.charAt(nib);
  }
  return ((toa & 0x70) === 0x10 ? '+' : '') + digits;
}
