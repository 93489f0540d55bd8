import { describe, expect, it } from 'vitest';
import { ErrorCode, isMfaError } from '../../../../firmware/src/errors.ts';
import {
  decodeSubmit,
  encodeAddress,
  encodeSubmit,
  planText,
  type PduPart,
} from '../../../../firmware/src/modem/pdu/index.ts';

const TO = '+15550000001';

function octet(part: PduPart, index: number): number {
  // index counts TPDU octets; the hex starts with the 00 SMSC octet.
  return parseInt(part.hex.slice(2 + index * 2, 4 + index * 2), 16);
}

function roundTrip(text: string): string {
  return encodeSubmit({ to: TO, text })
    .map((p) => decodeSubmit(p.hex).text)
    .join('');
}

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (e) {
    return isMfaError(e) ? e.code : undefined;
  }
  return undefined;
}

describe('address field (TS 23.040 §9.1.2.5)', () => {
  it('encodes an international number with TON 0x91 and an F fill', () => {
    expect(encodeAddress('+15550000001')).toEqual([11, 0x91, 0x51, 0x55, 0x00, 0x00, 0x00, 0xf1]);
  });

  it('encodes a national number with 0x81 and no fill for an even count', () => {
    expect(encodeAddress('01511234')).toEqual([8, 0x81, 0x10, 0x15, 0x21, 0x43]);
  });

  it('refuses letters, spaces, an empty number and more than 20 digits', () => {
    for (const bad of ['', '+', '+1 555', 'abc', '+1555x', '1'.repeat(21)])
      expect(
        codeOf(() => encodeSubmit({ to: bad, text: 'x' })),
        bad,
      ).toBe(ErrorCode.SmsInvalidNumber);
  });
});

describe('SMS-SUBMIT encoding (TS 23.040 §9.2.2.2)', () => {
  it('encodes a plain message byte for byte', () => {
    const [p] = encodeSubmit({ to: TO, text: 'hello' });
    expect(p).toEqual({ hex: '0001000B915155000000F1000005E8329BFD06', tpduLength: 18 });
  });

  it('sets TP-MR 0, TP-PID 0 and announces the TPDU length without the SMSC octet', () => {
    const [p] = encodeSubmit({ to: TO, text: 'hi' });
    expect(p?.hex.length).toBe(2 + (p?.tpduLength ?? 0) * 2);
    expect(octet(p!, 1)).toBe(0); // MR
    expect(octet(p!, 10)).toBe(0); // PID after FO, MR and the 8-octet DA
  });

  it('sets the flash class 0 and TP-SRR bits only when asked', () => {
    const plain = encodeSubmit({ to: TO, text: 'hi' })[0]!;
    const both = encodeSubmit({ to: TO, text: 'hi', flash: true, statusReport: true })[0]!;
    expect(octet(plain, 0)).toBe(0x01);
    expect(octet(both, 0)).toBe(0x21);
    expect(octet(plain, 11)).toBe(0x00);
    expect(octet(both, 11)).toBe(0x10);
    const ucs = encodeSubmit({ to: TO, text: 'ł', flash: true })[0]!;
    expect(octet(ucs, 11)).toBe(0x18);
    const d = decodeSubmit(both.hex);
    expect(d.flash).toBe(true);
    expect(d.statusReport).toBe(true);
  });

  it('adds TP-VPF relative and a rounded-down TP-VP when a validity is given', () => {
    const p = encodeSubmit({ to: TO, text: 'hi', validitySeconds: 900 })[0]!;
    expect(octet(p, 0)).toBe(0x11);
    expect(octet(p, 12)).toBe(2); // (2+1)*5 min = 15 min
    expect(decodeSubmit(p.hex).validitySeconds).toBe(900);
    expect(
      decodeSubmit(encodeSubmit({ to: TO, text: 'hi', validitySeconds: 899 })[0]!.hex).validitySeconds,
    ).toBe(600);
  });

  it('rejects a bad validity and a bad concatenation reference', () => {
    expect(codeOf(() => encodeSubmit({ to: TO, text: 'x', validitySeconds: -1 }))).toBe(
      ErrorCode.SmsEncodingFailed,
    );
    expect(codeOf(() => encodeSubmit({ to: TO, text: 'x'.repeat(200), concatRef: 256 }))).toBe(
      ErrorCode.SmsEncodingFailed,
    );
  });

  it('round-trips an empty text as one part', () => {
    const parts = encodeSubmit({ to: TO, text: '' });
    expect(parts).toHaveLength(1);
    expect(decodeSubmit(parts[0]!.hex).text).toBe('');
  });
});

describe('concatenation boundaries (TS 23.040 §9.2.3.24.1)', () => {
  it.each([
    [7, 1],
    [8, 1],
    [153, 1],
    [160, 1],
    [161, 2],
    [306, 2],
    [307, 3],
  ])('%i GSM septets make %i part(s)', (n, parts) => {
    const text = 'a'.repeat(n);
    expect(planText(text)).toEqual({ encoding: 'gsm7', parts, units: n });
    const pdus = encodeSubmit({ to: TO, text, concatRef: 7 });
    expect(pdus).toHaveLength(parts);
    expect(roundTrip(text)).toBe(text);
    for (const p of pdus) expect(p.tpduLength).toBeLessThanOrEqual(13 + 140);
  });

  it('fills a concatenated part with exactly 153 septets + the UDH, 140 octets of user data', () => {
    const pdus = encodeSubmit({ to: TO, text: 'b'.repeat(161), concatRef: 0x42 });
    const first = decodeSubmit(pdus[0]!.hex);
    expect(first.text).toHaveLength(153);
    expect(first.concat).toEqual({ ref: 0x42, total: 2, seq: 1 });
    expect(decodeSubmit(pdus[1]!.hex).concat).toEqual({ ref: 0x42, total: 2, seq: 2 });
    expect(octet(pdus[0]!, 12)).toBe(160); // UDL in septets: 7 for the UDH + 153
    expect(pdus[0]!.tpduLength).toBe(13 + 140);
    expect(octet(pdus[0]!, 0) & 0x40).toBe(0x40); // UDHI
    expect(pdus[0]!.hex.slice(28, 40)).toBe('050003420201');
  });

  it('counts an extension character as two septets and never splits it across parts', () => {
    expect(planText('€'.repeat(80))).toEqual({ encoding: 'gsm7', parts: 1, units: 160 });
    expect(planText('€'.repeat(81)).parts).toBe(2);
    // 152 plain + "€" would need septets 153 and 154: the euro must move whole to part 2.
    const text = `${'c'.repeat(152)}€${'t'.repeat(20)}`;
    const pdus = encodeSubmit({ to: TO, text });
    const first = decodeSubmit(pdus[0]!.hex).text;
    expect(first).toBe('c'.repeat(152));
    expect(decodeSubmit(pdus[1]!.hex).text).toBe(`€${'t'.repeat(20)}`);
  });

  it.each([
    [70, 1],
    [71, 2],
    [134, 2],
    [135, 3],
  ])('%i UCS2 units make %i part(s)', (n, parts) => {
    const text = 'ł'.repeat(n);
    expect(planText(text)).toEqual({ encoding: 'ucs2', parts, units: n });
    expect(encodeSubmit({ to: TO, text })).toHaveLength(parts);
    expect(roundTrip(text)).toBe(text);
  });

  it('never splits a surrogate pair across parts', () => {
    // 66 units, then an emoji whose halves would be units 67 and 68.
    const text = `${'ż'.repeat(66)}😀${'ż'.repeat(10)}`;
    const pdus = encodeSubmit({ to: TO, text });
    const parts = pdus.map((p) => decodeSubmit(p.hex).text);
    expect(parts[0]).toBe('ż'.repeat(66));
    expect(parts[1]?.startsWith('😀')).toBe(true);
    expect(parts.join('')).toBe(text);
  });

  it('switches the whole message to UCS2 for one non-GSM character', () => {
    expect(planText(`Your code is 123456 ${'😀'}`).encoding).toBe('ucs2');
    expect(planText('Your code is 123456 [€]').encoding).toBe('gsm7');
  });

  it('refuses more than 255 parts', () => {
    expect(codeOf(() => encodeSubmit({ to: TO, text: 'a'.repeat(153 * 256) }))).toBe(
      ErrorCode.SmsEncodingFailed,
    );
  });

  it('derives a stable concatenation reference when none is given', () => {
    const a = encodeSubmit({ to: TO, text: 'x'.repeat(200) });
    const b = encodeSubmit({ to: TO, text: 'x'.repeat(200) });
    expect(a).toEqual(b);
  });
});

describe('decodeSubmit', () => {
  it('reads the PDU with or without the SMSC field', () => {
    const [p] = encodeSubmit({ to: TO, text: 'Grüße ~ {ok}' });
    expect(decodeSubmit(p!.hex).text).toBe('Grüße ~ {ok}');
    expect(decodeSubmit(p!.hex.slice(2)).text).toBe('Grüße ~ {ok}');
    expect(decodeSubmit(p!.hex.slice(2), { hasSmsc: false }).smsc).toBeUndefined();
    expect(decodeSubmit(p!.hex, { hasSmsc: true }).tpduLength).toBe(p!.tpduLength);
  });

  it('reads an SMSC number, a 16-bit concatenation IE and 8-bit data', () => {
    // SMSC +4917, UDHI, DA 4 digits, DCS 8-bit, UDL 8: UDH 06 08 04 12 34 03 01 then 0xAB.
    const hex = '039194714100048121430004080608041234030' + '1AB';
    const d = decodeSubmit(hex);
    expect(d.smsc).toBe('+4917');
    expect(d.to).toBe('1234');
    expect(d.encoding).toBe('8bit');
    expect(d.concat).toEqual({ ref: 0x1234, total: 3, seq: 1 });
    expect(d.text).toBe('AB');
  });

  it('reads an alphanumeric address (TON 101)', () => {
    // DA: 7 semi-octets, TOA 0xD0, "Test" in packed GSM 7-bit; then PID, DCS, UDL 1, "a".
    expect(decodeSubmit('00010007D0D4F29C0E00000161').to).toBe('Test');
  });

  it('throws a coded error on garbage, truncation and other message types', () => {
    const [p] = encodeSubmit({ to: TO, text: 'hello' });
    for (const bad of ['zz', '0', p!.hex.slice(0, -2), `${p!.hex}00`, '0004'])
      expect(
        codeOf(() => decodeSubmit(bad)),
        bad,
      ).toBe(ErrorCode.SmsEncodingFailed);
  });
});
