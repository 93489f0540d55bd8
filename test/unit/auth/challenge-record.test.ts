import { describe, expect, it } from 'vitest';
import { newChallengeRecord } from '../../../firmware/src/auth/challenge-record.ts';
import { hashPasscode, newSalt, verifyPasscode } from '../../../firmware/src/auth/passcode.ts';
import { FakeClock, SeededRandom } from './doubles.ts';

const subject = { userKey: 'alice', login: 'alice@corp', groups: ['vpn'] };
const passcode = { ttlSeconds: 300, maxAttempts: 3 };
const client = { name: 'gw1' };

describe('newChallengeRecord (one builder for every method)', () => {
  it('fills the shared fields from the subject, client, request and passcode limits', () => {
    const clock = new FakeClock();
    const random = new SeededRandom();
    const key = Buffer.alloc(32, 7);
    const salt = newSalt(random);
    const route = {
      method: 'sms' as const,
      chain: ['sms', 'email'] as const,
      step: 0,
      numbers: { primary: '+15550000001' },
      email: 'alice@example.com',
    };
    const r = newChallengeRecord(
      { random, clock },
      passcode,
      subject,
      route,
      client,
      { callingStationId: '203.0.113.9' },
      {
        stateHex: 'aa'.repeat(16),
        to: '+15550000001',
        passcode: { hash: hashPasscode('123456', salt, key), salt },
      },
    );
    expect(r).toMatchObject({
      user: 'alice',
      login: 'alice@corp',
      stateIds: ['aa'.repeat(16)],
      salt: salt.toString('hex'),
      expiresAt: clock.now() + 300_000,
      createdAt: clock.now(),
      attempts: 0,
      maxAttempts: 3,
      nas: 'gw1',
      callingStationId: '203.0.113.9',
      to: '+15550000001',
      groups: ['vpn'],
      used: false,
      method: 'sms',
      chain: ['sms', 'email'],
      step: 0,
      numbers: { primary: '+15550000001' },
      email: 'alice@example.com',
    });
    expect(r.id).toMatch(/^[0-9a-f]{32}$/);
    expect(verifyPasscode('123456', { hash: r.passcodeHash, salt: r.salt }, key)).toBe(true);
    expect(verifyPasscode('123457', { hash: r.passcodeHash, salt: r.salt }, key)).toBe(false);
    // Copies, so a later change to the caller's arrays cannot alter a stored record.
    expect(r.groups).not.toBe(subject.groups);
    expect(r.chain).not.toBe(route.chain);
  });

  it('leaves a token or override challenge without a passcode, and a request without Calling-Station-Id without one', () => {
    const r = newChallengeRecord(
      { random: new SeededRandom(), clock: new FakeClock() },
      passcode,
      subject,
      { method: 'token', chain: ['token'], step: 0, numbers: {} },
      client,
      {},
      { stateHex: 'bb'.repeat(16), to: '' },
    );
    expect(r.passcodeHash).toBe('');
    expect(r.salt).toBe('');
    expect(r.to).toBe('');
    expect(verifyPasscode('', { hash: r.passcodeHash, salt: r.salt }, Buffer.alloc(32, 7))).toBe(false);
    expect('callingStationId' in r).toBe(false);
    expect('email' in r).toBe(false);
  });

  it('makes a record without method or chain when no route is given (as records from before chains)', () => {
    const r = newChallengeRecord(
      { random: new SeededRandom(), clock: new FakeClock() },
      passcode,
      subject,
      undefined,
      client,
      {},
      { stateHex: 'cc'.repeat(16), to: '+15550000002' },
    );
    expect(r.method).toBeUndefined();
    expect(r.chain).toBeUndefined();
    expect(r.numbers).toBeUndefined();
  });
});
