import { describe, expect, it } from 'vitest';
import { parseCallingStationId } from '../../../firmware/src/auth/calling-station.ts';

describe('parseCallingStationId', () => {
  it.each([
    ['203.0.113.9', 4, '203.0.113.9'],
    [' 203.0.113.9 ', 4, '203.0.113.9'],
    ['203.0.113.9:51234', 4, '203.0.113.9'],
    ['2001:db8::1', 6, '2001:db8::1'],
    ['2001:DB8::A', 6, '2001:db8::a'],
    ['[2001:db8::1]', 6, '2001:db8::1'],
    ['[2001:db8::1]:443', 6, '2001:db8::1'],
    ['::ffff:192.0.2.7', 4, '192.0.2.7'],
    ['[::ffff:192.0.2.7]:80', 4, '192.0.2.7'],
    ['::FFFF:c000:0207', 4, '192.0.2.7'],
    ['::1', 6, '::1'],
  ])('%s → IPv%s %s', (input, family, address) => {
    expect(parseCallingStationId(input)).toEqual({ family, address });
  });

  it.each([
    [undefined],
    [''],
    ['   '],
    ['00-11-22-33-44-55'],
    ['00:11:22:33:44:55'],
    ['001122334455'],
    ['+4915112345678'],
    ['client.example.com'],
    ['fe80::1%eth0'],
    ['[fe80::1%25eth0]:443'],
    ['256.1.1.1'],
    ['1.2.3'],
    ['1.2.3.4:99999'],
    ['[2001:db8::1]:99999'],
    ['999.1.1.1:80'],
    ['[not-an-ip]'],
    ['1.2.3.4 extra'],
    ['x'.repeat(65)],
  ])('%s → untrusted (undefined)', (input) => {
    expect(parseCallingStationId(input)).toBeUndefined();
  });
});
