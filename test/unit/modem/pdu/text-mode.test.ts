import { describe, expect, it } from 'vitest';
import { decodeTextModeBody, encodeTextModeBody } from '../../../../firmware/src/modem/pdu/index.ts';

describe('text mode bodies (AT+CMGF=1)', () => {
  it('types printable ASCII as IRA with DCS 0', () => {
    expect(encodeTextModeBody('Your code is 123456')).toEqual({
      charset: 'IRA',
      body: 'Your code is 123456',
      dcs: 0,
    });
  });

  it('switches to UCS2 hex for anything else, including the Ctrl-Z and ESC a GSM-set body could not carry', () => {
    for (const text of ['Kod: ż', 'Ξ', '€ 5', 'a\u001bb', '😀']) {
      const b = encodeTextModeBody(text);
      expect(b.charset, text).toBe('UCS2');
      expect(b.dcs).toBe(8);
      expect(b.body).toMatch(/^([0-9A-F]{4})+$/);
      expect(b.body.includes('\x1a') || b.body.includes('\x1b')).toBe(false);
      expect(decodeTextModeBody(b.body, 'UCS2')).toBe(text);
    }
    expect(encodeTextModeBody('ż').body).toBe('017C');
  });

  it('leaves an IRA body as it is', () => {
    expect(decodeTextModeBody('017C', 'IRA')).toBe('017C');
  });
});
