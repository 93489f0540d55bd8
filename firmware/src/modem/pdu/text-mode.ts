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

export function encodeTextModeBody(text: string): TextModeBody {
  if (/^[\x20-\x7e\r\n]*$/.test(text)) return { charset: 'IRA', body: text, dcs: 0 };
  let hex = '';
  for (let i = 0; i < text.length; i++) hex += text.charCodeAt(i).toString(16).padStart(4, '0');
  return { charset: 'UCS2', body: hex.toUpperCase(), dcs: 8 };
}

export function decodeTextModeBody(body: string, charset: string): string {
  if (charset.toUpperCase() !== 'UCS2') return body;
  let out = '';
  for (let i = 0; i + 3 < body.length; i += 4) out += String.fromCharCode(parseInt(body.slice(i, i + 4), 16));
  return out;
}
