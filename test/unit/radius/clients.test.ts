import { describe, expect, it } from 'vitest';
import { ClientTable } from '../../../firmware/src/radius/clients.ts';
import { radiusClientSchema, radiusSchema } from '../../../firmware/src/config/schema.ts';
import type { RadiusClientConfig } from '../../../firmware/src/config/schema.ts';
import { ErrorCode, isMfaError } from '../../../firmware/src/errors.ts';

// Built without the schema, so the table's own checks are what is tested.
const client = (
  name: string,
  address: string,
  extra: Partial<RadiusClientConfig> = {},
): RadiusClientConfig => ({
  name,
  address,
  secret: `secret-${name}`,
  requireMessageAuthenticator: 'auto',
  passwordCheck: 'directory',
  acceptAttributes: [],
  ...extra,
});

describe('ClientTable', () => {
  const table = ClientTable.fromConfig([
    client('wide', '10.0.0.0/8'),
    client('netscaler', '10.1.2.3'),
    client('subnet', '10.1.0.0/16'),
    client('v6', '2001:db8::/32'),
    client('v6-host', '2001:db8::10'),
  ]);

  it('picks the most specific match, whatever the order in config', () => {
    expect(table.lookup('10.1.2.3')?.client.name).toBe('netscaler');
    expect(table.lookup('10.1.9.9')?.client.name).toBe('subnet');
    expect(table.lookup('10.200.0.1')?.client.name).toBe('wide');
    expect(table.lookup('::ffff:10.1.2.3')?.client.name).toBe('netscaler');
    expect(table.lookup('2001:db8::10')?.client.name).toBe('v6-host');
    expect(table.lookup('2001:db8:1::10')?.client.name).toBe('v6');
  });

  it('returns nothing for unknown sources', () => {
    expect(table.lookup('11.0.0.1')).toBeUndefined();
    expect(table.lookup('2001:db9::1')).toBeUndefined();
    expect(table.lookup('garbage')).toBeUndefined();
  });

  it('answers the same again from its memory of sources, and past its bound', () => {
    const t = ClientTable.fromConfig([client('netscaler', '10.1.2.3'), client('subnet', '10.1.0.0/16')]);
    for (let round = 0; round < 2; round++) {
      expect(t.lookup('10.1.2.3')?.client.name).toBe('netscaler');
      expect(t.lookup('10.1.2.4')?.client.name).toBe('subnet');
      expect(t.lookup('11.0.0.1')).toBeUndefined();
    }
    // A flood of (spoofed) sources: the memory starts over, the answers do not change.
    for (let i = 0; i < 3000; i++) expect(t.lookup(`172.16.${i >> 8}.${i & 255}`)).toBeUndefined();
    expect(t.lookup('10.1.2.3')?.client.name).toBe('netscaler');
    expect(t.lookup('11.0.0.1')).toBeUndefined();
  });

  it('defaults to requireMessageAuthenticator auto and passwordCheck directory; keeps secrets out of NasClient', () => {
    const e = table.lookup('10.1.2.3')!;
    expect(e.client.requireMessageAuthenticator).toBe('auto');
    expect(e.client.passwordCheck).toBe('directory');
    expect(e.secret.toString()).toBe('secret-netscaler');
    expect(JSON.stringify(e.client)).not.toContain('secret-netscaler');
  });

  it.each([
    [[client('a', '10.0.0.1'), client('a', '10.0.0.2')], 'radius.clients[1].name'],
    [[client('a', '10.0.0.1'), client('b', '10.0.0.1/32')], 'radius.clients[1].address'],
    [[client('a', 'nas.example')], 'radius.clients[0].address'],
    [[client('a', '10.0.0.1', { monitorUser: 'mon' })], 'radius.clients[0].monitorPassword'],
    [
      [client('a', '10.0.0.1', { acceptAttributes: [['Bogus-Attr', 'x']] })],
      'radius.clients[0].acceptAttributes[0]',
    ],
  ])('refuses a bad table and names the field (%#)', (cfg, field) => {
    try {
      ClientTable.fromConfig(cfg);
      expect.unreachable();
    } catch (e) {
      expect(isMfaError(e, ErrorCode.RadiusClientInvalid)).toBe(true);
      expect((e as { field: string }).field).toBe(field);
    }
  });
});

const S16 = 'sixteen-chars-ok';

describe('radius config schema', () => {
  it('applies the defaults and refuses bad clients naming the field', () => {
    const ok = radiusSchema.parse({ clients: [{ name: 'ns', address: '10.0.0.5', secret: S16 }] });
    expect(ok.clients[0]).toMatchObject({
      requireMessageAuthenticator: 'auto',
      passwordCheck: 'directory',
      acceptAttributes: [],
    });
    expect(ok).toMatchObject({
      accountingPort: 1813,
      duplicateCacheSeconds: 30,
      listen: [{ address: '0.0.0.0', port: 1812 }],
    });
    const paths = (input: unknown): string[] => {
      const r = radiusSchema.safeParse(input);
      return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
    };
    expect(paths({ clients: [{ name: 'ns', address: 'nas.example', secret: S16 }] })).toEqual([
      'clients.0.address',
    ]);
    expect(paths({ clients: [{ name: 'ns', address: '10.0.0.5', secret: S16, monitorUser: 'm' }] })).toEqual([
      'clients.0.monitorPassword',
    ]);
    expect(
      paths({
        clients: [
          { name: 'ns', address: '10.0.0.5', secret: S16 },
          { name: 'ns', address: '10.0.0.6', secret: S16 },
        ],
      }),
    ).toEqual(['clients.1.name']);
    expect(paths({ listen: [{ address: 'localhost', port: 1812 }] })).toEqual(['listen.0.address']);
    expect(radiusClientSchema.safeParse({ name: 'v6', address: '2001:db8::/32', secret: S16 }).success).toBe(
      true,
    );
  });
});
