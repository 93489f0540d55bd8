import { describe, expect, it } from 'vitest';
import { backoffMs, classifySendFailure } from '../../../firmware/src/dispatch/classify.ts';
import { ErrorCode, MfaError } from '../../../firmware/src/errors.ts';
import { sendFailure, type SendFailureClass } from '../../../firmware/src/modem/send-failure.ts';

const err = (code: ErrorCode, flags: MfaError['flags'] = {}) => new MfaError('x', code, { flags });
const sms = (cls: SendFailureClass) => sendFailure(cls, 'x');

describe('classifySendFailure', () => {
  it.each([
    ['retryable before submit (the pool retried it)', sms('retryable'), false, 'failed'],
    ['retryable flag before submit', err(ErrorCode.ModemBusy, { retryable: true }), false, 'failed'],
    ['retryable after submit (a definite CMS refusal)', sms('retryable'), true, 'failed'],
    ['no modem', sms('no-modem'), false, 'wait-modem'],
    ['outcome unknown', sms('outcome-unknown'), true, 'unknown'],
    [
      'outcome unknown flag on an unclassified error',
      err(ErrorCode.ModemBusy, { outcomeUnknown: true, retryable: true }),
      true,
      'unknown',
    ],
    ['timeout after submit without flags', err(ErrorCode.ModemTimeout), true, 'unknown'],
    ['non-MfaError after submit', new Error('EIO'), true, 'unknown'],
    ['non-MfaError before submit', new Error('EIO'), false, 'failed'],
    ['timeout before submit', err(ErrorCode.ModemTimeout), false, 'failed'],
    ['permanent', sms('permanent'), true, 'failed'],
    ['SIM failure', sms('sim'), false, 'failed'],
    ['bad number', err(ErrorCode.SmsInvalidNumber), false, 'failed'],
    ['CMS 500 (the pool tried it twice)', sms('unknown'), true, 'failed'],
    ['expired', sms('expired'), false, 'expired'],
    ['our submitting write failed at the prompt', err(ErrorCode.StoreWriteFailed), false, 'retry-own-write'],
    ['our write error after submit is not ours to retry', err(ErrorCode.StoreWriteFailed), true, 'unknown'],
  ] as const)('%s → %s', (_name, e, submitted, kind) => {
    expect(classifySendFailure(e, submitted).kind).toBe(kind);
  });

  it('names the code as the reason, never a message', () => {
    expect(classifySendFailure(sendFailure('permanent', '+CMS ERROR: 304 for +1555…'), false)).toEqual({
      kind: 'failed',
      reason: 'SmsPermanent',
    });
  });
});

describe('backoffMs', () => {
  it('doubles from the base and caps', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, 200, 5000))).toEqual([200, 400, 800, 1600, 3200, 5000]);
  });
});
