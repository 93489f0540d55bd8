import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, MfaError, describeError, isMfaError } from '../../firmware/src/errors.ts';

// The full table of codes lives in the firmware reference; README.md links to it.
const reference = readFileSync(new URL('../../firmware/README.md', import.meta.url), 'utf8');
const troubleshooting = reference.slice(reference.indexOf('## Error codes'));
const names = Object.keys(ErrorCode).filter((k) => Number.isNaN(Number(k)));
const errorsSource = readFileSync(new URL('../../firmware/src/errors.ts', import.meta.url), 'utf8');

interface Range {
  from: number;
  to: number;
  label: string;
}

/** The `ErrorCode` enum's members and its `// 100–199: area` range comments, in source order. */
function parseEnum(src: string): {
  members: { name: string; value: number; range?: Range }[];
  ranges: Range[];
} {
  const start = src.indexOf('export enum ErrorCode {');
  const body = src.slice(start, src.indexOf('\n}', start));
  const ranges: Range[] = [];
  const members: { name: string; value: number; range?: Range }[] = [];
  for (const line of body.split('\n')) {
    const r = /^\s*\/\/\s*(\d+)[–-](\d+):\s*(.*)$/.exec(line);
    if (r) ranges.push({ from: Number(r[1]), to: Number(r[2]), label: r[3] ?? '' });
    const m = /^\s*([A-Za-z]\w*)\s*=\s*(\d+),?/.exec(line);
    if (m)
      members.push({
        name: m[1] ?? '',
        value: Number(m[2]),
        ...(ranges.length ? { range: ranges.at(-1) } : {}),
      });
  }
  return { members, ranges };
}

/** Everything wrong with the grouping, in words; empty when codes sit in blocks of 100 by area. */
function blockProblems(src: string): string[] {
  const { members, ranges } = parseEnum(src);
  const problems: string[] = [];
  const blocks = new Map<number, Range>();
  let block: Range | undefined;
  for (const r of ranges) {
    const show = `${r.from}–${r.to} (${r.label})`;
    if (r.from % 100 === 0 && r.to === r.from + 99) {
      if (blocks.has(r.from)) problems.push(`block ${show} is declared twice`);
      blocks.set(r.from, r);
      block = r;
    } else if (r.to - r.from >= 99 || Math.floor(r.from / 100) !== Math.floor(r.to / 100))
      problems.push(`range ${show} is not a block of 100 starting on a hundred, nor inside one`);
    else if (!block || r.from < block.from || r.to > block.to)
      problems.push(
        `range ${show} lies outside the block above it (${block ? `${block.from}–${block.to}` : 'none'})`,
      );
  }
  // An area is a name's first word (Modem…, Sms…, Radius…): all its codes share one block.
  const areaBlocks = new Map<string, Set<number>>();
  for (const m of members) {
    if (!m.range) {
      problems.push(`${m.name} = ${m.value} comes before any range comment`);
      continue;
    }
    if (m.value < m.range.from || m.value > m.range.to)
      problems.push(
        `${m.name} = ${m.value} is outside its range ${m.range.from}–${m.range.to} (${m.range.label})`,
      );
    const area = /^[A-Z][a-z0-9]*/.exec(m.name)?.[0] ?? m.name;
    areaBlocks.set(area, (areaBlocks.get(area) ?? new Set()).add(Math.floor(m.value / 100) * 100));
  }
  for (const [area, set] of areaBlocks)
    if (set.size > 1)
      problems.push(`area "${area}" spans blocks ${[...set].sort((a, b) => a - b).join(', ')}`);
  return problems;
}

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

  it('has no two names with one number', () => {
    const values = names.map((n) => ErrorCode[n as keyof typeof ErrorCode]);
    expect(new Set(values).size).toBe(values.length);
  });

  it('reads the enum source as the runtime sees it', () => {
    const parsed = parseEnum(errorsSource);
    expect(Object.fromEntries(parsed.members.map((m) => [m.name, m.value]))).toEqual(
      Object.fromEntries(names.map((n) => [n, ErrorCode[n as keyof typeof ErrorCode]])),
    );
  });

  it('groups codes by area in blocks of 100, as the range comments in errors.ts declare', () => {
    expect(blockProblems(errorsSource)).toEqual([]);
    // At least the areas the firmware has today, each in its own block.
    expect(parseEnum(errorsSource).ranges.filter((r) => r.to - r.from === 99).length).toBeGreaterThanOrEqual(
      8,
    );
  });

  it('catches a code outside its block, a block not on a hundred, overlapping blocks and an area split across blocks', () => {
    const enumOf = (body: string): string => `export enum ErrorCode {\n${body}\n}`;
    expect(blockProblems(enumOf('  // 100–199: a\n  AaOne = 100,\n  AaTwo = 205,'))).toEqual([
      'AaTwo = 205 is outside its range 100–199 (a)',
      'area "Aa" spans blocks 100, 200',
    ]);
    expect(blockProblems(enumOf('  // 150–249: a\n  AaOne = 150,'))).toEqual([
      'range 150–249 (a) is not a block of 100 starting on a hundred, nor inside one',
    ]);
    expect(blockProblems(enumOf('  // 100–199: a\n  AaOne = 100,\n  // 100–199: b\n  BbOne = 101,'))).toEqual(
      ['block 100–199 (b) is declared twice'],
    );
    expect(
      blockProblems(
        enumOf('  // 100–199: a\n  AaOne = 100,\n  // 200–299: b\n  BbOne = 200,\n  AaTwo = 201,'),
      ),
    ).toEqual(['area "Aa" spans blocks 100, 200']);
    expect(blockProblems(enumOf('  Stray = 100,\n  // 100–199: a\n  AaOne = 101,'))).toEqual([
      'Stray = 100 comes before any range comment',
    ]);
    expect(
      blockProblems(enumOf('  // 400–499: a\n  AaOne = 400,\n  // 520–529: sub\n  BbTwo = 521,')),
    ).toEqual(['range 520–529 (sub) lies outside the block above it (400–499)']);
  });
});

describe('firmware/README.md error code table', () => {
  it.each(names)('lists %s with its number', (name) => {
    const code = ErrorCode[name as keyof typeof ErrorCode];
    expect(troubleshooting).toMatch(new RegExp(`\\|\\s*${name} \\(${code}\\)\\s*\\|`));
  });

  it('lists no code that does not exist', () => {
    const listed = [...troubleshooting.matchAll(/^\|\s*([A-Za-z]+) \((\d+)\)\s*\|/gm)].map((m) => m[1]);
    for (const n of listed) expect(names).toContain(n);
  });
});
