/** Seeded random round trips: many texts, every mix of alphabets, every part boundary. */
import { describe, expect, it } from 'vitest';
import { isMfaError } from '../../../../firmware/src/errors.ts';
import {
  GSM7_BASIC_CHARS,
  GSM7_EXTENSION_CHARS,
  decodeSubmit,
  encodeSubmit,
  planText,
} from '../../../../firmware/src/modem/pdu/index.ts';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OTHER = ['ł', 'ż', 'Ж', 'ç', '中', '😀', '👍🏽', '\t', '`'];

describe('random round trips (seeded)', () => {
  it('decodes every part back to the text, within 140 octets of user data, never splitting a character', () => {
    const r = rng(20261129);
    for (let n = 0; n < 400; n++) {
      const len = Math.floor(r() * 420);
      const unicode = r() < 0.3;
      let text = '';
      for (let i = 0; i < len; i++) {
        const x = r();
        if (unicode && x < 0.1) text += OTHER[Math.floor(r() * OTHER.length)];
        else if (x < 0.2) text += GSM7_EXTENSION_CHARS[Math.floor(r() * GSM7_EXTENSION_CHARS.length)];
        else text += GSM7_BASIC_CHARS[Math.floor(r() * GSM7_BASIC_CHARS.length)];
      }
      const parts = encodeSubmit({ to: '+4915112345678', text, validitySeconds: r() * 90_000 });
      expect(parts).toHaveLength(planText(text).parts);
      const decoded = parts.map((p) => decodeSubmit(p.hex));
      for (const d of decoded) {
        // Header: FO, MR, DA (2 + 7 for 13 digits), PID, DCS, VP, UDL = 15 octets; the rest is TP-UD.
        expect(d.tpduLength - 15).toBeLessThanOrEqual(140);
        expect(/[\uD800-\uDBFF]$/.test(d.text)).toBe(false);
        if (parts.length > 1) expect(d.concat?.total).toBe(parts.length);
      }
      expect(decoded.map((d) => d.text).join(''), JSON.stringify(text)).toBe(text);
    }
  });

  it('throws only coded errors on random bytes', () => {
    const r = rng(7);
    for (let n = 0; n < 2000; n++) {
      const bytes = Array.from({ length: Math.floor(r() * 60) }, () => Math.floor(r() * 256));
      const hex = bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
      try {
        decodeSubmit(hex);
      } catch (e) {
        expect(isMfaError(e), hex).toBe(true);
      }
    }
  });
});
