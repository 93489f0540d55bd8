import { describe, expect, it } from 'vitest';
import {
  decodeTextModeBody,
  encodeTextModeBody,
  textModeMessage,
  ucs2Hex,
} from '../../../../firmware/src/modem/pdu/index.ts';

describe('text mode bodies (AT+CMGF=1)', () => {
  it('types printable ASCII as IRA with DCS 0', () => {
    expect(encodeTextModeBody('Your code is 123456')).toEqual({
      charset: 'IRA',
      body: 'Your code is 123456',
      dcs: 0,
    });
  });

  it('switches to UCS2 hex for anything else, including the Ctrl-Z and ESC a GSM-set body could not carry', () => {
    // Exact bodies: an encoder that passed ESC through raw, or dropped a surrogate, fails here.
    const cases: [string, string][] = [
      ['Kod: ż', '004B006F0064003A0020017C'],
      ['Ξ', '039E'],
      ['€ 5', '20AC00200035'],
      ['a\u001bb', '0061001B0062'],
      ['x\u001a', '0078001A'],
      ['😀', 'D83DDE00'],
    ];
    for (const [text, hex] of cases) {
      expect(encodeTextModeBody(text), text).toEqual({ charset: 'UCS2', body: hex, dcs: 8 });
      // Independent of the line above: the round trip holds for any body, right or wrong.
      expect(decodeTextModeBody(hex, 'UCS2'), text).toBe(text);
    }
  });

  it('leaves an IRA body as it is', () => {
    expect(decodeTextModeBody('017C', 'IRA')).toBe('017C');
  });

  it('has one UCS-2 hex encoder, used for the destination too', () => {
    expect(ucs2Hex('+48')).toBe('002B00340038');
    expect(textModeMessage('+48600', 'Ξ')).toMatchObject({ da: '002B00340038003600300030', toa: 145 });
    expect(textModeMessage('600', 'hi')).toMatchObject({ da: '600', toa: 129, bodies: ['hi'] });
  });

  it('chunks ASCII at 160 characters per SMS', () => {
    const m = textModeMessage('+1555', 'a'.repeat(161));
    expect(m.bodies.map((b) => b.length)).toEqual([160, 1]);
  });

  it('never splits an emoji (a surrogate pair) across two SMS', () => {
    // 69 units, then an emoji whose halves would fall on units 70 and 71.
    const text = `${'ż'.repeat(69)}😀tail`;
    const m = textModeMessage('+1555', text);
    expect(m.bodies).toHaveLength(2);
    const parts = m.bodies.map((b) => decodeTextModeBody(b, 'UCS2'));
    expect(parts[0]).toBe('ż'.repeat(69));
    expect(parts[1]).toBe('😀tail');
    // A lone surrogate does not survive UTF-8: each SMS holds whole characters only.
    for (const p of parts) expect(Buffer.from(p, 'utf8').toString('utf8')).toBe(p);
    expect(parts.join('')).toBe(text);
    // And a chunk that ends exactly after a whole pair is left at 70 units.
    const exact = textModeMessage('+1555', `${'ż'.repeat(68)}😀${'ż'.repeat(3)}`);
    expect(exact.bodies.map((b) => b.length / 4)).toEqual([70, 3]);
  });
});
