/** TP-DCS (TS 23.038 §4): alphabet and message class. Pure. */
export type Alphabet = 'gsm7' | '8bit' | 'ucs2';

export function encodeDcs(alphabet: Alphabet, flash: boolean): number {
  const a = alphabet === 'gsm7' ? 0x00 : alphabet === '8bit' ? 0x04 : 0x08;
  // 0x10: "bits 1..0 have a message class meaning"; class 0 (flash) is 00 in bits 1..0.
  return flash ? a | 0x10 : a;
}

export interface DcsInfo {
  alphabet: Alphabet;
  /** 0–3 when the DCS carries a message class. */
  messageClass?: number;
  compressed: boolean;
}

export function decodeDcs(dcs: number): DcsInfo {
  const group = dcs >> 4;
  if (group <= 0x7) {
    // General data coding (00xx) and automatic deletion (01xx) share the layout.
    const bits = (dcs >> 2) & 0x03;
    const alphabet: Alphabet = bits === 1 ? '8bit' : bits === 2 ? 'ucs2' : 'gsm7';
    return {
      alphabet,
      compressed: (dcs & 0x20) !== 0,
      ...((dcs & 0x10) !== 0 ? { messageClass: dcs & 0x03 } : {}),
    };
  }
  if (group === 0xf)
    return { alphabet: (dcs & 0x04) !== 0 ? '8bit' : 'gsm7', messageClass: dcs & 0x03, compressed: false };
  if (group === 0xe) return { alphabet: 'ucs2', compressed: false };
  // 1100/1101 message waiting indication (GSM 7-bit); 1000–1011 reserved, read as GSM 7-bit.
  return { alphabet: 'gsm7', compressed: false };
}
