import { describe, expect, it } from 'vitest';
import { parseCommandBody, splitArgs } from '../../../../firmware/src/modem/simulator/command-line.ts';

describe('V.250 command line parsing', () => {
  it('splits basic commands run together', () => {
    expect(parseCommandBody('E0V1&C1')?.map((c) => [c.name, c.raw])).toEqual([
      ['E', '0'],
      ['V', '1'],
      ['&C', '1'],
    ]);
  });

  it('splits extended commands on ";" and classifies the operation', () => {
    const cmds = parseCommandBody('+CMGF=0;+CSCA?;+CNMI=?;+CGMI') ?? [];
    expect(cmds.map((c) => [c.name, c.op])).toEqual([
      ['+CMGF', 'set'],
      ['+CSCA', 'read'],
      ['+CNMI', 'test'],
      ['+CGMI', 'exec'],
    ]);
  });

  it('upper-cases names but keeps quoted arguments, and ignores ";" inside quotes', () => {
    const [c] = parseCommandBody('+cmgs="+1555;0001",145') ?? [];
    expect(c).toEqual({ name: '+CMGS', op: 'set', raw: '"+1555;0001",145', args: ['+1555;0001', '145'] });
  });

  it('parses vendor prefixes and S registers, and refuses an unterminated quote', () => {
    expect(parseCommandBody('^CURC=0;S0?;S7=60')?.map((c) => [c.name, c.op, c.raw])).toEqual([
      ['^CURC', 'set', '0'],
      ['S0', 'read', ''],
      ['S7', 'set', '60'],
    ]);
    expect(parseCommandBody('+CPIN="1234')).toBeUndefined();
  });

  it('keeps empty arguments in place', () => {
    expect(splitArgs('2,1,,1,0')).toEqual(['2', '1', '', '1', '0']);
  });
});
