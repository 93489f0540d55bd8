import { describe, expect, it } from 'vitest';
import { parseCallingStationId } from '../../../firmware/src/auth/calling-station.ts';
import { CidrSet, parseCidr } from '../../../firmware/src/auth/cidr.ts';

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

describe('CIDR', () => {
  it('parses IPv4/IPv6 networks and bare addresses', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ family: 4, address: '10.0.0.0', prefix: 8 });
    expect(parseCidr('192.0.2.1')).toEqual({ family: 4, address: '192.0.2.1', prefix: 32 });
    expect(parseCidr('2001:DB8::/32')).toEqual({ family: 6, address: '2001:db8::', prefix: 32 });
    expect(parseCidr('::1')).toEqual({ family: 6, address: '::1', prefix: 128 });
    expect(parseCidr('0.0.0.0/0')).toEqual({ family: 4, address: '0.0.0.0', prefix: 0 });
  });

  it.each([
    '',
    'x',
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0.0/',
    '10.0.0.0/a',
    '10.0.0.0/-1',
    'fe80::1%eth0/64',
  ])('refuses %j', (s) => {
    expect(parseCidr(s)).toBeUndefined();
  });

  it('matches addresses inside the networks, per family', () => {
    const set = new CidrSet(['10.0.0.0/8', '192.0.2.5', '2001:db8::/32']);
    expect(set.has({ family: 4, address: '10.255.0.1' })).toBe(true);
    expect(set.has({ family: 4, address: '11.0.0.1' })).toBe(false);
    expect(set.has({ family: 4, address: '192.0.2.5' })).toBe(true);
    expect(set.has({ family: 4, address: '192.0.2.6' })).toBe(false);
    expect(set.has({ family: 6, address: '2001:db8:ffff::1' })).toBe(true);
    expect(set.has({ family: 6, address: '2001:db9::1' })).toBe(false);
    expect(set.has(undefined)).toBe(false);
    expect(new CidrSet([]).has({ family: 4, address: '10.0.0.1' })).toBe(false);
  });

  it('throws on an invalid entry, naming it', () => {
    expect(() => new CidrSet(['10.0.0.0/8', 'nope'])).toThrow(/nope/);
  });
});
