/**
 * The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1, §6.2.1.1).
 * Pure. A character outside both tables makes the message UCS2; we never substitute look-alikes,
 * because a passcode or a name that arrives altered is worse than one that costs more parts.
 */

/** The default alphabet, indexed by septet value. 0x1B is the escape to the extension table. */
const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';

/** Extension table: septet after 0x1B → character. */
const EXTENSION: ReadonlyArray<readonly [number, string]> = [
  [0x0a, '\f'],
  [0x14, '^'],
  [0x28, '{'],
  [0x29, '}'],
  [0x2f, '\\'],
  [0x3c, '['],
  [0x3d, '~'],
  [0x3e, ']'],
  [0x40, '|'],
  [0x65, '€'],
];

export const GSM7_ESCAPE = 0x1b;

const BASIC_CODE = new Map<string, number>();
for (let i = 0; i < BASIC.length; i++) if (i !== GSM7_ESCAPE) BASIC_CODE.set(BASIC.charAt(i), i);
const EXT_CODE = new Map<string, number>(EXTENSION.map(([code, ch]) => [ch, code]));
const EXT_CHAR = new Map<number, string>(EXTENSION);

if (BASIC.length !== 128) throw new Error(`GSM 7-bit table has ${BASIC.length} entries, expected 128`);

/** Every character of the default alphabet (without the escape), for tests and documentation. */
export const GSM7_BASIC_CHARS: readonly string[] = [...BASIC_CODE.keys()];
/** Every character of the extension table. */
export const GSM7_EXTENSION_CHARS: readonly string[] = EXTENSION.map(([, ch]) => ch);

/** Septets of one character: 1 for the default table, 2 (escape + code) for the extension table. */
export function gsm7CharSeptets(ch: string): number[] | undefined {
  const basic = BASIC_CODE.get(ch);
  if (basic !== undefined) return [basic];
  const ext = EXT_CODE.get(ch);
  if (ext !== undefined) return [GSM7_ESCAPE, ext];
  return undefined;
}

/** True when every character has a GSM 7-bit code. Iterates UTF-16 units: no astral char is GSM. */
export function isGsm7(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i);
    if (!BASIC_CODE.has(ch) && !EXT_CODE.has(ch)) return false;
  }
  return true;
}

/** Text → septet values; undefined when some character has no GSM 7-bit code. */
export function gsm7Encode(text: string): number[] | undefined {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const s = gsm7CharSeptets(text.charAt(i));
    if (s === undefined) return undefined;
    out.push(...s);
  }
  return out;
}

/**
 * Septet values → text. An escape followed by a code the extension table lacks shows the
 * default-table character (TS 23.038 §6.2.1.1); a trailing lone escape is dropped.
 */
export function gsm7Decode(septets: readonly number[]): string {
  let out = '';
  for (let i = 0; i < septets.length; i++) {
    const s = (septets[i] ?? 0) & 0x7f;
    if (s === GSM7_ESCAPE) {
      const next = septets[i + 1];
      if (next === undefined) break;
      i++;
      out += EXT_CHAR.get(next & 0x7f) ?? (next === GSM7_ESCAPE ? ' ' : BASIC.charAt(next & 0x7f));
    } else out += BASIC.charAt(s);
  }
  return out;
}

/**
 * Packs septets LSB first into octets (TS 23.038 §6.1.2.1.1). `fillBits` (0–6) zero bits come
 * first, so the first septet starts on a septet boundary after a User Data Header.
 */
export function packSeptets(septets: readonly number[], fillBits = 0): Uint8Array {
  const totalBits = fillBits + septets.length * 7;
  const out = new Uint8Array(Math.ceil(totalBits / 8));
  let bit = fillBits;
  for (const s of septets) {
    const v = s & 0x7f;
    const byte = bit >> 3;
    const shift = bit & 7;
    out[byte] = (out[byte] ?? 0) | ((v << shift) & 0xff);
    if (shift > 1) out[byte + 1] = (out[byte + 1] ?? 0) | (v >> (8 - shift));
    bit += 7;
  }
  return out;
}

/** The inverse of packSeptets: reads `count` septets after `fillBits` bits. */
export function unpackSeptets(octets: Uint8Array, count: number, fillBits = 0): number[] {
  const out: number[] = [];
  let bit = fillBits;
  for (let i = 0; i < count; i++) {
    const byte = bit >> 3;
    const shift = bit & 7;
    let v = (octets[byte] ?? 0) >> shift;
    if (shift > 1) v |= (octets[byte + 1] ?? 0) << (8 - shift);
    out.push(v & 0x7f);
    bit += 7;
  }
  return out;
}
