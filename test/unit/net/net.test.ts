import { describe, expect, it } from 'vitest';
import { parseIp, parseSourceAddress } from '../../../firmware/src/net/address.ts';
import { CidrSet, CidrTable, parseCidr } from '../../../firmware/src/net/cidr.ts';
import { parseCallingStationId } from '../../../firmware/src/auth/calling-station.ts';
import { ClientTable } from '../../../firmware/src/radius/clients.ts';
import { radiusClientSchema } from '../../../firmware/src/config/schema.ts';

describe('parseIp', () => {
  it('parses IPv4 and IPv6 (compressed, embedded IPv4) to canonical text', () => {
    expect(parseIp('10.1.2.3')).toEqual({ family: 4, address: '10.1.2.3' });
    expect(parseIp('2001:DB8:0:0::1')).toEqual({ family: 6, address: '2001:db8::1' });
    expect(parseIp('::1')).toEqual({ family: 6, address: '::1' });
    expect(parseIp('64:ff9b::192.0.2.33')).toEqual({ family: 6, address: '64:ff9b::c000:221' });
  });

  it('reads IPv4-mapped IPv6, dotted or hex, as the IPv4 address', () => {
    expect(parseIp('::ffff:10.1.2.3')).toEqual({ family: 4, address: '10.1.2.3' });
    expect(parseIp('::FFFF:c000:0207')).toEqual({ family: 4, address: '192.0.2.7' });
    expect(parseIp('0:0:0:0:0:ffff:192.0.2.7')).toEqual({ family: 4, address: '192.0.2.7' });
  });

  it.each([
    '300.1.1.1',
    '10.1',
    '010.0.0.1',
    '0x0a.0.0.1',
    'nas.example.com',
    '',
    'fe80::1%eth0',
    '1.2.3.4 ',
  ])('refuses %j', (s) => {
    expect(parseIp(s)).toBeUndefined();
  });

  it('a datagram source keeps its address without the zone of our receiving interface', () => {
    expect(parseSourceAddress('fe80::1%eth0')?.toString()).toBe('fe80::1');
    expect(parseSourceAddress('::ffff:10.1.2.3')?.kind()).toBe('ipv4');
  });
});

describe('parseCidr', () => {
  it('parses networks and bare addresses, clearing host bits', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ family: 4, address: '10.0.0.0', prefix: 8 });
    expect(parseCidr('10.1.2.3/8')).toEqual({ family: 4, address: '10.0.0.0', prefix: 8 });
    expect(parseCidr('192.168.1.77/27')).toEqual({ family: 4, address: '192.168.1.64', prefix: 27 });
    expect(parseCidr(' 192.0.2.1 ')).toEqual({ family: 4, address: '192.0.2.1', prefix: 32 });
    expect(parseCidr('2001:DB8::/32')).toEqual({ family: 6, address: '2001:db8::', prefix: 32 });
    expect(parseCidr('::1')).toEqual({ family: 6, address: '::1', prefix: 128 });
    expect(parseCidr('0.0.0.0/0')).toEqual({ family: 4, address: '0.0.0.0', prefix: 0 });
  });

  it('an IPv4-mapped network in IPv6 form is the IPv4 network (prefix less 96)', () => {
    expect(parseCidr('::ffff:10.0.0.0/104')).toEqual({ family: 4, address: '10.0.0.0', prefix: 8 });
    expect(parseCidr('::ffff:192.0.2.7')).toEqual({ family: 4, address: '192.0.2.7', prefix: 32 });
    expect(parseCidr('::ffff:10.0.0.0/95')).toBeUndefined();
  });

  it.each([
    '',
    'x',
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0.0/',
    '10.0.0.0/a',
    '10.0.0.0/-1',
    '10.0.0.0/8/8',
    'fe80::1%eth0/64',
    '10.1/16',
  ])('refuses %j', (s) => {
    expect(parseCidr(s)).toBeUndefined();
  });
});

describe('CidrSet and CidrTable', () => {
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

  it('the most specific network wins, whatever the order added', () => {
    const t = new CidrTable<string>();
    t.add('10.0.0.0/8', 'wide');
    t.add('10.1.2.3', 'host');
    t.add('10.1.0.0/16', 'subnet');
    expect(t.lookup({ family: 4, address: '10.1.2.3' })).toBe('host');
    expect(t.lookup({ family: 4, address: '10.1.9.9' })).toBe('subnet');
    expect(t.lookup({ family: 4, address: '10.9.9.9' })).toBe('wide');
  });
});

// The two places that used to disagree: the NAS table (source addresses) and trusted networks
// (Calling-Station-Id). Both now treat an IPv4-mapped address as the IPv4 address, and both
// accept an IPv4 network written in mapped form.
describe('IPv4-mapped IPv6, the same in every user', () => {
  const forms = ['::ffff:192.0.2.7', '::ffff:c000:207', '[::ffff:192.0.2.7]:80'];

  it('trusted networks (policy) match a mapped Calling-Station-Id against an IPv4 network', () => {
    const set = new CidrSet(['192.0.2.0/24']);
    for (const f of forms) expect(set.has(parseCallingStationId(f))).toBe(true);
    const mapped = new CidrSet(['::ffff:192.0.2.0/120']);
    expect(mapped.has(parseCallingStationId('192.0.2.7'))).toBe(true);
  });

  it('the NAS table matches a mapped source against an IPv4 client, and a mapped client entry against IPv4', () => {
    const base = { secret: 'a-long-enough-secret' };
    const table = ClientTable.fromConfig([
      radiusClientSchema.parse({ ...base, name: 'v4', address: '192.0.2.0/24' }),
      radiusClientSchema.parse({ ...base, name: 'mapped', address: '::ffff:198.51.100.0/120' }),
    ]);
    expect(table.lookup('::ffff:192.0.2.7')?.client.name).toBe('v4');
    expect(table.lookup('::ffff:c000:207')?.client.name).toBe('v4');
    expect(table.lookup('198.51.100.9')?.client.name).toBe('mapped');
    expect(table.lookup('2001:db8::1')).toBeUndefined();
  });

  it('config validation accepts what the table and policy accept', () => {
    expect(() =>
      radiusClientSchema.parse({ name: 'x', address: '::ffff:10.0.0.0/104', secret: 'a-long-enough-secret' }),
    ).not.toThrow();
    expect(() =>
      radiusClientSchema.parse({ name: 'x', address: '10.1/16', secret: 'a-long-enough-secret' }),
    ).toThrow();
  });
});
