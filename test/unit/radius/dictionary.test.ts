/**
 * The hand-written attribute paths of dictionary.ts against the npm `radius` package they
 * replace on the request path: the same packets rejected, the same values read, the same
 * octets written. Random packets (a seeded generator, so a failure replays) cover what the
 * examples miss; then random bytes and random well-signed packets through the whole pipeline.
 */
import { describe, expect, it } from 'vitest';
import { createHmac, randomBytes } from 'node:crypto';
import radius from 'radius';
import {
  ATTR,
  MalformedAttributeError,
  decodeAttributes,
  encodeAttributes,
  readRequestAttributes,
} from '../../../firmware/src/radius/dictionary.ts';
import { CODE, encodeReply, encodeRequest, parsePacket } from '../../../firmware/src/radius/codec.ts';
import { createRadiusServer } from '../../../firmware/src/radius/server.ts';
import { radiusClientSchema } from '../../../firmware/src/config/schema.ts';
import type { HandlerReply } from '../../../firmware/src/auth/types.ts';

/** mulberry32: small, seeded, good enough to pick bytes. */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

function packet(attrs: Buffer[]): Buffer {
  const body = Buffer.concat(attrs);
  const out = Buffer.alloc(20 + body.length);
  out[0] = CODE.AccessRequest;
  out.writeUInt16BE(out.length, 2);
  body.copy(out, 20);
  return out;
}

const attr = (type: number, value: Buffer): Buffer =>
  Buffer.concat([Buffer.from([type, 2 + value.length]), value]);

/** Attributes chosen to reach every case: strings, integers, dates, tags, addresses, vendors. */
const TYPES = [1, 4, 5, 6, 30, 31, 32, 55, 61, 64, 65, 69, 81, 26, 26, 26, 200, 241];
const VENDORS = [3845, 3507, 311, 9, 0, 4294967295, 123456];

function randomAttribute(r: (n: number) => number): Buffer {
  const type = TYPES[r(TYPES.length)]!;
  if (type === 26 && r(4) > 0) {
    // A Vendor-Specific with sub-attributes, sometimes malformed inside.
    const vendor = VENDORS[r(VENDORS.length)]!;
    const subs: Buffer[] = [];
    for (let i = r(3); i >= 0; i--) {
      const len = r(8);
      const sub = Buffer.alloc(2 + len);
      sub[0] = r(4) === 0 ? r(256) : 1 + r(20);
      sub[1] = r(6) === 0 ? r(12) : 2 + len;
      for (let j = 2; j < sub.length; j++) sub[j] = r(256);
      subs.push(sub);
    }
    const head = Buffer.alloc(4);
    head.writeUInt32BE(vendor);
    if (r(10) === 0) head[0] = 1 + r(255);
    const value = Buffer.concat([head, ...subs]).subarray(0, r(10) === 0 ? r(4) : 253);
    return attr(26, value);
  }
  const len = r(5) === 0 ? r(4) : r(12);
  const value = Buffer.alloc(len);
  for (let j = 0; j < len; j++) value[j] = r(5) === 0 ? 0xc3 : 0x20 + r(0x60);
  return attr(type, value);
}

function packageRead(bytes: Buffer): Record<string, string | undefined> | 'throws' {
  let a: Record<string, unknown>;
  try {
    a = decodeAttributes(bytes);
  } catch {
    return 'throws';
  }
  const first = (v: unknown): string | undefined =>
    Array.isArray(v) ? first(v[0]) : (v as string | undefined);
  return {
    userName: first(a['User-Name']),
    callingStationId: first(a['Calling-Station-Id']),
    nasIdentifier: first(a['NAS-Identifier']),
    nasIpAddress: first(a['NAS-IP-Address']),
  };
}

function ourRead(bytes: Buffer): Record<string, string | undefined> | 'throws' {
  try {
    return { ...readRequestAttributes(bytes) };
  } catch (e) {
    expect(e).toBeInstanceOf(MalformedAttributeError);
    return 'throws';
  }
}

describe('readRequestAttributes', () => {
  it('reads the four attributes the engine uses, the first of each', () => {
    const p = packet([
      attr(ATTR.UserName, Buffer.from('alice@corp')),
      attr(ATTR.UserName, Buffer.from('mallory')),
      attr(ATTR.NasIpAddress, Buffer.from([192, 0, 2, 7])),
      attr(ATTR.CallingStationId, Buffer.from('203.0.113.5')),
      attr(ATTR.NasIdentifier, Buffer.from('ns1')),
      attr(5, Buffer.from([0, 0, 0, 3])),
    ]);
    expect(readRequestAttributes(p)).toEqual({
      userName: 'alice@corp',
      nasIpAddress: '192.0.2.7',
      callingStationId: '203.0.113.5',
      nasIdentifier: 'ns1',
    });
  });

  it('rejects what the package cannot type: a short integer, an empty tag, a bad vendor id', () => {
    const cases = [
      attr(5, Buffer.from([0, 3])), // NAS-Port in 2 octets
      attr(55, Buffer.from([1, 2, 3])), // Event-Timestamp (date) in 3
      attr(64, Buffer.alloc(0)), // Tunnel-Type with no tag octet
      attr(26, Buffer.from([1, 0, 0x0f, 0x05, 1, 3, 1])), // vendor id's first octet not 0
      attr(26, Buffer.from([0, 0, 0x0f])), // vendor id cut short
      attr(26, Buffer.from([0, 0, 0x0f, 0x05, 1])), // a lone sub-attribute type octet
      attr(26, Buffer.from([0, 0, 0x0f, 0x05, 1, 1])), // sub-attribute length 1
    ];
    for (const c of cases) {
      const p = packet([attr(ATTR.UserName, Buffer.from('bob')), c]);
      expect(packageRead(p)).toBe('throws');
      expect(() => readRequestAttributes(p)).toThrow(MalformedAttributeError);
    }
  });

  it('agrees with the package on 20,000 random packets (what is rejected and what is read)', () => {
    const r = rng(20261206);
    let rejected = 0;
    for (let i = 0; i < 20_000; i++) {
      const attrs: Buffer[] = [];
      for (let n = r(6); n >= 0; n--) attrs.push(randomAttribute(r));
      const p = packet(attrs);
      if (p.length > 4096) continue;
      const theirs = packageRead(p);
      const ours = ourRead(p);
      if (ours === 'throws') rejected++;
      expect(ours, p.toString('hex')).toEqual(theirs);
    }
    // Both outcomes were exercised, not just one.
    expect(rejected).toBeGreaterThan(1000);
    expect(rejected).toBeLessThan(19_000);
  });
});

describe('encodeAttributes', () => {
  const pkg = radius as unknown as {
    encode_attributes(out: Buffer, a: [string, unknown][], vendor: number): number;
  };
  const theirs = (list: [string, string | number][]): Buffer => {
    const out = Buffer.alloc(4096);
    return Buffer.from(out.subarray(0, pkg.encode_attributes(out, list, -1)));
  };

  it('writes strings, integers, enum names and addresses as the package does', () => {
    const list: [string, string | number][] = [
      ['Reply-Message', 'Enter the code sent to ••••1234: ünïcode'],
      ['Filter-Id', 'vpn-users'],
      ['Session-Timeout', 3600],
      ['Idle-Timeout', 0],
      ['Service-Type', 'Login-User'],
      ['Service-Type', 2],
      ['Framed-IP-Address', '192.0.2.9'],
      ['Termination-Action', 'RADIUS-Request'],
    ];
    expect(encodeAttributes(list)).toEqual(theirs(list));
    // One at a time too (each takes its own path).
    for (const a of list) expect(encodeAttributes([a])).toEqual(theirs([a]));
  });

  it('leaves an empty string out, as the package does, and refuses what cannot be written', () => {
    expect(encodeAttributes([['Reply-Message', '']])).toEqual(Buffer.alloc(0));
    expect(() => encodeAttributes([['Reply-Message', 'x'.repeat(254)]])).toThrow(/longer than 253/);
    expect(() => encodeAttributes([['No-Such-Attribute', 'x']])).toThrow(/unknown attribute/);
    expect(() => encodeAttributes([['Session-Timeout', -1]])).toThrow();
    expect(() => encodeAttributes([['Session-Timeout', 'soon']])).toThrow();
  });

  it('writes octets from 0x-hex or text, and a Buffer as given', () => {
    expect(encodeAttributes([['Class', '0x6d66']])).toEqual(Buffer.from([25, 4, 0x6d, 0x66]));
    expect(encodeAttributes([['Class', 'mf']])).toEqual(Buffer.from([25, 4, 0x6d, 0x66]));
    expect(encodeAttributes([['State', Buffer.from([1, 2])]])).toEqual(Buffer.from([24, 4, 1, 2]));
  });

  it('encodeReply takes the list itself and gives the same packet as pre-encoded attributes', () => {
    const list: [string, string | number][] = [
      ['Reply-Message', 'hello'],
      ['Session-Timeout', 60],
    ];
    const base = {
      code: CODE.AccessAccept,
      identifier: 9,
      requestAuthenticator: randomBytes(16),
      secret: Buffer.from('s3cret-s3cret-s3cret'),
    };
    expect(encodeReply({ ...base, attributes: list })).toEqual(
      encodeReply({ ...base, attributes: encodeAttributes(list) }),
    );
  });
});

describe('the pipeline on junk (never a throw, never an answer to garbage)', () => {
  const SECRET = Buffer.from('fuzz-secret-0123456789');
  const answered: HandlerReply = { code: 'Access-Reject', attributes: [['Reply-Message', 'no']] };
  const make = () => {
    let handled = 0;
    const s = createRadiusServer({
      clients: [
        radiusClientSchema.parse({
          name: 'nas',
          address: '192.0.2.0/24',
          secret: SECRET.toString(),
          requireMessageAuthenticator: 'yes',
        }),
      ],
      handler: () => {
        handled++;
        return Promise.resolve(answered);
      },
      listen: [],
    });
    return { s, handled: () => handled };
  };

  it('drops 5,000 random datagrams without throwing or answering', () => {
    const { s, handled } = make();
    const r = rng(7);
    const replies: Buffer[] = [];
    for (let i = 0; i < 5_000; i++) {
      const b = Buffer.alloc(r(200));
      for (let j = 0; j < b.length; j++) b[j] = r(256);
      if (b.length >= 4 && r(2) === 0) {
        b[0] = CODE.AccessRequest;
        b.writeUInt16BE(b.length, 2);
      }
      expect(() =>
        s.handleDatagram('auth', b, { address: '192.0.2.1', port: 1000 + i }, (x) => replies.push(x)),
      ).not.toThrow();
    }
    expect(replies).toEqual([]);
    expect(handled()).toBe(0);
    const drops = s.counters().clients.nas!.drops;
    expect((drops.malformed ?? 0) + (drops['missing-message-authenticator'] ?? 0)).toBeGreaterThan(0);
  });

  it('signed requests with random attributes: malformed ones dropped, the rest reach the engine', async () => {
    const { s, handled } = make();
    const r = rng(99);
    let expectedMalformed = 0;
    let sent = 0;
    for (let i = 0; i < 2_000; i++) {
      const extra: Buffer[] = [];
      for (let n = r(4); n >= 0; n--) extra.push(randomAttribute(r));
      const base = encodeRequest({
        identifier: i & 0xff,
        authenticator: randomBytes(16),
        secret: SECRET,
        attributes: [['User-Name', `u${i}`]],
        password: 'pw',
      });
      const body = Buffer.concat([base, ...extra]);
      if (body.length > 4096) continue;
      body.writeUInt16BE(body.length, 2);
      // Re-sign: Message-Authenticator (first, at offset 20) over the packet as it now stands.
      body.fill(0, 22, 38);
      createHmac('md5', SECRET).update(body).digest().copy(body, 22);
      const p = parsePacket(body);
      expect(p.ok).toBe(true);
      if (packageRead(body) === 'throws') expectedMalformed++;
      sent++;
      s.handleDatagram('auth', body, { address: '192.0.2.1', port: 2000 + i }, () => {});
    }
    await new Promise((res) => setTimeout(res, 20));
    const drops = s.counters().clients.nas!.drops;
    expect(drops.malformed ?? 0).toBe(expectedMalformed);
    expect(handled()).toBe(sent - expectedMalformed);
    expect(expectedMalformed).toBeGreaterThan(0);
  });
});
