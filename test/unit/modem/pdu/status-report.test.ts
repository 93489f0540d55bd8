import { describe, expect, it } from 'vitest';
import { ErrorCode, isMfaError } from '../../../../firmware/src/errors.ts';
import {
  decodeStatusReport,
  encodeStatusReport,
  statusOutcome,
} from '../../../../firmware/src/modem/pdu/index.ts';

describe('SMS-STATUS-REPORT (TS 23.040 §9.2.2.3)', () => {
  it('round-trips reference, recipient, status and times', () => {
    const submittedAt = new Date(Date.UTC(2026, 10, 29, 5, 8, 3));
    const dischargedAt = new Date(Date.UTC(2026, 10, 29, 5, 8, 9));
    const r = encodeStatusReport({
      messageReference: 42,
      recipient: '+15550000001',
      status: 0,
      submittedAt,
      dischargedAt,
      smsc: '+4917',
    });
    expect(r.hex.startsWith('03919471')).toBe(true);
    expect(r.hex.length).toBe(8 + r.tpduLength * 2);
    const d = decodeStatusReport(r.hex);
    expect(d).toMatchObject({ messageReference: 42, recipient: '+15550000001', status: 0, delivered: true });
    expect(d.submittedAt.getTime()).toBe(submittedAt.getTime());
    expect(d.dischargedAt.getTime()).toBe(dischargedAt.getTime());
    expect(decodeStatusReport(r.hex.slice(8)).messageReference).toBe(42);
  });

  it('reads a zone offset in quarter hours with its sign bit', () => {
    // 2026-11-29 06:00:00 at +01:00 (4 quarters → "40") and at -01:00 ("48").
    const base = '00' + '06' + '01' + '0B915155000000F1';
    const plus = decodeStatusReport(`${base}62119260000040621192600000400000`, { hasSmsc: true });
    const minus = decodeStatusReport(`${base}62119260000048621192600000480000`, { hasSmsc: true });
    expect(plus.submittedAt.toISOString()).toBe('2026-11-29T05:00:00.000Z');
    expect(minus.submittedAt.toISOString()).toBe('2026-11-29T07:00:00.000Z');
  });

  it('classifies TP-ST', () => {
    expect(statusOutcome(0x00)).toBe('delivered');
    expect(statusOutcome(0x02)).toBe('delivered');
    expect(statusOutcome(0x20)).toBe('pending');
    expect(statusOutcome(0x41)).toBe('failed');
    expect(statusOutcome(0x60)).toBe('failed');
    const failed = encodeStatusReport({ messageReference: 1, recipient: '123', status: 0x41 });
    expect(decodeStatusReport(failed.hex).delivered).toBe(false);
  });

  it('refuses an SMS-SUBMIT', () => {
    let code: unknown;
    try {
      decodeStatusReport('0001000B915155000000F1000005E8329BFD06');
    } catch (e) {
      code = isMfaError(e) ? e.code : e;
    }
    expect(code).toBe(ErrorCode.SmsEncodingFailed);
  });
});
