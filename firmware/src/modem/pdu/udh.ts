/** User Data Header (TS 23.040 §9.2.3.24): concatenation IEs. Pure. */
export interface ConcatInfo {
  ref: number;
  total: number;
  seq: number;
}

/** UDHL + IEI 0x00 (8-bit reference concatenation), 6 octets. */
export function concatUdh(ref: number, total: number, seq: number): number[] {
  return [0x05, 0x00, 0x03, ref & 0xff, total, seq];
}

/** Septets a UDH of `octets` bytes takes, and the fill bits that align the text after it. */
export function udhSeptets(octets: number): { septets: number; fillBits: number } {
  const bits = octets * 8;
  const septets = Math.ceil(bits / 7);
  return { septets, fillBits: septets * 7 - bits };
}

export interface ParsedUdh {
  concat?: ConcatInfo;
  /** Every IE, for anything a caller wants beyond concatenation. */
  elements: Array<{ iei: number; data: Uint8Array }>;
}

/** Parses the IEs of a UDH (without its length octet). Malformed trailing IEs are ignored. */
export function parseUdh(udh: Uint8Array): ParsedUdh {
  const elements: ParsedUdh['elements'] = [];
  let concat: ConcatInfo | undefined;
  let i = 0;
  while (i + 1 < udh.length) {
    const iei = udh[i] ?? 0;
    const len = udh[i + 1] ?? 0;
    const data = udh.subarray(i + 2, i + 2 + len);
    if (data.length < len) break;
    elements.push({ iei, data });
    if (iei === 0x00 && len === 3) concat = { ref: data[0] ?? 0, total: data[1] ?? 0, seq: data[2] ?? 0 };
    if (iei === 0x08 && len === 4)
      concat = { ref: ((data[0] ?? 0) << 8) | (data[1] ?? 0), total: data[2] ?? 0, seq: data[3] ?? 0 };
    i += 2 + len;
  }
  return concat ? { concat, elements } : { elements };
}
