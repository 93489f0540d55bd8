/**
 * SMS-SUBMIT (TS 23.040 §9.2.2.2): the PDUs the box hands to AT+CMGS, and a decoder for the
 * simulator and tests. Pure.
 */
import { ErrorCode, MfaError } from '../../errors.ts';
import { encodeAddress, readAddress, readSmsc } from './address.ts';
import { OctetReader, fromHex, toHex } from './bytes.ts';
import { decodeDcs, encodeDcs, type Alphabet } from './dcs.ts';
import { gsm7Decode, packSeptets, unpackSeptets } from './gsm7.ts';
import { segmentText } from './plan.ts';
import { concatUdh, parseUdh, udhSeptets, type ConcatInfo } from './udh.ts';
import { secondsToVp, vpToSeconds } from './validity.ts';

export interface SubmitInput {
  /** "+<digits>" (international) or national digits. */
  to: string;
  text: string;
  /** Class 0: shown at once, not stored by the phone. */
  flash?: boolean;
  /** TP-SRR: ask the network for a status report (+CDS). */
  statusReport?: boolean;
  /** TP-VP relative, rounded down to what the format can say (5 minutes at least). */
  validitySeconds?: number;
  /**
   * 0–255, the concatenation reference of a multipart message. Defaults to a hash of the number
   * and text: deterministic, so an audited resend of the identical message reuses it and a phone
   * that got some parts of the first attempt still assembles one message.
   */
  concatRef?: number;
}

export interface PduPart {
  /** Uppercase hex WITH the leading "00" SMSC octet (use the SIM's service centre). */
  hex: string;
  /** TPDU octets without the SMSC field: the AT+CMGS=<n> value. */
  tpduLength: number;
}

const MTI_SUBMIT = 0x01;
const VPF_RELATIVE = 0x10;
const SRR = 0x20;
const UDHI = 0x40;

export function encodeSubmit(input: SubmitInput): PduPart[] {
  const address = encodeAddress(input.to);
  const plan = segmentText(input.text);
  const total = plan.segments.length;
  const multi = total > 1;
  const ref = input.concatRef ?? defaultConcatRef(input.to, input.text);
  if (!Number.isInteger(ref) || ref < 0 || ref > 255)
    throw new MfaError('concatRef must be an integer 0–255', ErrorCode.SmsEncodingFailed, {
      field: 'concatRef',
    });
  const hasVp = input.validitySeconds !== undefined;
  if (hasVp && !(Number.isFinite(input.validitySeconds) && (input.validitySeconds ?? 0) >= 0))
    throw new MfaError('validitySeconds must be a non-negative number', ErrorCode.SmsEncodingFailed, {
      field: 'validitySeconds',
    });

  const fo = MTI_SUBMIT | (hasVp ? VPF_RELATIVE : 0) | (input.statusReport ? SRR : 0) | (multi ? UDHI : 0);
  const dcs = encodeDcs(plan.encoding, input.flash === true);
  const head = [fo, 0x00 /* TP-MR: the modem fills it */, ...address, 0x00 /* TP-PID */, dcs];
  if (hasVp) head.push(secondsToVp(input.validitySeconds ?? 0));

  return plan.segments.map((seg, i) => {
    const udh = multi ? concatUdh(ref, total, i + 1) : [];
    let udl: number;
    let ud: number[];
    if (plan.encoding === 'gsm7') {
      const { septets, fillBits } = udhSeptets(udh.length);
      udl = (udh.length > 0 ? septets : 0) + seg.length;
      ud = [...udh, ...packSeptets(seg, udh.length > 0 ? fillBits : 0)];
    } else {
      ud = [...udh];
      for (const u of seg) ud.push(u >> 8, u & 0xff);
      udl = ud.length;
    }
    const tpdu = [...head, udl, ...ud];
    return { hex: `00${toHex(tpdu)}`, tpduLength: tpdu.length };
  });
}

/** FNV-1a of number and text, folded to one octet. */
export function defaultConcatRef(to: string, text: string): number {
  let h = 0x811c9dc5;
  const s = `${to}\u0000${text}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h ^ (h >>> 8) ^ (h >>> 16) ^ (h >>> 24)) & 0xff;
}

export interface DecodedSubmit {
  to: string;
  /** For 8-bit data: the octets as uppercase hex. */
  text: string;
  encoding: Alphabet;
  flash: boolean;
  statusReport: boolean;
  /** Relative TP-VP in seconds; absent when the PDU has none or uses another format. */
  validitySeconds?: number;
  concat?: ConcatInfo;
  messageReference: number;
  /** The SMSC number the PDU names; "" = the SIM's default; absent when the hex had no SMSC field. */
  smsc?: string;
  dcs: number;
  pid: number;
  /** TPDU octets, the value AT+CMGS should have announced. */
  tpduLength: number;
}

/**
 * Decodes an SMS-SUBMIT. Without `hasSmsc` it accepts both forms: it tries the SMSC field first
 * and keeps the reading that consumes the hex exactly.
 */
export function decodeSubmit(hexWithOrWithoutSmsc: string, opts: { hasSmsc?: boolean } = {}): DecodedSubmit {
  const bytes = fromHex(hexWithOrWithoutSmsc);
  if (opts.hasSmsc !== undefined) return parseSubmit(bytes, opts.hasSmsc);
  try {
    return parseSubmit(bytes, true);
  } catch (first) {
    try {
      return parseSubmit(bytes, false);
    } catch {
      throw first;
    }
  }
}

function parseSubmit(bytes: Uint8Array, hasSmsc: boolean): DecodedSubmit {
  const r = new OctetReader(bytes);
  const smsc = hasSmsc ? readSmsc(r) : undefined;
  const tpduStart = r.offset;
  const fo = r.u8('first octet');
  if ((fo & 0x03) !== MTI_SUBMIT)
    throw new MfaError(`not an SMS-SUBMIT (TP-MTI ${fo & 0x03})`, ErrorCode.SmsEncodingFailed, {
      field: 'pdu',
    });
  const messageReference = r.u8('TP-MR');
  const to = readAddress(r).number;
  const pid = r.u8('TP-PID');
  const dcs = r.u8('TP-DCS');
  let validitySeconds: number | undefined;
  const vpf = (fo >> 3) & 0x03;
  if (vpf === 0x02) validitySeconds = vpToSeconds(r.u8('TP-VP'));
  else if (vpf !== 0) r.take(7, 'TP-VP');
  const udl = r.u8('TP-UDL');
  const info = decodeDcs(dcs);
  const { text, concat } = readUserData(r, udl, info.alphabet, (fo & UDHI) !== 0);
  if (r.remaining !== 0)
    throw new MfaError(`${r.remaining} octets after the user data`, ErrorCode.SmsEncodingFailed, {
      field: 'pdu',
    });
  return {
    to,
    text,
    encoding: info.alphabet,
    flash: info.messageClass === 0,
    statusReport: (fo & SRR) !== 0,
    ...(validitySeconds !== undefined ? { validitySeconds } : {}),
    ...(concat ? { concat } : {}),
    messageReference,
    ...(smsc !== undefined ? { smsc } : {}),
    dcs,
    pid,
    tpduLength: bytes.length - tpduStart,
  };
}

/** TP-UD: an optional UDH, then text in the given alphabet. Shared with the deliver/report decoders. */
export function readUserData(
  r: OctetReader,
  udl: number,
  alphabet: Alphabet,
  udhi: boolean,
): { text: string; concat?: ConcatInfo } {
  const octetCount = alphabet === 'gsm7' ? Math.ceil((udl * 7) / 8) : udl;
  const ud = r.take(octetCount, 'TP-UD');
  let udhOctets = 0;
  let concat: ConcatInfo | undefined;
  if (udhi && ud.length > 0) {
    udhOctets = 1 + (ud[0] ?? 0);
    if (udhOctets > ud.length)
      throw new MfaError('UDH longer than the user data', ErrorCode.SmsEncodingFailed, { field: 'pdu' });
    concat = parseUdh(ud.subarray(1, udhOctets)).concat;
  }
  let text: string;
  if (alphabet === 'gsm7') {
    const { septets, fillBits } = udhSeptets(udhOctets);
    const skip = udhOctets > 0 ? septets : 0;
    text = gsm7Decode(
      unpackSeptets(ud.subarray(udhOctets), Math.max(0, udl - skip), udhOctets > 0 ? fillBits : 0),
    );
  } else if (alphabet === 'ucs2') {
    const body = ud.subarray(udhOctets);
    text = '';
    for (let i = 0; i + 1 < body.length; i += 2)
      text += String.fromCharCode(((body[i] ?? 0) << 8) | (body[i + 1] ?? 0));
  } else text = toHex(ud.subarray(udhOctets));
  return concat ? { text, concat } : { text };
}
