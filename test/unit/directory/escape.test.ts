import { describe, expect, it } from 'vitest';
import { FilterParser, EqualityFilter, OrFilter } from 'ldapts';
import { and, eq, escapeFilterValue, or, wrapFilter } from '../../../firmware/src/directory/escape.ts';

describe('RFC 4515 filter escaping', () => {
  it('escapes the five special characters as \\XX', () => {
    expect(escapeFilterValue('a*b(c)d\\e\u0000f')).toBe('a\\2ab\\28c\\29d\\5ce\\00f');
  });

  it('leaves ordinary and non-ASCII text alone', () => {
    expect(escapeFilterValue("Jürgen.O'Brien-Ümlaut@corp")).toBe("Jürgen.O'Brien-Ümlaut@corp");
  });

  it('turns the classic injection *)(uid=* into one literal equality value', () => {
    const f = eq('uid', '*)(uid=*');
    expect(f).toBe('(uid=\\2a\\29\\28uid=\\2a)');
    const parsed = FilterParser.parseString(f);
    expect(parsed).toBeInstanceOf(EqualityFilter);
    expect((parsed as EqualityFilter).value).toBe('*)(uid=*');
  });

  it('keeps a NUL byte inside the value instead of truncating the filter', () => {
    const parsed = FilterParser.parseString(eq('uid', 'alice\u0000)(x=y'));
    expect((parsed as EqualityFilter).value).toBe('alice\u0000)(x=y');
  });

  it('an injected OR cannot widen a combined filter', () => {
    const f = and('(objectClass=inetOrgPerson)', or(eq('mail', 'x)(|(uid=*'), eq('uid', 'x')));
    const parsed = FilterParser.parseString(f);
    expect(parsed.toString()).toContain('x\\29\\28|\\28uid=\\2a');
    expect(FilterParser.parseString(or(eq('a', '1'), eq('b', '2')))).toBeInstanceOf(OrFilter);
  });

  it('wraps config filters written without parentheses', () => {
    expect(wrapFilter('objectClass=user')).toBe('(objectClass=user)');
    expect(wrapFilter(' (objectClass=user) ')).toBe('(objectClass=user)');
    expect(wrapFilter('')).toBe('');
    expect(and('(a=1)')).toBe('(a=1)');
  });
});
