import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, MfaError, describeError, isMfaError } from '../../firmware/src/errors.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const troubleshooting = readme.slice(readme.indexOf('## Troubleshooting'));
const names = Object.keys(ErrorCode).filter((k) => Number.isNaN(Number(k)));

describe('MfaError', () => {
  it('carries a code, flags and a stable code name', () => {
    const e = new MfaError('modem gone', ErrorCode.ModemClosed, { flags: { disconnected: true } });
    expect(e.code).toBe(ErrorCode.ModemClosed);
    expect(e.codeName).toBe('ModemClosed');
    expect(e.flags.disconnected).toBe(true);
    expect(isMfaError(e, ErrorCode.ModemClosed)).toBe(true);
    expect(isMfaError(e, ErrorCode.ModemTimeout)).toBe(false);
    expect(describeError(e)).toBe('ModemClosed: modem gone');
  });

  it('groups codes by area in blocks of 100 without duplicates', () => {
    const values = names.map((n) => ErrorCode[n as keyof typeof ErrorCode]);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) expect(v).toBeGreaterThanOrEqual(100);
  });
});

describe('README troubleshooting table', () => {
  it.each(names)('lists %s with its number', (name) => {
    const code = ErrorCode[name as keyof typeof ErrorCode];
    expect(troubleshooting).toMatch(new RegExp(`\\|\\s*${name} \\(${code}\\)\\s*\\|`));
  });

  it('lists no code that does not exist', () => {
    const listed = [...troubleshooting.matchAll(/^\|\s*([A-Za-z]+) \((\d+)\)\s*\|/gm)].map((m) => m[1]);
    for (const n of listed) expect(names).toContain(n);
  });
});
