/**
 * A scripted LDAP server on a loopback port: just enough BER to answer ldapts' bind, search and
 * unbind with the result codes a test chooses (busy, unavailable, invalid credentials…), late or
 * never. The real client and the real connection code run against it; slapd and Samba cannot be
 * made to answer "busy" on demand.
 */
import net from 'node:net';
import { afterEach } from 'vitest';
import { parseConfig } from '../../../firmware/src/config/load.ts';
import {
  createLdapDirectory,
  type LdapDirectory,
  type LdapDirectoryDeps,
} from '../../../firmware/src/directory/ldap.ts';

/** What the DC does with one request: answer with a result code (after a delay), or never. */
export type Behaviour = { code: number; message?: string; delayMs?: number } | 'hang';

export interface FakeDcScript {
  serviceBind: Behaviour;
  userBind: Behaviour;
  /** The user search (any search but the rootDSE read a connect makes). */
  search: Behaviour;
  /** OIDs the root DSE lists in supportedExtension (AD lists fast bind there). */
  extensions: string[];
}

export const OK: Behaviour = { code: 0 };
export const BASE = 'dc=example,dc=com';
export const SERVICE_DN = `cn=mfabox,ou=service,${BASE}`;
export const ALICE_DN = `uid=alice,ou=people,${BASE}`;

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const tlv = (tag: number, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
const octets = (s: string): Buffer => tlv(0x04, Buffer.from(s, 'utf8'));
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));

function integer(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v >>= 8;
  } while (v > 0);
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

/** One TLV at `at`: tag, value, and where the next one starts; undefined when incomplete. */
function readTlv(buf: Buffer, at: number): { tag: number; value: Buffer; end: number } | undefined {
  if (buf.length < at + 2) return undefined;
  const tag = buf[at] ?? 0;
  let len = buf[at + 1] ?? 0;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (buf.length < start + n) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[start + i] ?? 0);
    start += n;
  }
  if (buf.length < start + len) return undefined;
  return { tag, value: buf.subarray(start, start + len), end: start + len };
}

function result(messageId: number, appTag: number, code: number, message = ''): Buffer {
  return seq(
    integer(messageId),
    tlv(appTag, Buffer.concat([tlv(0x0a, Buffer.from([code])), octets(''), octets(message)])),
  );
}

const attr = (type: string, ...vals: string[]) =>
  seq(octets(type), tlv(0x31, Buffer.concat(vals.map(octets))));

function rootDse(messageId: number, extensions: string[]): Buffer {
  const attrs = extensions.length > 0 ? attr('supportedExtension', ...extensions) : Buffer.alloc(0);
  return Buffer.concat([
    seq(integer(messageId), tlv(0x64, Buffer.concat([octets(''), seq(attrs)]))),
    result(messageId, 0x65, 0),
  ]);
}

function aliceEntry(messageId: number): Buffer {
  return seq(
    integer(messageId),
    tlv(
      0x64,
      Buffer.concat([
        octets(ALICE_DN),
        seq(
          attr('uid', 'alice'),
          attr('mobile', '+49 151 12345678'),
          attr('memberOf', `cn=MFA Users,ou=groups,${BASE}`),
        ),
      ]),
    ),
  );
}

export class FakeDc {
  readonly script: FakeDcScript = { serviceBind: OK, userBind: OK, search: OK, extensions: [] };
  /** Requests seen, by kind. */
  readonly seen = { connections: 0, serviceBinds: 0, userBinds: 0, searches: 0, exops: 0 };
  /** Every request in arrival order, by connection (1-based, in accept order): service-bind, user-bind, search, root-dse, or "exop <OID>". */
  readonly log: { conn: number; op: string }[] = [];
  /** The timeLimit (seconds; 0 = none) each search asked the DC for, in arrival order. */
  readonly searchTimeLimits: number[] = [];
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(script: Partial<FakeDcScript> = {}) {
    Object.assign(this.script, script);
    this.server = net.createServer((s) => this.serve(s));
  }

  /** Connections still open. */
  get open(): number {
    return this.sockets.size;
  }

  get url(): string {
    return `ldap://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }

  private serve(sock: net.Socket): void {
    const conn = ++this.seen.connections;
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const msg = readTlv(buf, 0);
        if (!msg) return;
        buf = buf.subarray(msg.end);
        const id = readTlv(msg.value, 0);
        const op = id && readTlv(msg.value, id.end);
        if (!id || !op) continue;
        this.answer(sock, conn, id.value.readUIntBE(0, id.value.length), op.tag, op.value);
      }
    });
  }

  private answer(sock: net.Socket, conn: number, messageId: number, tag: number, body: Buffer): void {
    const send = (b: Behaviour, reply: (code: number, message: string) => Buffer): void => {
      if (b === 'hang') return;
      const write = () => {
        if (!sock.destroyed) sock.write(reply(b.code, b.message ?? ''));
      };
      if (b.delayMs) setTimeout(write, b.delayMs);
      else write();
    };
    if (tag === 0x60) {
      // BindRequest: version, name, simple password.
      const version = readTlv(body, 0);
      const name = version && readTlv(body, version.end);
      const dn = name?.value.toString('utf8') ?? '';
      const service = dn === SERVICE_DN;
      if (service) this.seen.serviceBinds++;
      else this.seen.userBinds++;
      this.log.push({ conn, op: service ? 'service-bind' : 'user-bind' });
      send(service ? this.script.serviceBind : this.script.userBind, (code, message) =>
        result(messageId, 0x61, code, message),
      );
      return;
    }
    if (tag === 0x63) {
      const base = readTlv(body, 0)?.value.toString('utf8') ?? '';
      // The rootDSE read that proves a connection: always answered at once.
      if (base === '') {
        this.log.push({ conn, op: 'root-dse' });
        sock.write(rootDse(messageId, this.script.extensions));
        return;
      }
      this.seen.searches++;
      this.log.push({ conn, op: 'search' });
      // baseObject, scope, derefAliases, sizeLimit, then timeLimit.
      let field = readTlv(body, 0);
      for (let i = 0; i < 4 && field; i++) field = readTlv(body, field.end);
      if (field) this.searchTimeLimits.push(field.value.readUIntBE(0, field.value.length));
      send(this.script.search, (code, message) =>
        code === 0
          ? Buffer.concat([aliceEntry(messageId), result(messageId, 0x65, 0)])
          : result(messageId, 0x65, code, message),
      );
      return;
    }
    if (tag === 0x77) {
      // ExtendedRequest: requestName [0]. Known: the ones listed in extensions; others refused (2).
      const oid = readTlv(body, 0)?.value.toString('utf8') ?? '';
      this.seen.exops++;
      this.log.push({ conn, op: `exop ${oid}` });
      sock.write(result(messageId, 0x78, this.script.extensions.includes(oid) ? 0 : 2));
      return;
    }
    if (tag === 0x42) sock.end(); // unbind
  }
}

/** An OpenLDAP-dialect LdapDirectory over plain LDAP on these fake DCs, in the order given. */
export async function fakeDcDirectory(
  servers: readonly FakeDc[],
  timeoutMs: number,
  deps: LdapDirectoryDeps = {},
  over: Record<string, unknown> = {},
): Promise<LdapDirectory> {
  const cfg = parseConfig({
    directory: {
      kind: 'ldap',
      dialect: 'openldap',
      urls: servers.map((s) => s.url),
      startTls: false,
      allowInsecure: true,
      baseDn: BASE,
      bindDn: SERVICE_DN,
      bindPassword: 'service-pw',
      timeoutMs,
      ...over,
    },
  }).directory;
  if (cfg.kind !== 'ldap') throw new Error('ldap config expected');
  return createLdapDirectory(cfg, deps);
}

/**
 * Fake DCs and directories for one test file, all closed after each test (registers the
 * `afterEach` itself, so call it at the top level of the file).
 */
export function fakeDcFixture(): {
  dc(script?: ConstructorParameters<typeof FakeDc>[0]): Promise<FakeDc>;
  directory(
    servers: readonly FakeDc[],
    timeoutMs: number,
    deps?: LdapDirectoryDeps,
    over?: Record<string, unknown>,
  ): Promise<LdapDirectory>;
} {
  let dcs: FakeDc[] = [];
  let dirs: LdapDirectory[] = [];
  afterEach(async () => {
    await Promise.all(dirs.map((d) => d.close()));
    await Promise.all(dcs.map((d) => d.close()));
    dcs = [];
    dirs = [];
  });
  return {
    async dc(script = {}) {
      const d = await new FakeDc(script).listen();
      dcs.push(d);
      return d;
    },
    async directory(servers, timeoutMs, deps = {}, over = {}) {
      const d = await fakeDcDirectory(servers, timeoutMs, deps, over);
      dirs.push(d);
      return d;
    },
  };
}
