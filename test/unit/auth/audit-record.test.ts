import { describe, expect, it } from 'vitest';
import { auditRecordOf } from '../../../firmware/src/auth/audit-record.ts';
import { ErrorCode } from '../../../firmware/src/errors.ts';

describe('auditRecordOf', () => {
  it('maps a decision, naming the error code and keeping only present fields', () => {
    expect(
      auditRecordOf({
        at: 0,
        step: 'passcode',
        user: 'alice',
        client: 'netscaler',
        outcome: 'reject',
        reason: 'passcode-exhausted',
        code: ErrorCode.AuthPasscodeExhausted,
        challengeId: 'abc',
        to: '******0001',
        triesLeft: 0,
      }),
    ).toEqual({
      kind: 'auth',
      user: 'alice',
      client: 'netscaler',
      outcome: 'reject',
      reason: 'passcode-exhausted',
      detail: {
        step: 'passcode',
        code: 'AuthPasscodeExhausted',
        challengeId: 'abc',
        to: '******0001',
        triesLeft: 0,
      },
    });
    expect(
      auditRecordOf({
        at: 0,
        step: 'password',
        user: 'bob',
        client: 'ns',
        outcome: 'accept',
        reason: 'policy-accept',
        rule: 'trusted-network',
        clientIp: '10.0.0.1',
        callingStationId: '10.0.0.1:4000',
        detail: 'from trusted 10.0.0.1',
      }).detail,
    ).toEqual({
      step: 'password',
      rule: 'trusted-network',
      clientIp: '10.0.0.1',
      callingStationId: '10.0.0.1:4000',
      detail: 'from trusted 10.0.0.1',
    });
  });
});
