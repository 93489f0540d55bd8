import { describe, expect, it } from 'vitest';
import { backoffMs, classifySendFailure } from '../../../firmware/src/dispatch/classify.ts';
import { ErrorCode, MfaError } from '../../../firmware/src/errors.ts';

const err = (code: ErrorCode, flags: MfaError['flags'] = {}) => new MfaError('x', code, { flags });

describe('classifySendFailure', () => {
  it.each([
    ['retryable code before submit', err(ErrorCode.SmsRetryable), false, 'retry'],
    ['retryable flag before submit', err(ErrorCode.ModemBusy, { retryable: true }), false, 'retry'],
    ['retryable code after submit (a definite CMS refusal)', err(ErrorCode.SmsRetryable), true, 'retry'],
    ['no modem', err(ErrorCode.SmsNoModem), false, 'retry'],
    [
      'outcome unknown flag',
      err(ErrorCode.SmsRetryable, { outcomeUnknown: true, retryable: true }),
      true,
      'unknown',
    ],
    ['timeout after submit without flags', err(ErrorCode.ModemTimeout), true, 'unknown'],
    ['non-MfaError after submit', new Error('EIO'), true, 'unknown'],
    ['non-MfaError before submit', new Error('EIO'), false, 'permanent'],
    ['timeout before submit', err(ErrorCode.ModemTimeout), false, 'permanent'],
    ['permanent', err(ErrorCode.SmsPermanent), true, 'permanent'],
    ['SIM failure', err(ErrorCode.SmsSimFailure), false, 'permanent'],
    ['bad number', err(ErrorCode.SmsInvalidNumber), false, 'permanent'],
    ['CMS 500', err(ErrorCode.SmsUnknown), true, 'retry-once'],
    ['expired', err(ErrorCode.SmsExpired), false, 'expired'],
    ['our submitting write failed at the prompt', err(ErrorCode.StoreWriteFailed), false, 'retry'],
  ] as const)('%s → %s', (_name, e, submitted, kind) => {
    expect(classifySendFailure(e, submitted).kind).toBe(kind);
  });

  it('names the code as the reason, never a message', () => {
    expect(
      classifySendFailure(new MfaError('+CMS ERROR: 304 for +1555…', ErrorCode.SmsPermanent), false),
    ).toEqual({
      kind: 'permanent',
      reason: 'SmsPermanent',
    });
  });
});

describe('backoffMs', () => {
  it('doubles from the base and caps', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, 200, 5000))).toEqual([200, 400, 800, 1600, 3200, 5000]);
  });
});
