/**
 * Fuzz: 100k random and mutated datagrams straight into the pipeline, a few thousand more over
 * the real sockets; afterwards radclient still gets a correct answer and every cache is within
 * its cap. Seeded, so a failure reproduces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { createHmac } from 'node:crypto';
import { createRadiusServer } from '../../firmware/src/radius/server.ts';
import type { RadiusServer } from '../../firmware/src/radius/server.ts';
import { ATTR, CODE, encodeRequest, parsePacket } from '../../firmware/src/radius/codec.ts';
import { radiusClientSchema } from '../../firmware/src/config/schema.ts';
import type { AccessRequest, HandlerReply } from '../../firmware/src/auth/types.ts';
import { radclient } from './helpers/radclient.ts';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.MFABOX_FUZZ_SEED ?? 20261129);
const rnd = mulberry32(SEED);
const int = (n: number): number => Math.floor(rnd() * n);
const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const SECRET = Buffer.from('fuzz-secret-0123456789');
const CAPS = { duplicateCacheEntries: 500, maxPending: 64, unknownSourceEntries: 32 };

const KNOWN = ['127.0.0.1', '127.0.0.3', '10.1.2.3', '10.200.7.9'];

function template(): { kind: 'auth' | 'acct'; pkt: Buffer } {
  const base = {
    identifier: int(256),
    authenticator: bytes(16),
    secret: SECRET,
  };
  switch (int(5)) {
    case 0:
      return {
        kind: 'auth',
        pkt: encodeRequest({
          ...base,
          attributes: [
            ['User-Name', pick(['alice', 'bob', 'mon', 'x'.repeat(int(200))])],
            ['Calling-Station-Id', '198.51.100.' + int(255)],
            ['NAS-IP-Address', '10.0.0.1'],
          ],
          password: pick(['pw', 'correct horse', '123456', 'mon-pw-sixteen-chars', '']),
        }),
      };
    case 1:
      return {
        kind: 'auth',
        pkt: encodeRequest({
          ...base,
          attributes: [
            ['User-Name', 'alice'],
            ['State', bytes(16)],
            ['Proxy-State', bytes(1 + int(20))],
            ['Proxy-State', bytes(1 + int(20))],
          ],
          password: '424242',
          messageAuthenticator: rnd() < 0.5,
        }),
      };
    case 2:
      return { kind: 'auth', pkt: encodeRequest({ ...base, code: CODE.StatusServer }) };
    case 3:
      return {
        kind: 'acct',
        pkt: encodeRequest({
          ...base,
          code: CODE.AccountingRequest,
          attributes: [
            ['Acct-Status-Type', 'Start'],
            ['Acct-Session-Id', 's' + int(1e6)],
          ],
          messageAuthenticator: rnd() < 0.3,
        }),
      };
    default:
      return {
        kind: 'auth',
        pkt: encodeRequest({ ...base, attributes: [['User-Name', 'bob']], password: 'pw' }),
      };
  }
}

/** Re-signs Message-Authenticator (if present at offset 20) so mutations reach the deep layers. */
function resign(p: Buffer): void {
  if (p.length < 38 || p[20] !== ATTR.MessageAuthenticator || p[21] !== 18) return;
  p.fill(0, 22, 38);
  const len = Math.min(p.readUInt16BE(2), p.length);
  createHmac('md5', SECRET).update(p.subarray(0, len)).digest().copy(p, 22);
}

function mutate(t: { kind: 'auth' | 'acct'; pkt: Buffer }): { kind: 'auth' | 'acct'; pkt: Buffer } {
  let p: Buffer = Buffer.from(t.pkt);
  const kind = rnd() < 0.05 ? (t.kind === 'auth' ? 'acct' : 'auth') : t.kind;
  switch (int(8)) {
    case 0: // flip bytes
      for (let i = 1 + int(8); i > 0; i--) {
        const at = int(p.length);
        p[at] = p[at]! ^ (1 << int(8));
      }
      break;
    case 1: // truncate
      p = p.subarray(0, int(p.length));
      break;
    case 2: // wrong Length field
      p.writeUInt16BE(int(65536), 2);
      break;
    case 3: {
      // huge attribute counts, Length made consistent (may pass 4096)
      const n = int(2100);
      const extra = Buffer.alloc(n * 2);
      for (let i = 0; i < n; i++) {
        extra[i * 2] = int(256);
        extra[i * 2 + 1] = 2;
      }
      p = Buffer.concat([p, extra]);
      p.writeUInt16BE(Math.min(p.length, 65535), 2);
      if (rnd() < 0.7) resign(p);
      break;
    }
    case 4: // garbage
      p = bytes(int(5000));
      break;
    case 5: // mutate attributes, then sign properly
      for (let i = 1 + int(4); i > 0; i--) {
        const at = 38 + int(Math.max(1, p.length - 38));
        if (at < p.length) p[at] = int(256);
      }
      resign(p);
      break;
    case 6: // change the code, keep the signature valid
      p[0] = pick([1, 2, 3, 4, 5, 11, 12, 13, 40, 43, 255, 0]);
      resign(p);
      break;
    default: // the packet untouched (valid), maybe a retransmit of itself later
      break;
  }
  return { kind, pkt: p };
}

function source(): { address: string; port: number } {
  const r = rnd();
  const address =
    r < 0.6
      ? pick(KNOWN)
      : r < 0.85
        ? `192.168.${int(256)}.${int(256)}`
        : r < 0.95
          ? `2001:db8::${int(65536).toString(16)}`
          : pick(['not-an-ip', '::ffff:127.0.0.1', '', 'fe80::1%lo']);
  return { address, port: 1024 + int(64000) };
}

describe('RADIUS fuzz', () => {
  let server: RadiusServer;
  let authPort = 0;
  let acctPort = 0;
  const calls: AccessRequest[] = [];
  const problems: unknown[] = [];
  const onProblem = (e: unknown) => problems.push(e);

  beforeAll(async () => {
    process.on('unhandledRejection', onProblem);
    process.on('uncaughtException', onProblem);
    const handler = async (req: AccessRequest): Promise<HandlerReply> => {
      calls.push(req);
      if (req.userName === 'final-check')
        return { code: 'Access-Accept', attributes: [['Reply-Message', 'ok']] };
      const r = rnd();
      if (r < 0.1) throw new Error('engine exploded');
      if (r < 0.15) return Promise.reject(new Error('rejected'));
      if (r < 0.2) return { code: 'Access-Accept', attributes: [['No-Such-Attr', 'x']] };
      if (r < 0.201) return new Promise<HandlerReply>(() => undefined); // never settles
      if (r < 0.5) return { code: 'Access-Challenge', attributes: [['State', bytes(16)]] };
      return {
        code: pick(['Access-Accept', 'Access-Reject'] as const),
        attributes: [['Reply-Message', 'x']],
      };
    };
    server = createRadiusServer({
      clients: [
        radiusClientSchema.parse({
          name: 'yes',
          address: '127.0.0.1',
          secret: SECRET.toString(),
          requireMessageAuthenticator: 'yes',
          monitorUser: 'mon',
          monitorPassword: 'mon-pw-sixteen-chars',
        }),
        radiusClientSchema.parse({
          name: 'no',
          address: '127.0.0.3',
          secret: SECRET.toString(),
          requireMessageAuthenticator: 'no',
        }),
        radiusClientSchema.parse({ name: 'auto', address: '10.0.0.0/8', secret: SECRET.toString() }),
        radiusClientSchema.parse({ name: 'v6', address: '::1', secret: SECRET.toString() }),
      ],
      handler,
      health: () => ({ healthy: rnd() < 0.5, reasons: ['flaky'] }),
      listen: [{ address: '127.0.0.1', port: 0 }],
      accounting: [{ address: '127.0.0.1', port: 0 }],
      handlerTimeoutMs: 1000,
      ...CAPS,
    });
    const { auth, acct } = await server.start();
    authPort = auth[0]!.port;
    acctPort = acct[0]!.port;
  });

  afterAll(async () => {
    process.off('unhandledRejection', onProblem);
    process.off('uncaughtException', onProblem);
    await server.stop();
  });

  const withinCaps = () => {
    const c = server.counters().caches;
    expect(c.duplicates.size).toBeLessThanOrEqual(CAPS.duplicateCacheEntries);
    expect(c.pending.size).toBeLessThanOrEqual(CAPS.maxPending);
    expect(c.unknownSources.size).toBeLessThanOrEqual(CAPS.unknownSourceEntries);
    expect(c.logKeys.size).toBeLessThanOrEqual(c.logKeys.capacity);
  };

  it('survives 100k random and mutated packets through the pipeline', async () => {
    let replies = 0;
    let badReplies = 0;
    const N = 100_000;
    let last: { kind: 'auth' | 'acct'; pkt: Buffer; src: { address: string; port: number } } | undefined;
    for (let i = 0; i < N; i++) {
      let job: { kind: 'auth' | 'acct'; pkt: Buffer; src: { address: string; port: number } };
      if (last && rnd() < 0.05)
        job = last; // a retransmit
      else job = { ...mutate(template()), src: source() };
      last = job;
      server.handleDatagram(job.kind, job.pkt, job.src, (r) => {
        replies++;
        const p = parsePacket(r);
        const access =
          p.ok && [CODE.AccessAccept, CODE.AccessReject, CODE.AccessChallenge].includes(p.packet.code as 2);
        if (!p.ok || (access && p.packet.attributes[0]?.type !== ATTR.MessageAuthenticator)) badReplies++;
      });
      if (i % 1000 === 999) {
        await new Promise((r) => setImmediate(r));
        withinCaps();
      }
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(problems).toEqual([]);
    expect(badReplies).toBe(0);
    expect(replies).toBeGreaterThan(1000); // the valid share got real answers
    const c = server.counters();
    if (process.env.MFABOX_FUZZ_VERBOSE)
      console.log(
        JSON.stringify({ ...c, unknownClients: c.unknownClients.drops, calls: calls.length, replies }),
      );
    expect(c.unknownClients.drops).toBeGreaterThan(10_000);
    expect(c.clients.yes!.drops.malformed).toBeGreaterThan(1000);
    withinCaps();
  }, 60_000);

  it('survives a few thousand over the real sockets and still answers radclient correctly', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    for (let i = 0; i < 3000; i++) {
      const { kind, pkt } = mutate(template());
      await new Promise<void>((r) =>
        sock.send(pkt, kind === 'auth' ? authPort : acctPort, '127.0.0.1', () => r()),
      );
    }
    sock.close();
    await new Promise((r) => setTimeout(r, 100));
    const rc = await radclient({
      server: `127.0.0.1:${authPort}`,
      command: 'auth',
      secret: SECRET.toString(),
      lines: ['User-Name = "final-check"', 'User-Password = "pw"', 'Message-Authenticator = 0x00'],
    });
    expect(rc.exitCode, rc.stdout + rc.stderr).toBe(0);
    expect(rc.replies[0]!.code).toBe('Access-Accept');
    expect(rc.replies[0]!.attributes).toEqual([
      ['Message-Authenticator', expect.stringMatching(/^0x[0-9a-f]{32}$/)],
      ['Reply-Message', 'ok'],
    ]);
    const st = await radclient({
      server: `127.0.0.1:${authPort}`,
      command: 'status',
      secret: SECRET.toString(),
      lines: ['Message-Authenticator = 0x00'],
    });
    expect(st.replies[0]!.code).toBe('Access-Accept');
    expect(problems).toEqual([]);
    withinCaps();
  }, 60_000);
});
