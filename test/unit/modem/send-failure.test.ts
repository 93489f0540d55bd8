import { describe, expect, it } from 'vitest';
import { ErrorCode, MfaError } from '../../../firmware/src/errors.ts';
import {
  fromChannelError,
  nextStep,
  sendFailure,
  sendFailureOf,
  type SendFailureClass,
} from '../../../firmware/src/modem/send-failure.ts';

describe('send failures', () => {
  const cases: [SendFailureClass, ErrorCode, boolean, boolean][] = [
    ['retryable', ErrorCode.SmsRetryable, true, false],
    ['unknown', ErrorCode.SmsUnknown, false, false],
    ['permanent', ErrorCode.SmsPermanent, false, false],
    ['sim', ErrorCode.SmsSimFailure, false, false],
    ['outcome-unknown', ErrorCode.SmsUnknown, false, true],
    ['expired', ErrorCode.SmsExpired, false, false],
    ['no-modem', ErrorCode.SmsNoModem, true, false],
  ];

  it.each(cases)(
    '%s is the one MfaError class, with its code, flags and class carried once',
    (cls, code, retry, unknown) => {
      const e = sendFailure(cls, 'CMS 512');
      expect(Object.getPrototypeOf(e)).toBe(MfaError.prototype);
      expect(e.code).toBe(code);
      expect(e.flags.retryable).toBe(retry);
      expect(e.flags.outcomeUnknown).toBe(unknown);
      expect(sendFailureOf(e)).toEqual({ class: cls, reason: 'CMS 512' });
    },
  );

  it('anything that is not a classified send failure has no class', () => {
    expect(sendFailureOf(new MfaError('timeout', ErrorCode.ModemTimeout))).toBeUndefined();
    expect(sendFailureOf(new Error('x'))).toBeUndefined();
    expect(nextStep(undefined, 1)).toBe('give-up');
  });

  it('a channel error becomes retryable before Ctrl-Z and an unknown outcome after it', () => {
    const before = fromChannelError('m1', new MfaError('no answer', ErrorCode.ModemTimeout));
    expect(sendFailureOf(before)?.class).toBe('retryable');
    const after = fromChannelError(
      'm1',
      new MfaError('no answer', ErrorCode.ModemTimeout, { flags: { outcomeUnknown: true } }),
    );
    expect(sendFailureOf(after)?.class).toBe('outcome-unknown');
    expect((after as MfaError).message).toMatch(/may have gone/);
    const classified = sendFailure('permanent', 'bad number');
    expect(fromChannelError('m1', classified)).toBe(classified);
  });
});
