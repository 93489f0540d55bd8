/**
 * SMS-STATUS-REPORT (TS 23.040 §9.2.2.3), which a modem hands over as `+CDS: <len>\r\n<pdu>`.
 * Pure. The encoder exists for the simulator; the driver only decodes.
 */
import { ErrorCode, MfaError } from '../../errors.ts';
import { encodeAddress, parseNumber, readAddress, readSmsc, semiOctets } from './address.ts';
import { OctetReader, fromHex, toHex } from './bytes.ts';

const MTI_STATUS_REPORT = 0x02;

/** TP-ST (§9.2.3.15) in three plain outcomes. */
export type DeliveryOutcome = 'delivered' | 'pending' | 'failed';

export function statusOutcome(status: number): DeliveryOutcome {
  if (status <= 0x1f) return 'delivered';
  if (status >= 0x20 && status <= 0x3f) return 'pending';
  return 'failed';
}

export interface StatusReportInput {
  messageReference: number;
  recipient: string;
  /** TP-ST: 0 delivered, 0x20–0x3F still trying, 0x40+ failed. */
  status: number;
  submittedAt?: Date;
  dischargedAt?: Date;
  /** Service centre number written in front of the TPDU, as modems do for +CDS; "" for none. */
  smsc?: string;
}

export interface DecodedStatusReport {
  messageReference: number;
  recipient: string;
  status: number;
  /** TP-ST says the message reached the handset (0x00–0x1F). */
  delivered: boolean;
  outcome: DeliveryOutcome;
  /** TP-SCTS, when the service centre took the message. */
  submittedAt: Date;
  /** TP-DT, when the outcome was reached. */
  dischargedAt: Date;
  smsc?: string;
  tpduLength: number;
}

export function encodeStatusReport(input: StatusReportInput): { hex: string; tpduLength: number } {
  const now = new Date();
  const tpdu = [
    MTI_STATUS_REPORT,
    input.messageReference & 0xff,
    ...encodeAddress(input.recipient),
    ...encodeTimestamp(input.submittedAt ?? now),
    ...encodeTimestamp(input.dischargedAt ?? now),
    input.status & 0xff,
  ];
  return { hex: encodeSmsc(input.smsc ?? '') + toHex(tpdu), tpduLength: tpdu.length };
}

function encodeSmsc(smsc: string): string {
  if (smsc === '') return '00';
  const { number, toa } = parseNumber(smsc);
  const digits = semiOctets(number);
  return toHex([digits.length + 1, toa, ...digits]);
}

export function decodeStatusReport(hex: string, opts: { hasSmsc?: boolean } = {}): DecodedStatusReport {
  const bytes = fromHex(hex);
  if (opts.hasSmsc !== undefined) return parse(bytes, opts.hasSmsc);
  try {
    return parse(bytes, true);
  } catch (first) {
    try {
      return parse(bytes, false);
    } catch {
      throw first;
    }
  }
}

function parse(bytes: Uint8Array, hasSmsc: boolean): DecodedStatusReport {
  const r = new OctetReader(bytes);
  const smsc = hasSmsc ? readSmsc(r) : undefined;
  const start = r.offset;
  const fo = r.u8('first octet');
  if ((fo & 0x03) !== MTI_STATUS_REPORT)
    throw new MfaError(`not an SMS-STATUS-REPORT (TP-MTI ${fo & 0x03})`, ErrorCode.SmsEncodingFailed, {
      field: 'pdu',
    });
  const messageReference = r.u8('TP-MR');
  const recipient = readAddress(r).number;
  const submittedAt = decodeTimestamp(r.take(7, 'TP-SCTS'));
  const dischargedAt = decodeTimestamp(r.take(7, 'TP-DT'));
  const status = r.u8('TP-ST');
  // TP-PI and optional PID/DCS/UD may follow (§9.2.2.3); nothing the box needs is in them.
  r.take(r.remaining, 'optional parameters');
  return {
    messageReference,
    recipient,
    status,
    delivered: statusOutcome(status) === 'delivered',
    outcome: statusOutcome(status),
    submittedAt,
    dischargedAt,
    ...(smsc !== undefined ? { smsc } : {}),
    tpduLength: bytes.length - start,
  };
}

/** TP-SCTS format (§9.2.3.11): swapped BCD YY MM DD hh mm ss, then the zone; we write UTC. */
export function encodeTimestamp(d: Date): number[] {
  const fields = [
    d.getUTCFullYear() % 100,
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    0,
  ];
  return fields.map((v) => ((v % 10) << 4) | Math.floor(v / 10));
}

export function decodeTimestamp(b: Uint8Array): Date {
  const sw = (x: number): number => (x & 0x0f) * 10 + (x >> 4);
  const [yy, mo, dd, hh, mi, ss, tzRaw] = Array.from(b);
  // The zone is quarter hours in swapped BCD; bit 3 of the first semi-octet is the sign.
  const tz = tzRaw ?? 0;
  const quarters = (tz & 0x07) * 10 + (tz >> 4);
  const offsetMin = ((tz & 0x08) !== 0 ? -1 : 1) * quarters * 15;
  const utc = Date.UTC(
    2000 + sw(yy ?? 0),
    sw(mo ?? 1) - 1,
    sw(dd ?? 1),
    sw(hh ?? 0),
    sw(mi ?? 0),
    sw(ss ?? 0),
  );
  return new Date(utc - offsetMin * 60_000);
}
