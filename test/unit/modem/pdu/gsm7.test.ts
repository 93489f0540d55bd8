import { describe, expect, it } from 'vitest';
import {
  GSM7_BASIC_CHARS,
  GSM7_EXTENSION_CHARS,
  gsm7Decode,
  gsm7Encode,
  isGsm7,
  packSeptets,
  unpackSeptets,
} from '../../../../firmware/src/modem/pdu/index.ts';
import { toHex } from '../../../../firmware/src/modem/pdu/bytes.ts';

describe('GSM 03.38 default alphabet (TS 23.038 §6.2.1)', () => {
  it('has 127 characters besides the escape, each with a distinct code', () => {
    expect(GSM7_BASIC_CHARS).toHaveLength(127);
    const codes = GSM7_BASIC_CHARS.map((c) => gsm7Encode(c)?.[0]);
    expect(new Set(codes).size).toBe(127);
    expect(codes).not.toContain(0x1b);
  });

  it('places the characters that differ from ASCII where the table puts them', () => {
    const table: Array<[string, number]> = [
      ['@', 0x00],
      ['£', 0x01],
      ['$', 0x02],
      ['¥', 0x03],
      ['è', 0x04],
      ['Ç', 0x09],
      ['\n', 0x0a],
      ['\r', 0x0d],
      ['Δ', 0x10],
      ['_', 0x11],
      ['Ξ', 0x1a],
      ['É', 0x1f],
      ['¤', 0x24],
      ['¡', 0x40],
      ['Ä', 0x5b],
      ['§', 0x5f],
      ['¿', 0x60],
      ['à', 0x7f],
      ['A', 0x41],
      ['z', 0x7a],
    ];
    for (const [ch, code] of table) expect(gsm7Encode(ch), ch).toEqual([code]);
  });

  it('round-trips every character of both tables one by one', () => {
    for (const ch of [...GSM7_BASIC_CHARS, ...GSM7_EXTENSION_CHARS]) {
      const s = gsm7Encode(ch);
      expect(s, ch).toBeDefined();
      expect(gsm7Decode(s ?? [])).toBe(ch);
    }
  });

  it('encodes extension characters as escape + code, two septets', () => {
    const ext: Array<[string, number]> = [
      ['\f', 0x0a],
      ['^', 0x14],
      ['{', 0x28],
      ['}', 0x29],
      ['\\', 0x2f],
      ['[', 0x3c],
      ['~', 0x3d],
      [']', 0x3e],
      ['|', 0x40],
      ['€', 0x65],
    ];
    expect(GSM7_EXTENSION_CHARS).toHaveLength(ext.length);
    for (const [ch, code] of ext) expect(gsm7Encode(ch), ch).toEqual([0x1b, code]);
  });

  it('refuses characters outside both tables instead of substituting', () => {
    for (const ch of ['`', 'ç', 'Α', '😀', 'ł', '\t', '\u001b']) {
      expect(isGsm7(ch), ch).toBe(false);
      expect(gsm7Encode(ch)).toBeUndefined();
    }
  });

  it('shows the default-table character for an unknown extension code, and drops a trailing escape', () => {
    expect(gsm7Decode([0x1b, 0x41])).toBe('A');
    expect(gsm7Decode([0x41, 0x1b])).toBe('A');
  });
});

describe('septet packing (TS 23.038 §6.1.2.1.1)', () => {
  it('packs "hellohello" to the textbook octets', () => {
    expect(toHex(packSeptets(gsm7Encode('hellohello') ?? []))).toBe('E8329BFD4697D9EC37');
  });

  it('packs 7 septets into 7 octets and 8 septets into 7 octets', () => {
    expect(packSeptets(new Array<number>(7).fill(0x7f))).toHaveLength(7);
    expect(packSeptets(new Array<number>(8).fill(0x7f))).toHaveLength(7);
    expect(toHex(packSeptets(new Array<number>(8).fill(0x7f)))).toBe('FFFFFFFFFFFFFF');
  });

  it('leaves the fill bits zero and round-trips at every fill and length', () => {
    for (let fill = 0; fill <= 6; fill++)
      for (const n of [0, 1, 7, 8, 9, 153, 160]) {
        const septets = Array.from({ length: n }, (_, i) => (i * 37 + fill) & 0x7f);
        const packed = packSeptets(septets, fill);
        expect(packed.length).toBe(Math.ceil((fill + 7 * n) / 8));
        if (n > 0) expect((packed[0] ?? 0) & ((1 << fill) - 1)).toBe(0);
        expect(unpackSeptets(packed, n, fill)).toEqual(septets);
      }
  });

  it('puts one fill bit before text that follows a 6-octet UDH', () => {
    // "A" (0x41) shifted left by one bit.
    expect(toHex(packSeptets([0x41], 1))).toBe('82');
  });
});
