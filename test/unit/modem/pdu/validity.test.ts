import { describe, expect, it } from 'vitest';
import { secondsToVp, vpToSeconds } from '../../../../firmware/src/modem/pdu/index.ts';

const MIN = 60;
const H = 3600;
const D = 86_400;
const W = 7 * D;

describe('TP-VP relative format (TS 23.040 §9.2.3.12.1)', () => {
  it('maps the boundary codes of each range', () => {
    expect(vpToSeconds(0)).toBe(5 * MIN);
    expect(vpToSeconds(143)).toBe(12 * H);
    expect(vpToSeconds(144)).toBe(12 * H + 30 * MIN);
    expect(vpToSeconds(167)).toBe(24 * H);
    expect(vpToSeconds(168)).toBe(2 * D);
    expect(vpToSeconds(196)).toBe(30 * D);
    expect(vpToSeconds(197)).toBe(5 * W);
    expect(vpToSeconds(255)).toBe(63 * W);
  });

  it('is strictly increasing over all 256 codes', () => {
    for (let v = 1; v < 256; v++) expect(vpToSeconds(v)).toBeGreaterThan(vpToSeconds(v - 1));
  });

  it('inverts every representable duration exactly', () => {
    for (let v = 0; v < 256; v++) expect(secondsToVp(vpToSeconds(v))).toBe(v);
  });

  it('rounds down, never letting a code outlive the passcode', () => {
    expect(secondsToVp(599)).toBe(0); // 5 min
    expect(secondsToVp(600)).toBe(1); // 10 min
    expect(secondsToVp(12 * H + 29 * MIN)).toBe(143);
    expect(secondsToVp(47 * H)).toBe(167);
    expect(secondsToVp(34 * D)).toBe(196);
    for (let s = 300; s < 70 * W; s += 7919) expect(vpToSeconds(secondsToVp(s))).toBeLessThanOrEqual(s);
  });

  it('clamps below the 5-minute minimum and above 63 weeks', () => {
    expect(secondsToVp(0)).toBe(0);
    expect(secondsToVp(120)).toBe(0);
    expect(secondsToVp(100 * W)).toBe(255);
    expect(secondsToVp(Number.NaN)).toBe(0);
  });
});
