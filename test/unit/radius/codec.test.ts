import { describe, expect, it } from 'vitest';
import { createHash, createHmac } from 'node:crypto';
import {
  ATTR,
  CODE,
  decodeAttributes,
  decodeUserPassword,
  encodeAttributes,
  encodeReply,
  encodeRequest,
  encodeUserPassword,
  MAX_VSA_DATA,
  parsePacket,
  vendorSpecific,
  verifyAccountingAuthenticator,
  verifyMessageAuthenticator,
  verifyReply,
} from '../../../firmware/src/radius/codec.ts';
import type { ParsedPacket } from '../../../firmware/src/radius/codec.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const RFC_SECRET = Buffer.from('xyzzy5461');

function parsed(b: Buffer): ParsedPacket {
  const r = parsePacket(b);
  if (!r.ok) throw new Error(`parse failed: ${r.reason}`);
  return r.packet;
}

// RFC 2865 §7.1 "User Telnet to Specified Host": nemo / arctangent from NAS 192.168.1.16 port 3.
const RFC7_1_REQUEST = hex(`
  01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb
  98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d
  93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8
  01 10 05 06 00 00 00 03`);
const RFC7_1_ACCEPT = hex(`
  02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf
  9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00
  0e 06 c0 a8 01 03`);
// RFC 2865 §7.2 "Framed Authentication with Challenge" (CHAP): flopsy from port 20.
const RFC7_2_REQUEST = hex(`
  01 01 00 47 2a ee 86 f0 8d 0d 55 96 9c a5 97 8e
  0d 33 67 a2 01 08 66 6c 6f 70 73 79 03 13 16 e9
  75 57 c3 16 18 58 95 f2 93 ff 63 44 07 72 75 04
  06 c0 a8 01 10 05 06 00 00 00 14 06 06 00 00 00
  02 07 06 00 00 00 01`);
const RFC7_2_ACCEPT = hex(`
  02 01 00 38 15 ef bc 7d ab 26 cf a3 dc 34 d9 c0
  3c 86 01 a4 06 06 00 00 00 02 07 06 00 00 00 01
  08 06 ff ff ff fe 0a 06 00 00 00 02 0d 06 00 00
  00 01 0c 06 00 00 05 dc`);

describe('RFC 2865 §7.1 example packets', () => {
  it('decodes the Access-Request with the package dictionary and the hidden password', () => {
    const p = parsed(RFC7_1_REQUEST);
    expect(p.code).toBe(CODE.AccessRequest);
    expect(decodeAttributes(p)).toMatchObject({
      'User-Name': 'nemo',
      'NAS-IP-Address': '192.168.1.16',
      'NAS-Port': 3,
    });
    const pw = p.attributes.find((a) => a.type === ATTR.UserPassword);
    expect(decodeUserPassword(pw!.value, RFC_SECRET, p.authenticator)).toEqual({
      ok: true,
      password: 'arctangent',
    });
  });

  it('re-encodes the Access-Request byte for byte', () => {
    const p = parsed(RFC7_1_REQUEST);
    const again = encodeRequest({
      identifier: p.identifier,
      authenticator: p.authenticator,
      secret: RFC_SECRET,
      attributes: [
        ['User-Name', 'nemo'],
        ['User-Password', 'arctangent'],
        ['NAS-IP-Address', '192.168.1.16'],
        ['NAS-Port', 3],
      ],
      messageAuthenticator: false,
    });
    expect(again).toEqual(RFC7_1_REQUEST);
  });

  it('re-encodes the Access-Accept byte for byte, Response Authenticator included', () => {
    const p = parsed(RFC7_1_REQUEST);
    const attrs = encodeAttributes([
      ['Service-Type', 'Login-User'],
      ['Login-Service', 'Telnet'],
      ['Login-IP-Host', '192.168.1.3'],
    ]);
    const reply = encodeReply({
      code: CODE.AccessAccept,
      identifier: 0,
      requestAuthenticator: p.authenticator,
      secret: RFC_SECRET,
      attributes: attrs,
      messageAuthenticator: false,
    });
    expect(reply).toEqual(RFC7_1_ACCEPT);
    expect(verifyReply(RFC7_1_ACCEPT, p.authenticator, RFC_SECRET)).toBe(true);
  });

  it('§7.2: decodes the CHAP request and re-encodes the Access-Accept byte for byte', () => {
    const p = parsed(RFC7_2_REQUEST);
    expect(decodeAttributes(p)).toMatchObject({
      'User-Name': 'flopsy',
      'Service-Type': 'Framed-User',
      'NAS-Port': 20,
    });
    const a = parsed(RFC7_2_ACCEPT);
    const reply = encodeReply({
      code: CODE.AccessAccept,
      identifier: 1,
      requestAuthenticator: p.authenticator,
      secret: RFC_SECRET,
      attributes: a.bytes.subarray(20),
      messageAuthenticator: false,
    });
    expect(reply).toEqual(RFC7_2_ACCEPT);
  });
});

describe('replies', () => {
  const secret = Buffer.from('s3cret-shared');
  const reqAuth = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

  it('puts Message-Authenticator first, computed per RFC 3579 with the Request Authenticator', () => {
    const r = encodeReply({
      code: CODE.AccessChallenge,
      identifier: 7,
      requestAuthenticator: reqAuth,
      secret,
      attributes: encodeAttributes([
        ['Reply-Message', 'Enter the PASSCODE'],
        ['State', Buffer.from('abcd')],
      ]),
      proxyStates: [Buffer.from('p1'), Buffer.from('p2-second')],
    });
    const p = parsed(r);
    expect(p.attributes[0]!.type).toBe(ATTR.MessageAuthenticator);
    expect(p.attributes.map((a) => a.type)).toEqual([
      ATTR.MessageAuthenticator,
      ATTR.ReplyMessage,
      ATTR.State,
      ATTR.ProxyState,
      ATTR.ProxyState,
    ]);
    expect(p.proxyStates.map((b) => b.toString())).toEqual(['p1', 'p2-second']);
    // Independent recomputation of both authenticators.
    const copy = Buffer.from(r);
    reqAuth.copy(copy, 4);
    copy.fill(0, 22, 38);
    const ma = createHmac('md5', secret).update(copy).digest();
    expect(r.subarray(22, 38)).toEqual(ma);
    const withMa = Buffer.from(copy);
    ma.copy(withMa, 22);
    expect(r.subarray(4, 20)).toEqual(createHash('md5').update(withMa).update(secret).digest());
    expect(verifyReply(r, reqAuth, secret)).toBe(true);
    expect(verifyReply(r, reqAuth, Buffer.from('other'))).toBe(false);
  });

  it('encodes vendor-specific attributes by number', () => {
    const b = encodeAttributes([['26:3845:16', 'CN=VPN Users']]);
    expect(b[0]).toBe(26);
    expect(b.readUInt32BE(2)).toBe(3845);
    expect(b[6]).toBe(16);
    expect(b.subarray(8).toString()).toBe('CN=VPN Users');
  });

  it('builds a Vendor-Specific attribute per RFC 2865 §5.26 and refuses one that cannot fit', () => {
    expect(vendorSpecific(3845, 1, Buffer.from('x'))).toEqual(
      Buffer.from([26, 9, 0, 0, 0x0f, 0x05, 1, 3, 0x78]),
    );
    expect(vendorSpecific(66, 16, Buffer.alloc(MAX_VSA_DATA))).toHaveLength(255);
    expect(() => vendorSpecific(66, 16, Buffer.alloc(MAX_VSA_DATA + 1))).toThrow(RangeError);
    expect(() => vendorSpecific(66, 256, Buffer.from('x'))).toThrow(RangeError);
    expect(() => encodeAttributes([['26:66:16', Buffer.alloc(MAX_VSA_DATA + 1)]])).toThrow(RangeError);
  });

  it('refuses unknown attribute names and over-long values', () => {
    expect(() => encodeAttributes([['No-Such-Attribute', 'x']])).toThrow();
    expect(() => encodeAttributes([['Reply-Message', 'x'.repeat(254)]])).toThrow();
    expect(() => encodeAttributes([['State', Buffer.alloc(254)]])).toThrow();
  });
});

describe('requests', () => {
  const secret = Buffer.from('testing123');
  const auth = Buffer.alloc(16, 7);

  it('verifies Message-Authenticator and detects tampering and the wrong secret', () => {
    const b = encodeRequest({
      identifier: 1,
      authenticator: auth,
      secret,
      attributes: [['User-Name', 'alice']],
      password: 'pw',
    });
    const p = parsed(b);
    expect(p.messageAuthenticatorOffset).toBe(20);
    expect(verifyMessageAuthenticator(p, secret)).toBe(true);
    expect(verifyMessageAuthenticator(p, Buffer.from('wrong'))).toBe(false);
    const t = Buffer.from(b);
    t[t.length - 1] = t[t.length - 1]! ^ 1;
    expect(verifyMessageAuthenticator(parsed(t), secret)).toBe(false);
  });

  it('verifies the accounting Request Authenticator (RFC 2866)', () => {
    const b = encodeRequest({
      code: CODE.AccountingRequest,
      identifier: 3,
      authenticator: auth,
      secret,
      attributes: [
        ['Acct-Status-Type', 'Start'],
        ['Acct-Session-Id', 'abc'],
      ],
      messageAuthenticator: false,
    });
    expect(verifyAccountingAuthenticator(parsed(b), secret)).toBe(true);
    expect(verifyAccountingAuthenticator(parsed(b), Buffer.from('nope'))).toBe(false);
  });

  it('round-trips passwords up to 128 octets, including UTF-8', () => {
    for (const pw of ['', 'a', 'x'.repeat(16), 'Pässwörd-✓', 'y'.repeat(128)]) {
      const c = encodeUserPassword(pw, secret, auth);
      expect(decodeUserPassword(c, secret, auth)).toEqual({ ok: true, password: pw });
    }
    expect(() => encodeUserPassword('z'.repeat(129), secret, auth)).toThrow(RangeError);
  });

  it('reports a password hidden with another secret as undecodable (wrong shared secret)', () => {
    let undecodable = 0;
    for (let i = 0; i < 200; i++) {
      const a = Buffer.alloc(16, i);
      const c = encodeUserPassword(`Summer2024!${i}`, Buffer.from('the-real-secret'), a);
      if (!decodeUserPassword(c, secret, a).ok) undecodable++;
    }
    // Random 16-byte blocks are almost never UTF-8 without NUL; allow a rare fluke.
    expect(undecodable).toBeGreaterThanOrEqual(198);
  });

  it('rejects passwords with a NUL inside or a bad length', () => {
    const c = encodeUserPassword('ab\u0000cd', secret, auth);
    expect(decodeUserPassword(c, secret, auth)).toEqual({ ok: false, reason: 'undecodable' });
    expect(decodeUserPassword(Buffer.alloc(15), secret, auth)).toEqual({ ok: false, reason: 'bad-length' });
    expect(decodeUserPassword(Buffer.alloc(17), secret, auth)).toEqual({ ok: false, reason: 'bad-length' });
    expect(decodeUserPassword(Buffer.alloc(144), secret, auth)).toEqual({ ok: false, reason: 'bad-length' });
  });
});

describe('parsePacket sanity', () => {
  const good = encodeRequest({
    identifier: 9,
    authenticator: Buffer.alloc(16, 1),
    secret: Buffer.from('k'),
    attributes: [['User-Name', 'bob']],
    password: 'x',
  });

  it('accepts a well-formed packet and ignores UDP padding past Length', () => {
    expect(parsePacket(good).ok).toBe(true);
    const padded = Buffer.concat([good, Buffer.alloc(10, 0xee)]);
    const r = parsePacket(padded);
    expect(r.ok && r.packet.bytes.length).toBe(good.length);
  });

  it.each([
    ['shorter than 20 octets', good.subarray(0, 19), 'too-short'],
    ['Length field below 20', Buffer.from(good).fill(0, 2, 4), 'too-short'],
    ['datagram over 4096', Buffer.alloc(4097), 'too-long'],
    ['Length past the datagram', good.subarray(0, good.length - 1), 'length-mismatch'],
  ] as const)('drops %s', (_name, b, reason) => {
    expect(parsePacket(b)).toEqual({ ok: false, reason });
  });

  it('drops attribute lengths below 2 or running past Length', () => {
    const zero = Buffer.from(good);
    zero[good.length - 4] = 1; // User-Name 'bob' is last: 01 05 62 6f 62
    expect(parsePacket(zero)).toEqual({ ok: false, reason: 'bad-attribute-length' });
    const long = Buffer.from(good);
    long[good.length - 4] = 6;
    expect(parsePacket(long)).toEqual({ ok: false, reason: 'bad-attribute-length' });
    const dangling = Buffer.concat([good, Buffer.from([1])]);
    dangling.writeUInt16BE(dangling.length, 2);
    expect(parsePacket(dangling)).toEqual({ ok: false, reason: 'bad-attribute-length' });
  });

  it('drops a second or mis-sized Message-Authenticator', () => {
    const two = Buffer.concat([good, good.subarray(20, 38)]);
    two.writeUInt16BE(two.length, 2);
    expect(parsePacket(two)).toEqual({ ok: false, reason: 'duplicate-message-authenticator' });
    const short = Buffer.concat([good, Buffer.from([80, 4, 0, 0])]);
    short.writeUInt16BE(short.length, 2);
    expect(parsePacket(short)).toEqual({ ok: false, reason: 'bad-message-authenticator-length' });
  });
});

describe('octets attributes from config', () => {
  it('takes 0x-hex or UTF-8 text for octets attributes such as Class', () => {
    expect(encodeAttributes([['Class', '0x0102ff']])).toEqual(Buffer.from([25, 5, 1, 2, 0xff]));
    expect(encodeAttributes([['Class', 'vpn']])).toEqual(Buffer.from([25, 5, 0x76, 0x70, 0x6e]));
    expect(() => encodeAttributes([['Class', 5]])).toThrow();
    expect(encodeAttributes([['Session-Timeout', 28800]])).toEqual(Buffer.from([27, 6, 0, 0, 0x70, 0x80]));
  });
});
