import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../../firmware/src/errors.ts';
import {
  attemptsFor,
  classifyFinal,
  isSimBusy,
  smsErrorCode,
} from '../../../../firmware/src/modem/at/errors.ts';
import { parseFinal } from '../../../../firmware/src/modem/at/framer.ts';

function cls(line: string) {
  const f = parseFinal(line);
  if (!f || f.ok) throw new Error(`not an error final: ${line}`);
  return classifyFinal(f);
}

describe('classifyFinal', () => {
  it.each([38, 41, 42, 47, 111, 331, 332, 512, 314])('CMS %i is retryable', (n) => {
    expect(cls(`+CMS ERROR: ${n}`).class).toBe('retryable');
  });
  it.each([304, 305, 21, 28, 96, 97, 1, 330, 200])('CMS %i is permanent', (n) => {
    expect(cls(`+CMS ERROR: ${n}`).class).toBe('permanent');
  });
  it.each([310, 311, 312, 313, 315, 316, 317, 318])('CMS %i is a SIM failure', (n) => {
    expect(cls(`+CMS ERROR: ${n}`).class).toBe('sim');
  });
  it('CMS 500 and unlisted codes are unknown, retried once', () => {
    expect(cls('+CMS ERROR: 500').class).toBe('unknown');
    expect(cls('+CMS ERROR: 999').class).toBe('unknown');
    expect(attemptsFor('unknown')).toBe(2);
    expect(attemptsFor('retryable')).toBe(3);
    expect(attemptsFor('permanent')).toBe(1);
    expect(attemptsFor('sim')).toBe(1);
  });
  it('CME 14 (SIM busy) is retryable; CME SIM and bad-input codes are classified', () => {
    expect(cls('+CME ERROR: 14').class).toBe('retryable');
    expect(isSimBusy(cls('+CME ERROR: 14'))).toBe(true);
    expect(isSimBusy(cls('+CMS ERROR: 314'))).toBe(true);
    expect(isSimBusy(cls('+CMS ERROR: 38'))).toBe(false);
    expect(cls('+CME ERROR: 10').class).toBe('sim');
    expect(cls('+CME ERROR: 16').class).toBe('sim');
    expect(cls('+CME ERROR: 25').class).toBe('permanent');
    expect(cls('+CME ERROR: 30').class).toBe('retryable');
    expect(cls('+CME ERROR: 100').class).toBe('unknown');
  });
  it('word forms classify like their numbers', () => {
    expect(cls('+CME ERROR: SIM busy')).toMatchObject({ class: 'retryable', code: 14 });
    expect(cls('+CMS ERROR: SIM busy')).toMatchObject({ class: 'retryable', code: 314 });
    expect(cls('+CMS ERROR: Network timeout')).toMatchObject({ class: 'retryable', code: 332 });
    expect(cls('+CMS ERROR: Invalid PDU mode parameter')).toMatchObject({ class: 'permanent', code: 304 });
    expect(cls('+CME ERROR: SIM not inserted')).toMatchObject({ class: 'sim', code: 10 });
    expect(cls('+CMS ERROR: Unknown error')).toMatchObject({ class: 'unknown', code: 500 });
    expect(cls('+CMS ERROR: something new')).toMatchObject({ class: 'unknown' });
    expect(cls('+CMS ERROR: something new').code).toBeUndefined();
  });
  it('vendor and plain finals', () => {
    expect(cls('COMMAND NOT SUPPORT').class).toBe('permanent');
    expect(cls('TOO MANY PARAMETERS').class).toBe('permanent');
    expect(cls('ERROR').class).toBe('unknown');
    expect(cls('MODEM ERROR: 3')).toMatchObject({ class: 'unknown', code: 3 });
    expect(cls('NO CARRIER').class).toBe('unknown');
  });
  it('maps classes to SMS error codes', () => {
    expect(smsErrorCode('retryable')).toBe(ErrorCode.SmsRetryable);
    expect(smsErrorCode('permanent')).toBe(ErrorCode.SmsPermanent);
    expect(smsErrorCode('sim')).toBe(ErrorCode.SmsSimFailure);
    expect(smsErrorCode('unknown')).toBe(ErrorCode.SmsUnknown);
  });
});
