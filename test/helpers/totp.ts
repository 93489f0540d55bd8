/**
 * RFC 6238 TOTP (SHA-1, 6 digits, 30 s) from node:crypto alone, nothing of the firmware's: the
 * independent authenticator app of the e2e tests.
 */
import { createHmac } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (as in an otpauth:// URI's secret) to bytes. */
export function base32Bytes(base32: string): Buffer {
  let bits = '';
  for (const ch of base32.replace(/=+$/, '')) bits += ALPHABET.indexOf(ch).toString(2).padStart(5, '0');
  return Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
}

export function totp(base32: string, t = Date.now()): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(t / 30_000)));
  const h = createHmac('sha1', base32Bytes(base32)).update(msg).digest();
  const off = (h[h.length - 1] ?? 0) & 0xf;
  return String((h.readUInt32BE(off) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}
