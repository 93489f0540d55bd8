import { describe, expect, it } from 'vitest';
import { DeliveryTracker, failureClass, smsRecordOf } from '../../../firmware/src/audit/sms-hook.ts';

describe('SMS audit records', () => {
  it('maps outbox events to records with parts and a failure class', () => {
    expect(
      smsRecordOf({ status: 'queued', challengeId: 'c1', username: 'bob', to: '******0001' }, 5),
    ).toEqual({
      kind: 'sms',
      t: 5,
      event: 'queued',
      challengeId: 'c1',
      user: 'bob',
      to: '******0001',
    });
    expect(
      smsRecordOf({ status: 'resend', challengeId: 'c1', username: 'bob', to: '******0001' }, 6),
    ).toEqual({
      kind: 'sms',
      t: 6,
      event: 'resend',
      challengeId: 'c1',
      user: 'bob',
      to: '******0001',
      reason: 'unknown-outcome',
    });
    expect(
      smsRecordOf(
        { status: 'sent', challengeId: 'c1', to: '******0001', modem: 'm0', messageRefs: [7, 8] },
        9,
      ),
    ).toMatchObject({ event: 'sent', modem: 'm0', messageRefs: [7, 8], parts: 2, at: 9 });
    expect(
      smsRecordOf(
        { status: 'failed', challengeId: 'c1', to: '******0001', reason: 'SmsPermanent: CMS 38' },
        9,
      ),
    ).toMatchObject({
      event: 'failed',
      failureClass: 'permanent',
      code: 'SmsPermanent',
      reason: 'SmsPermanent: CMS 38',
    });
    expect(failureClass('outcome unknown: ModemTimeout', 'failed')).toBe('unknown-outcome');
    expect(failureClass('SmsSimFailure', 'failed')).toBe('sim');
    expect(failureClass('expired while queued', 'expired')).toBe('expired');
    expect(failureClass('text missing', 'failed')).toBe('other');
  });

  it('joins a status report to the passcode by modem and the last part’s reference, once', () => {
    const d = new DeliveryTracker(60_000, 2);
    d.noteSent(
      {
        status: 'sent',
        challengeId: 'c1',
        username: 'bob',
        to: '******0001',
        modem: 'm0',
        messageRefs: [3, 4],
      },
      0,
    );
    expect(d.recordFor({ modem: 'm1', messageReference: 4, delivered: true }, 10)).toBeUndefined();
    expect(
      d.recordFor({ modem: 'm0', messageReference: 4, delivered: true, outcome: 'delivered' }, 10),
    ).toMatchObject({
      kind: 'sms',
      event: 'delivered',
      challengeId: 'c1',
      user: 'bob',
      reason: 'delivered',
    });
    expect(d.recordFor({ modem: 'm0', messageReference: 4, delivered: true }, 11)).toBeUndefined();
    // Bounded: the oldest is forgotten beyond the capacity, and anything past the window.
    for (let i = 0; i < 3; i++)
      d.noteSent({ status: 'sent', challengeId: `x${i}`, to: '', modem: 'm0', messageRefs: [i] }, 100);
    expect(d.recordFor({ modem: 'm0', messageReference: 0, delivered: false }, 101)).toBeUndefined();
    expect(d.recordFor({ modem: 'm0', messageReference: 2, delivered: false }, 100_000)).toBeUndefined();
    expect(d.recordFor({ modem: 'm0', messageReference: 1, delivered: false }, 102)).toMatchObject({
      event: 'not-delivered',
      challengeId: 'x1',
    });
  });
});
