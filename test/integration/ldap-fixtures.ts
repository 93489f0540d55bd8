/**
 * What the slapd and Samba AD tests share: a directory config from the peer's facts, directories
 * closed after the file, and fake DCs (a closed port, a black hole that accepts TCP and never answers).
 */
import net from 'node:net';
import { parseConfig } from '../../firmware/src/config/load.ts';
import type { LdapDirectoryConfig } from '../../firmware/src/config/schema.ts';
import type { Facts } from './peers.ts';
import {
  createLdapDirectory,
  type LdapDirectory,
  type LdapDirectoryDeps,
} from '../../firmware/src/directory/ldap.ts';

/** The throw-away slapd (scripts/start-slapd.sh) as an `openldap` directory: StartTLS, CA pinned. */
export function slapdDirectory(f: Facts): Record<string, unknown> {
  return {
    dialect: 'openldap',
    urls: [f.LDAP_URL],
    caFile: f.CA_FILE,
    baseDn: f.BASE,
    bindDn: f.SERVICE_DN,
    bindPassword: f.SERVICE_PW,
  };
}

export function ldapConfig(directory: Record<string, unknown>): LdapDirectoryConfig {
  const c = parseConfig({ directory: { kind: 'ldap', ...directory } }).directory;
  if (c.kind !== 'ldap') throw new Error('expected ldap config');
  return c;
}

export class LdapFixtures {
  private readonly open: LdapDirectory[] = [];
  private readonly servers: net.Server[] = [];

  /** A directory that is closed in `closeAll()`. */
  async dir(cfg: LdapDirectoryConfig, deps?: LdapDirectoryDeps): Promise<LdapDirectory> {
    const d = await createLdapDirectory(cfg, deps);
    this.open.push(d);
    return d;
  }

  /** Accepts TCP and never says a word: the worst kind of dead DC. */
  async blackHole(): Promise<number> {
    const sockets: net.Socket[] = [];
    const s = net.createServer((sock) => sockets.push(sock));
    s.on('close', () => sockets.forEach((x) => x.destroy()));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    this.servers.push(s);
    return (s.address() as net.AddressInfo).port;
  }

  /** A server closed (and its sockets destroyed) in `closeAll()`. */
  track(s: net.Server): void {
    this.servers.push(s);
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.open.map((d) => d.close()));
    for (const s of this.servers) {
      s.close();
      s.emit('close');
    }
  }
}

/** A port nobody listens on. */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
