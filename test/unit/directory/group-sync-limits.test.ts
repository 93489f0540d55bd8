/**
 * The group sync's member search may run long on a big AD (nested membership through
 * LDAP_MATCHING_RULE_IN_CHAIN on a busy DC). ldapts asks the DC for a 10 s timeLimit unless told
 * otherwise, so a DC answered "timeLimitExceeded" to a 1,100-member sync that our own 30 s page
 * budget would have allowed. The server-side limit must match the client-side budget.
 */
import { describe, expect, it } from 'vitest';
import { BASE, fakeDcFixture } from './fake-dc.ts';

const fixture = fakeDcFixture();

describe('group sync search limits', () => {
  it('asks the DC for as much time per member page as the box waits for it (not ldapts’ 10 s)', async () => {
    const dc = await fixture.dc();
    const d = await fixture.directory([dc], 2500);
    const names: string[] = [];
    for await (const u of d.listGroupMembers(`cn=MFA Users,ou=groups,${BASE}`)) names.push(u.username);
    expect(names).toEqual(['alice']);
    expect(dc.searchTimeLimits.length).toBeGreaterThan(0);
    expect(dc.searchTimeLimits.at(-1)).toBe(30);
  });
});
