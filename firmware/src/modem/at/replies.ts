/**
 * Parsers for the replies the driver reads (+CPIN, +CREG family, +CSQ, +COPS, +CMGS, ICCID,
 * identity lines). Pure; the odd variants real modems print are handled here, in one place.
 */

export type SimStatus =
  | { kind: 'ready' }
  | { kind: 'pin' }
  | { kind: 'puk' }
  | { kind: 'other-lock'; what: string }
  | { kind: 'absent' }
  | { kind: 'unknown'; text: string };

/** `+CPIN: READY`, `+CPIN:READY`, `+CPIN: "READY"`, `+CPIN: SIM PIN`, `+CPIN: NOT INSERTED`… */
export function parseCpin(lines: string[]): SimStatus | undefined {
  const l = lines.find((x) => /^\+CPIN:/i.test(x));
  if (l === undefined) return undefined;
  const v = l
    .replace(/^\+CPIN:\s*/i, '')
    .replace(/"/g, '')
    .trim()
    .toUpperCase();
  if (v === 'READY') return { kind: 'ready' };
  if (v === 'SIM PIN') return { kind: 'pin' };
  if (v === 'SIM PUK') return { kind: 'puk' };
  if (v.includes('NOT INSERTED') || v === 'NO SIM' || v === 'SIM REMOVED') return { kind: 'absent' };
  if (
    v.startsWith('PH-') ||
    v.endsWith('PIN') ||
    v.endsWith('PUK') ||
    v.includes('PIN2') ||
    v.includes('PUK2')
  )
    return { kind: 'other-lock', what: v };
  return { kind: 'unknown', text: v };
}

/** 27.007 §7.2 <stat> values. */
export type RegStat =
  | 'not-searching'
  | 'home'
  | 'searching'
  | 'denied'
  | 'unknown'
  | 'roaming'
  | 'sms-only-home'
  | 'sms-only-roaming'
  | 'emergency-only'
  | 'csfb-not-preferred-home'
  | 'csfb-not-preferred-roaming';

const STATS: RegStat[] = [
  'not-searching',
  'home',
  'searching',
  'denied',
  'unknown',
  'roaming',
  'sms-only-home',
  'sms-only-roaming',
  'emergency-only',
  'csfb-not-preferred-home',
  'csfb-not-preferred-roaming',
];

export interface Registration {
  stat: RegStat;
  /** <AcT>: 0 GSM, 2 UTRAN, 7 E-UTRAN (LTE)… when reported. */
  act?: number;
}

/** The solicited reply to AT+CREG? / +CGREG? / +CEREG?: `+CREG: <n>,<stat>[,<lac>,<ci>[,<AcT>]]`. */
export function parseReg(lines: string[], prefix: '+CREG' | '+CGREG' | '+CEREG'): Registration | undefined {
  const l = lines.find((x) => x.startsWith(`${prefix}:`));
  if (l === undefined) return undefined;
  const fields = l
    .slice(prefix.length + 1)
    .split(',')
    .map((f) => f.trim().replace(/"/g, ''));
  const stat = STATS[Number(fields[1])];
  if (stat === undefined) return undefined;
  const act = fields.length >= 5 ? Number(fields[4]) : undefined;
  return act === undefined || Number.isNaN(act) ? { stat } : { stat, act };
}

export function isRegistered(s: RegStat | undefined): boolean {
  return (
    s === 'home' ||
    s === 'roaming' ||
    s === 'sms-only-home' ||
    s === 'sms-only-roaming' ||
    s === 'csfb-not-preferred-home' ||
    s === 'csfb-not-preferred-roaming'
  );
}

export function isRoaming(s: RegStat | undefined): boolean {
  return s === 'roaming' || s === 'sms-only-roaming' || s === 'csfb-not-preferred-roaming';
}

export interface Signal {
  /** dBm, or undefined when the modem does not know (99). */
  dbm?: number;
  /** 0–5. */
  bars: number;
}

/** `+CSQ: <rssi>,<ber>`: rssi 0 → −113 dBm, 31 → −51 dBm or better, 99 unknown. */
export function parseCsq(lines: string[]): Signal | undefined {
  const m = lines.map((l) => /^\+CSQ:\s*(\d+)\s*,\s*(\d+)/.exec(l)).find((x) => x !== null);
  if (!m) return undefined;
  const rssi = Number(m[1]);
  if (rssi === 99 || rssi > 31) return { bars: 0 };
  const dbm = -113 + 2 * rssi;
  return { dbm, bars: barsFor(dbm) };
}

/** Bars as phones draw them (roughly the 3GPP quality bands for GSM RSSI). */
export function barsFor(dbm: number): number {
  if (dbm >= -73) return 5;
  if (dbm >= -83) return 4;
  if (dbm >= -93) return 3;
  if (dbm >= -103) return 2;
  if (dbm >= -109) return 1;
  return 0;
}

/** `+COPS: 0,0,"Operator",7` → "Operator". */
export function parseCops(lines: string[]): string | undefined {
  const m = lines.map((l) => /^\+COPS:\s*\d+\s*,\s*\d+\s*,\s*"([^"]*)"/.exec(l)).find((x) => x !== null);
  return m?.[1] || undefined;
}

/** `+CMGS: <mr>[,<scts>]` → mr, or undefined. */
export function parseCmgs(lines: string[]): number | undefined {
  const m = lines.map((l) => /^\+CMGS:\s*(\d+)/.exec(l)).find((x) => x !== null);
  return m ? Number(m[1]) : undefined;
}

/** `+CSCA: "+4917...",145` → the number, or undefined when empty. */
export function parseCsca(lines: string[]): string | undefined {
  const m = lines.map((l) => /^\+CSCA:\s*"([^"]*)"/.exec(l)).find((x) => x !== null);
  return m?.[1] || undefined;
}

/**
 * The ICCID from any of the vendor replies: `+CCID: 89…`, bare `89…`, `+ICCID: …`, `ICCID: …`,
 * `^ICCID: "98…"` (nibble-swapped, as stored on the SIM), `+CRSM: 144,0,"98…"`.
 */
export function parseIccid(lines: string[]): string | undefined {
  for (const l of lines) {
    const m = /([0-9A-Fa-f]{18,22})/.exec(l.replace(/^\+CRSM:\s*\d+\s*,\s*\d+\s*,/, ''));
    if (!m?.[1]) continue;
    let v = m[1].toUpperCase();
    if (v.startsWith('98')) v = swapNibbles(v);
    v = v.replace(/F+$/, '');
    if (/^89\d{16,20}$/.test(v)) return v;
  }
  return undefined;
}

function swapNibbles(hex: string): string {
  let out = '';
  for (let i = 0; i + 1 < hex.length; i += 2) out += (hex[i + 1] ?? '') + (hex[i] ?? '');
  return out;
}

/** A one-line identity value: strips `+CGMI: ` style prefixes and quotes. */
export function identityValue(lines: string[]): string | undefined {
  const l = lines.find((x) => x.trim().length > 0);
  if (l === undefined) return undefined;
  return (
    l
      .replace(/^\+?[A-Z]+:\s*/, '')
      .replace(/"/g, '')
      .trim() || undefined
  );
}

/** Tries left from the profile's tries-left reply. */
export function parseTriesLeft(lines: string[], pattern: string): number | undefined {
  const re = new RegExp(pattern);
  for (const l of lines) {
    const m = re.exec(l);
    if (m?.[1] !== undefined) return Number(m[1]);
  }
  return undefined;
}

/**
 * Text-mode `+CDS: <fo>,<mr>,"<ra>",<tora>,"<scts>","<dt>",<st>` → reference and outcome; undefined
 * for anything else (a PDU-mode report is hex on its own line).
 */
export function parseTextCds(
  line: string,
): { messageReference: number; status: number; outcome: 'delivered' | 'pending' | 'failed' } | undefined {
  const m = /^\+CDS:\s*\d+\s*,\s*(\d+)\s*,.*,\s*(\d+)\s*$/.exec(line);
  if (!m) return undefined;
  const status = Number(m[2]);
  const outcome = status <= 0x1f ? 'delivered' : status <= 0x3f ? 'pending' : 'failed';
  return { messageReference: Number(m[1]), status, outcome };
}
