import { describe, expect, it } from 'vitest';
import { matches, parseFilter, parseTime } from '../../../firmware/src/audit/query.ts';
import type { AuditRecord } from '../../../firmware/src/audit/records.ts';

const NOW = Date.parse('2026-12-06T10:00:00Z');

describe('audit filters', () => {
  it('parses durations ago and UTC times', () => {
    expect(parseTime('2h', NOW, 'since')).toBe(NOW - 7_200_000);
    expect(parseTime('1h30m', NOW, 'since')).toBe(NOW - 5_400_000);
    expect(parseTime('7d', NOW, 'since')).toBe(NOW - 7 * 86_400_000);
    expect(parseTime('2026-12-06T08:02:00Z', NOW, 'since')).toBe(Date.parse('2026-12-06T08:02:00Z'));
    expect(parseTime('2026-12-06 08:02', NOW, 'since')).toBe(Date.parse('2026-12-06T08:02:00Z'));
    expect(parseTime('2026-12-06', NOW, 'since')).toBe(Date.parse('2026-12-06T00:00:00Z'));
    expect(() => parseTime('yesterday', NOW, 'since')).toThrow(/since "yesterday"/);
    expect(() => parseFilter({ kind: 'radius,bogus' }, NOW)).toThrow(/kind "bogus"/);
    expect(() => parseFilter({ since: '1h', until: '2h' }, NOW)).toThrow(/until must be later/);
  });

  it('matches Bob however he typed his name', () => {
    const r: AuditRecord = {
      kind: 'radius',
      t: NOW,
      user: 'CORP\\Bob',
      account: 'bob',
      client: 'netscaler',
      outcome: 'reject',
      reason: 'bad-password',
      code: 'DirectoryBindFailed',
    };
    for (const u of ['bob', 'BOB', 'corp\\bob', 'bob@corp.example'])
      expect(matches(parseFilter({ user: u }, NOW), r)).toBe(true);
    expect(matches(parseFilter({ user: 'bobby' }, NOW), r)).toBe(false);
    expect(
      matches(parseFilter({ outcome: 'reject', reason: 'bad-password', client: 'NetScaler' }, NOW), r),
    ).toBe(true);
    expect(matches(parseFilter({ reason: 'DirectoryBindFailed' }, NOW), r)).toBe(true);
    expect(matches(parseFilter({ outcome: 'accept' }, NOW), r)).toBe(false);
    expect(matches(parseFilter({ kind: 'sms' }, NOW), r)).toBe(false);
    expect(matches(parseFilter({ since: '1h' }, NOW), r)).toBe(true);
    expect(matches(parseFilter({ until: '1h' }, NOW), r)).toBe(false);
  });
});
