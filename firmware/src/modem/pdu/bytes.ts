/** Hex and a bounds-checked octet reader for the PDU decoders. Pure. */
import { ErrorCode, MfaError } from '../../errors.ts';

export function toHex(bytes: Iterable<number>): string {
  let s = '';
  for (const b of bytes) s += (b & 0xff).toString(16).padStart(2, '0');
  return s.toUpperCase();
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.trim();
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean))
    throw new MfaError('PDU is not an even-length hex string', ErrorCode.SmsEncodingFailed, { field: 'pdu' });
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Reads octets in order and throws a coded error, not a RangeError, when a PDU is truncated. */
export class OctetReader {
  private pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  u8(what: string): number {
    const b = this.bytes[this.pos];
    if (b === undefined) throw truncated(what);
    this.pos++;
    return b;
  }

  take(n: number, what: string): Uint8Array {
    if (n < 0 || this.pos + n > this.bytes.length) throw truncated(what);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function truncated(what: string): MfaError {
  return new MfaError(`PDU truncated while reading ${what}`, ErrorCode.SmsEncodingFailed, { field: 'pdu' });
}
