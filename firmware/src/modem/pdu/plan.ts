/**
 * Choosing the encoding and cutting text into SMS parts (TS 23.040 §9.2.3.24.1, TS 23.038). Pure.
 * One part holds 160 septets or 70 UCS2 units; a concatenated part loses 6 octets to the UDH,
 * leaving 153 septets or 67 units. An extension character (two septets) and a surrogate pair
 * (two units) are never split across parts: a phone would show garbage at the seam.
 */
import { ErrorCode, MfaError } from '../../errors.ts';
import { gsm7CharSeptets, isGsm7 } from './gsm7.ts';

export type TextEncoding = 'gsm7' | 'ucs2';

export const SINGLE_GSM7_SEPTETS = 160;
export const CONCAT_GSM7_SEPTETS = 153;
export const SINGLE_UCS2_UNITS = 70;
export const CONCAT_UCS2_UNITS = 67;
/** The 8-bit reference concatenation IE numbers parts in one octet. */
export const MAX_PARTS = 255;

export interface TextPlan {
  encoding: TextEncoding;
  /** Per part: septet values (gsm7) or UTF-16 code units (ucs2). */
  segments: number[][];
  /** Septets or UTF-16 units in the whole text. */
  units: number;
}

/** How a text will go out: its encoding, how many parts, and its size in septets or UCS2 units. */
export function planText(text: string): { encoding: TextEncoding; parts: number; units: number } {
  const p = segmentText(text);
  return { encoding: p.encoding, parts: p.segments.length, units: p.units };
}

export function segmentText(text: string): TextPlan {
  const plan = isGsm7(text) ? segmentGsm7(text) : segmentUcs2(text);
  if (plan.segments.length > MAX_PARTS)
    throw new MfaError(
      `text needs ${plan.segments.length} SMS parts; at most ${MAX_PARTS} can be concatenated`,
      ErrorCode.SmsEncodingFailed,
      { field: 'text' },
    );
  return plan;
}

function segmentGsm7(text: string): TextPlan {
  const chars: number[][] = [];
  let units = 0;
  for (let i = 0; i < text.length; i++) {
    const s = gsm7CharSeptets(text.charAt(i)) ?? [];
    chars.push(s);
    units += s.length;
  }
  if (units <= SINGLE_GSM7_SEPTETS) return { encoding: 'gsm7', segments: [chars.flat()], units };
  return { encoding: 'gsm7', segments: fill(chars, CONCAT_GSM7_SEPTETS), units };
}

function segmentUcs2(text: string): TextPlan {
  const chars: number[][] = [];
  for (let i = 0; i < text.length; i++) {
    const u = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    // A high surrogate followed by a low one is one character; a lone surrogate goes as is.
    if (u >= 0xd800 && u <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      chars.push([u, next]);
      i++;
    } else chars.push([u]);
  }
  const units = text.length;
  if (units <= SINGLE_UCS2_UNITS) return { encoding: 'ucs2', segments: [chars.flat()], units };
  return { encoding: 'ucs2', segments: fill(chars, CONCAT_UCS2_UNITS), units };
}

/** Greedy fill: a character that does not fit whole starts the next part. */
function fill(chars: number[][], capacity: number): number[][] {
  const parts: number[][] = [];
  let cur: number[] = [];
  for (const c of chars) {
    if (cur.length + c.length > capacity) {
      parts.push(cur);
      cur = [];
    }
    cur.push(...c);
  }
  if (cur.length > 0 || parts.length === 0) parts.push(cur);
  return parts;
}
