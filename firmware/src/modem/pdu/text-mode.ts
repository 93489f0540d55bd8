/**
 * Text mode (AT+CMGF=1) bodies, for modems without PDU mode. Pure.
 *
 * In text mode the modem, not us, encodes the message, and the bytes we type are read in the
 * TE character set (+CSCS). Ctrl-Z (0x1A) ends the text and ESC (0x1B) cancels it, so a GSM-set
 * body cannot carry Ξ or the extension table. We therefore type plain IRA (ASCII) when the text is
 * printable ASCII, and otherwise switch the modem to "UCS2" (hex of UTF-16BE) with DCS 8.
 */
export type TextModeCharset = 'IRA' | 'UCS2';

export interface TextModeBody {
  charset: TextModeCharset;
  /** What to write after the `> ` prompt, before Ctrl-Z. */
  body: string;
  /** The +CSMP <dcs> to set: 0 (GSM 7-bit) or 8 (UCS2). */
  dcs: number;
}

/** Text mode has no concatenation: each chunk goes as its own SMS of at most this many characters. */
const IRA_PER_SMS = 160;
/** UTF-16 code units per UCS2 SMS (140 octets). */
const UCS2_PER_SMS = 70;

/** The one UCS-2 hex encoder: UTF-16BE code units, 4 upper-case hex digits each. */
export function ucs2Hex(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += s.charCodeAt(i).toString(16).padStart(4, '0');
  return out.toUpperCase();
}

export function encodeTextModeBody(text: string): TextModeBody {
  if (/^[\x20-\x7e\r\n]*$/.test(text)) return { charset: 'IRA', body: text, dcs: 0 };
  return { charset: 'UCS2', body: ucs2Hex(text), dcs: 8 };
}

export function decodeTextModeBody(body: string, charset: string): string {
  if (charset.toUpperCase() !== 'UCS2') return body;
  let out = '';
  for (let i = 0; i + 3 < body.length; i += 4) out += String.fromCharCode(parseInt(body.slice(i, i + 4), 16));
  return out;
}

export interface TextModeMessage {
  charset: TextModeCharset;
  dcs: number;
  /** The AT+CMGS destination in the charset the modem reads it in (+CSCS applies to it too). */
  da: string;
  /** 145 international (leading +), 129 otherwise. */
  toa: number;
  /** One body per SMS. */
  bodies: string[];
}

/**
 * The SMS a text-mode modem sends for one message: ≤160 ASCII or ≤70 UTF-16 units each. A chunk
 * never ends between the two halves of a surrogate pair (an emoji), which would reach the phone
 * as two broken characters.
 */
export function textModeMessage(to: string, text: string): TextModeMessage {
  const { charset, dcs } = encodeTextModeBody(text);
  const bodies: string[] = [];
  if (charset === 'IRA') {
    for (let i = 0; i < text.length; i += IRA_PER_SMS) bodies.push(text.slice(i, i + IRA_PER_SMS));
  } else {
    for (let i = 0; i < text.length;) {
      let end = Math.min(text.length, i + UCS2_PER_SMS);
      const last = text.charCodeAt(end - 1);
      if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
      bodies.push(ucs2Hex(text.slice(i, end)));
      i = end;
    }
  }
  return {
    charset,
    dcs,
    da: charset === 'UCS2' ? ucs2Hex(to) : to,
    toa: to.startsWith('+') ? 145 : 129,
    bodies,
  };
}
