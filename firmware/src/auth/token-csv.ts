/**
 * Hardware-token seed files, pure. A CSV with a header line; columns in any order:
 *
 *   user        required: the login name
 *   seed_hex    the seed in hex          } one of the two
 *   seed_base32 the seed in base32       }
 *   type        totp (default) | hotp
 *   digits      6 (default) | 7 | 8
 *   period      TOTP step in s, default 30
 *   algorithm   SHA1 (default) | SHA256 | SHA512
 *   counter     HOTP start counter, default 0
 *   serial      the token's serial number, for `user show`
 *
 * Blank lines and lines starting with # are skipped. A bad line is reported by number and never
 * stops the good ones. Fields hold no commas (seeds and serials never do), so no quoting is needed;
 * surrounding quotes are stripped.
 */
import { Secret } from 'otpauth';
import type { OathAlgorithm, OathParams } from './oath.ts';

export interface TokenRow {
  user: string;
  seed: Buffer;
  params: OathParams;
  counter: number;
  serial?: string;
}

const unquote = (s: string): string =>
  s
    .trim()
    .replace(/^"(.*)"$/, '$1')
    .trim();

export function parseTokenCsv(text: string): { rows: TokenRow[]; errors: string[] } {
  const rows: TokenRow[] = [];
  const errors: string[] = [];
  const lines = text.split(/\r?\n/);
  let header: string[] | undefined;
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const cells = line.split(',').map(unquote);
    if (!header) {
      header = cells.map((c) => c.toLowerCase());
      if (!header.includes('user') || !(header.includes('seed_hex') || header.includes('seed_base32')))
        errors.push(`line ${n}: the header needs "user" and "seed_hex" or "seed_base32"`);
      return;
    }
    const h = header;
    const get = (k: string): string | undefined => {
      const at = h.indexOf(k);
      const v = at < 0 ? undefined : cells[at];
      return v === undefined || v === '' ? undefined : v;
    };
    const fail = (why: string): void => {
      errors.push(`line ${n}: ${why}`);
    };
    const user = get('user');
    if (user === undefined) return fail('no user');
    let seed: Buffer;
    const hex = get('seed_hex');
    const b32 = get('seed_base32');
    try {
      if (hex !== undefined) {
        if (!/^([0-9a-fA-F]{2})+$/.test(hex)) return fail('seed_hex is not hex');
        seed = Buffer.from(hex, 'hex');
      } else if (b32 !== undefined) {
        if (!/^[A-Za-z2-7]+=*$/.test(b32.replace(/\s/g, ''))) return fail('seed_base32 is not base32');
        seed = Buffer.from(Secret.fromBase32(b32.replace(/\s/g, '').toUpperCase()).bytes);
      } else return fail('no seed');
    } catch {
      return fail('the seed does not decode');
    }
    if (seed.length < 10) return fail('the seed is shorter than 80 bits');
    const type = (get('type') ?? 'totp').toLowerCase();
    if (type !== 'totp' && type !== 'hotp') return fail(`type "${type}" is not totp or hotp`);
    const digits = Number(get('digits') ?? '6');
    if (digits !== 6 && digits !== 7 && digits !== 8) return fail('digits must be 6, 7 or 8');
    const period = Number(get('period') ?? '30');
    if (!Number.isInteger(period) || period < 10 || period > 300) return fail('period must be 10–300 s');
    const algorithm = (get('algorithm') ?? 'SHA1').toUpperCase().replace('-', '') as OathAlgorithm;
    if (!['SHA1', 'SHA256', 'SHA512'].includes(algorithm))
      return fail('algorithm must be SHA1, SHA256 or SHA512');
    const counter = Number(get('counter') ?? '0');
    if (!Number.isSafeInteger(counter) || counter < 0) return fail('counter must be a whole number');
    const serial = get('serial');
    rows.push({
      user,
      seed,
      params: { type, digits, period, algorithm },
      counter,
      ...(serial === undefined ? {} : { serial }),
    });
  });
  if (!header) errors.push('the file is empty');
  return { rows, errors };
}
