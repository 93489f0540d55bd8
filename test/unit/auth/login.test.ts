import { describe, expect, it } from 'vitest';
import { normaliseLogin } from '../../../firmware/src/auth/login.ts';
import { accountName } from '../../../firmware/src/directory/demo.ts';

describe('normaliseLogin', () => {
  it.each([
    ['alice', { account: 'alice' }],
    ['  Alice ', { account: 'alice' }],
    ['DEMO\\alice', { account: 'alice', domain: 'DEMO' }],
    ['alice@demo.example', { account: 'alice', domain: 'demo.example' }],
    ['DEMO\\Alice@demo.example', { account: 'alice', domain: 'DEMO' }],
    ['a\\b\\carl', { account: 'carl', domain: 'a\\b' }],
    ['@demo', undefined],
    ['DEMO\\', undefined],
    ['', undefined],
    ['bad\u0007name', undefined],
    ['x'.repeat(257), undefined],
  ])('%j → %j', (input, want) => {
    expect(normaliseLogin(input)).toEqual(want);
  });

  it('agrees with the demo directory on every form', () => {
    for (const s of ['alice', 'DEMO\\Alice', 'alice@x', 'Bob@corp.example']) {
      expect(normaliseLogin(s)?.account).toBe(accountName(s));
    }
  });
});
