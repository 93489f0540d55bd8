/**
 * `mfabox directory test`'s diagnostics (directory/diagnose.ts) against local listeners: a DC that
 * accepts TCP and then never speaks is called silent (wrong port, ldap vs ldaps, a firewall), never
 * a certificate problem; DNS SRV targets outside srvDomain are refused as the box refuses them.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../firmware/src/config/load.ts';
import type { LdapDirectoryConfig } from '../../../firmware/src/config/schema.ts';
import { HINTS, discoverForTest, testDomainController } from '../../../firmware/src/directory/diagnose.ts';

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** Accepts every connection and never sends a byte (a firewall that drops, a service that waits). */
async function silentListener(): Promise<number> {
  const s = net.createServer((c) => {
    sockets.push(c);
    c.on('error', () => undefined);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
  return (s.address() as net.AddressInfo).port;
}

function config(over: Record<string, unknown>): LdapDirectoryConfig {
  const c = parseConfig({
    directory: {
      kind: 'ldap',
      dialect: 'ad',
      urls: ['ldaps://127.0.0.1:636'],
      baseDn: 'DC=corp,DC=example',
      bindDn: 'svc@corp.example',
      bindPassword: 'x',
      ...over,
    },
  }).directory;
  if (c.kind !== 'ldap') throw new Error('ldap config expected');
  return c;
}

describe('directory test: a DC that accepts TCP and goes silent', () => {
  for (const scheme of ['ldaps', 'ldap'] as const) {
    it(`${scheme}://: says the DC accepted the connection and went silent, not that the certificate was refused`, async () => {
      const url = `${scheme}://127.0.0.1:${await silentListener()}`;
      const lines: string[] = [];
      const ok = await testDomainController(config({ urls: [url] }), url, {
        budgetMs: 800,
        out: (l) => lines.push(l),
      });
      expect(ok).toBe(false);
      const text = lines.join('\n');
      expect(text).toMatch(/ok +TCP +127\.0\.0\.1:\d+ accepts connections/);
      expect(text).toMatch(/FAILED +TLS /);
      expect(text).toContain(HINTS.silent);
      expect(text).toMatch(/accepted the connection and then went silent: a wrong port/);
      expect(text).not.toContain(HINTS.TLS);
      expect(text).not.toMatch(/certificate was refused/);
    });
  }
});

describe('directory test: DNS SRV', () => {
  it('lists only targets inside srvDomain and names the refused ones', async () => {
    const lines: string[] = [];
    const urls = await discoverForTest(
      config({ urls: [], srvDomain: 'corp.example', caFile: '/etc/mfabox/ca.pem' }),
      (l) => lines.push(l),
      () =>
        Promise.resolve([
          { name: 'dc1.attacker.example', port: 389, priority: 0, weight: 100 },
          { name: 'dc2.corp.example.', port: 389, priority: 0, weight: 100 },
        ]),
    );
    expect(urls).toEqual(['ldaps://dc2.corp.example:636']);
    expect(lines.join('\n')).toMatch(/refused, outside corp\.example: dc1\.attacker\.example/);
  });
});
