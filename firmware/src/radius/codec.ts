/**
 * The RADIUS wire format. Pure: no sockets, no clock.
 *
 * Attribute values (names, types, the package's dictionary) are dictionary.ts's job; packets
 * are framed here, because the package appends Message-Authenticator last and BlastRADIUS
 * advice (draft-ietf-radext-deprecating-radius) wants it first in every reply; we build replies
 * in that order instead of rearranging its output.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { hmacMd5Into, md5Into } from './md5.ts';
import {
  ATTR,
  decodeAttributes as decodePacketAttributes,
  encodeAttributes,
  encodeAttributesTransient,
  type ReplyAttribute,
} from './dictionary.ts';

export {
  ATTR,
  encodeAttributes,
  MalformedAttributeError,
  MAX_VSA_DATA,
  readRequestAttributes,
  vendorSpecific,
  type AttributeValue,
  type ReplyAttribute,
  type RequestAttributes,
} from './dictionary.ts';

export const CODE = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccountingRequest: 4,
  AccountingResponse: 5,
  AccessChallenge: 11,
  StatusServer: 12,
} as const;

export const MIN_PACKET = 20;
export const MAX_PACKET = 4096;
const HEADER = 20;
const MA_LENGTH = 16;

export interface RawAttribute {
  readonly type: number;
  /** Offset of the attribute's type octet inside the packet. */
  readonly offset: number;
  readonly value: Buffer;
}

/**
 * An attribute whose value view is made when first read: a request has half a dozen attributes
 * and the pipeline reads two of them (User-Password, State), so the other views were garbage.
 */
class LazyAttribute implements RawAttribute {
  private view: Buffer | undefined;

  constructor(
    private readonly packet: Buffer,
    readonly type: number,
    readonly offset: number,
  ) {}

  get value(): Buffer {
    return (this.view ??= this.packet.subarray(
      this.offset + 2,
      this.offset + (this.packet[this.offset + 1] as number),
    ));
  }
}

export interface ParsedPacket {
  code: number;
  identifier: number;
  /** The packet up to its Length field (octets past it are UDP padding, ignored per RFC 2865 §3). */
  bytes: Buffer;
  authenticator: Buffer;
  attributes: RawAttribute[];
  /** Offset of the Message-Authenticator attribute, if present. */
  messageAuthenticatorOffset: number | undefined;
  proxyStates: Buffer[];
}

export type ParseFailure =
  | 'too-short'
  | 'too-long'
  | 'length-mismatch'
  | 'bad-attribute-length'
  | 'bad-message-authenticator-length'
  | 'duplicate-message-authenticator';

export type ParseResult = { ok: true; packet: ParsedPacket } | { ok: false; reason: ParseFailure };

/**
 * Frames a datagram: Length within 20–4096 and not past the datagram, attribute lengths ≥ 2 and
 * summing exactly to Length. O(attributes), at most 2038 of them.
 */
export function parsePacket(datagram: Buffer): ParseResult {
  if (datagram.length < MIN_PACKET) return { ok: false, reason: 'too-short' };
  if (datagram.length > MAX_PACKET) return { ok: false, reason: 'too-long' };
  const length = datagram.readUInt16BE(2);
  if (length < MIN_PACKET) return { ok: false, reason: 'too-short' };
  if (length > MAX_PACKET) return { ok: false, reason: 'too-long' };
  if (length > datagram.length) return { ok: false, reason: 'length-mismatch' };
  const bytes = length === datagram.length ? datagram : datagram.subarray(0, length);
  const attributes: RawAttribute[] = [];
  const proxyStates: Buffer[] = [];
  let messageAuthenticatorOffset: number | undefined;
  let off = HEADER;
  while (off < length) {
    if (off + 2 > length) return { ok: false, reason: 'bad-attribute-length' };
    const type = bytes[off] as number;
    const alen = bytes[off + 1] as number;
    if (alen < 2 || off + alen > length) return { ok: false, reason: 'bad-attribute-length' };
    if (type === ATTR.MessageAuthenticator) {
      if (alen !== 2 + MA_LENGTH) return { ok: false, reason: 'bad-message-authenticator-length' };
      if (messageAuthenticatorOffset !== undefined)
        return { ok: false, reason: 'duplicate-message-authenticator' };
      messageAuthenticatorOffset = off;
    } else if (type === ATTR.ProxyState) {
      proxyStates.push(bytes.subarray(off + 2, off + alen));
    }
    attributes.push(new LazyAttribute(bytes, type, off));
    off += alen;
  }
  return {
    ok: true,
    packet: {
      code: bytes[0] as number,
      identifier: bytes[1] as number,
      bytes,
      authenticator: bytes.subarray(4, HEADER),
      attributes,
      messageAuthenticatorOffset,
      proxyStates,
    },
  };
}

export function firstAttribute(p: ParsedPacket, type: number): Buffer | undefined {
  for (const a of p.attributes) if (a.type === type) return a.value;
  return undefined;
}

/**
 * RFC 3579 §3.2: HMAC-MD5 over the packet with the Message-Authenticator value zeroed. Access-Request
 * and Status-Server use the Request Authenticator as sent; Accounting-Request (RFC 5176 style, as
 * radclient and FreeRADIUS do) uses 16 zero octets in its place.
 */
const ZEROS = Buffer.alloc(16);
/** The computed Message-Authenticator, compared at once (every use is synchronous). */
const MA_SCRATCH = Buffer.alloc(MA_LENGTH);

export function verifyMessageAuthenticator(p: ParsedPacket, secret: Buffer): boolean {
  const at = p.messageAuthenticatorOffset;
  if (at === undefined) return false;
  // Hashed in pieces with the zeroed parts given as counts: no copy of the packet (md5.ts).
  const b = p.bytes;
  if (p.code === CODE.AccountingRequest)
    hmacMd5Into(
      MA_SCRATCH,
      0,
      secret,
      b.subarray(0, 4),
      16,
      b.subarray(HEADER, at + 2),
      MA_LENGTH,
      b.subarray(at + 2 + MA_LENGTH),
    );
  else hmacMd5Into(MA_SCRATCH, 0, secret, b.subarray(0, at + 2), MA_LENGTH, b.subarray(at + 2 + MA_LENGTH));
  return timingSafeEqual(MA_SCRATCH, b.subarray(at + 2, at + 2 + MA_LENGTH));
}

const ACCT_SCRATCH = Buffer.alloc(16);

/** RFC 2866 §3: Request Authenticator = MD5(Code|ID|Length|16 zero octets|Attributes|Secret). */
export function verifyAccountingAuthenticator(p: ParsedPacket, secret: Buffer): boolean {
  md5Into(ACCT_SCRATCH, 0, p.bytes.subarray(0, 4), ZEROS, p.bytes.subarray(HEADER), secret);
  return timingSafeEqual(ACCT_SCRATCH, p.authenticator);
}

const PW_SCRATCH = Buffer.alloc(16);

export type PasswordResult =
  { ok: true; password: string } | { ok: false; reason: 'bad-length' | 'undecodable' };

/**
 * RFC 2865 §5.2 User-Password hiding, reversed. The trailing NUL padding is removed; a NUL before
 * it, or bytes that are not UTF-8, almost always mean the NAS uses another shared secret, so the
 * caller drops the request instead of binding with garbage and locking the AD account.
 */
export function decodeUserPassword(
  cipher: Buffer,
  secret: Buffer,
  requestAuthenticator: Buffer,
): PasswordResult {
  if (cipher.length < 16 || cipher.length > 128 || cipher.length % 16 !== 0)
    return { ok: false, reason: 'bad-length' };
  const plain = Buffer.allocUnsafe(cipher.length);
  const b = PW_SCRATCH;
  let prev = requestAuthenticator;
  for (let i = 0; i < cipher.length; i += 16) {
    md5Into(b, 0, secret, prev);
    for (let j = 0; j < 16; j++) plain[i + j] = (cipher[i + j] as number) ^ (b[j] as number);
    prev = cipher.subarray(i, i + 16);
  }
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end--;
  const body = plain.subarray(0, end);
  if (body.includes(0) || !isUtf8(body)) return { ok: false, reason: 'undecodable' };
  return { ok: true, password: body.toString('utf8') };
}

/** RFC 2865 §5.2 in the forward direction, for test peers and the benchmark's own client. */
export function encodeUserPassword(password: string, secret: Buffer, requestAuthenticator: Buffer): Buffer {
  const raw = Buffer.from(password, 'utf8');
  const len = Math.max(16, Math.ceil(raw.length / 16) * 16);
  if (len > 128) throw new RangeError('User-Password longer than 128 octets');
  const out = Buffer.alloc(len);
  raw.copy(out);
  let prev = requestAuthenticator;
  for (let i = 0; i < len; i += 16) {
    const b = createHash('md5').update(secret).update(prev).digest();
    for (let j = 0; j < 16; j++) out[i + j] = (out[i + j] as number) ^ (b[j] as number);
    prev = out.subarray(i, i + 16);
  }
  return out;
}

/**
 * The package's decoding of every attribute to dictionary names and typed values; throws where
 * it cannot type one. For tests and tools; the request path reads `readRequestAttributes`.
 */
export function decodeAttributes(p: ParsedPacket): Record<string, unknown> {
  return decodePacketAttributes(p.bytes);
}

export interface ReplyInput {
  code: number;
  identifier: number;
  requestAuthenticator: Buffer;
  secret: Buffer;
  /**
   * Placed after Message-Authenticator: already encoded (see `encodeAttributes`), or a list
   * encoded here straight into the reply (throws as `encodeAttributes` does).
   */
  attributes: Buffer | readonly ReplyAttribute[];
  /** Proxy-State values from the request, copied back last and in order (RFC 2865 §5.33). */
  proxyStates?: readonly Buffer[];
  /** Default true. False only to reproduce historic packets (RFC 2865 §7 examples) in tests. */
  messageAuthenticator?: boolean;
}

/**
 * Access-Accept / Reject / Challenge (and Accounting-Response, with messageAuthenticator false):
 * Message-Authenticator first, computed over the reply with the Request Authenticator in place
 * (RFC 3579 §3.2), then the Response Authenticator MD5(Code|ID|Length|ReqAuth|Attributes|Secret).
 */
export function encodeReply(r: ReplyInput): Buffer {
  const withMa = r.messageAuthenticator ?? true;
  const attributes = Buffer.isBuffer(r.attributes) ? r.attributes : encodeAttributesTransient(r.attributes);
  let length = HEADER + (withMa ? 2 + MA_LENGTH : 0) + attributes.length;
  for (const ps of r.proxyStates ?? []) length += 2 + ps.length;
  if (length > MAX_PACKET) throw new RangeError('reply exceeds 4096 octets');
  // From Node's shared pool: replies live in the reply cache, and a pooled slice costs far less
  // memory than its own ArrayBuffer. Every octet is written below (the MA value zeroed first).
  const out = Buffer.allocUnsafe(length);
  out[0] = r.code;
  out[1] = r.identifier;
  out.writeUInt16BE(length, 2);
  r.requestAuthenticator.copy(out, 4, 0, 16);
  let off = HEADER;
  if (withMa) {
    out[off] = ATTR.MessageAuthenticator;
    out[off + 1] = 2 + MA_LENGTH;
    out.fill(0, off + 2, off + 2 + MA_LENGTH);
    off += 2 + MA_LENGTH;
  }
  attributes.copy(out, off);
  off += attributes.length;
  for (const ps of r.proxyStates ?? []) {
    out[off] = ATTR.ProxyState;
    out[off + 1] = 2 + ps.length;
    ps.copy(out, off + 2);
    off += 2 + ps.length;
  }
  if (withMa) hmacMd5Into(out, HEADER + 2, r.secret, out);
  md5Into(out, 4, out, r.secret);
  return out;
}

export interface RequestInput {
  code?: number;
  identifier: number;
  /** 16 octets; random in real use. Ignored for Accounting-Request, whose authenticator is computed. */
  authenticator: Buffer;
  secret: Buffer;
  /** Attributes other than Message-Authenticator; a string User-Password is hidden in place. */
  attributes?: readonly ReplyAttribute[];
  /** Shorthand for a User-Password placed first. */
  password?: string;
  /** Default true: Message-Authenticator first, as BlastRADIUS-fixed clients send it. */
  messageAuthenticator?: boolean;
}

/**
 * Builds a request the way a NAS does (Access-Request, Status-Server, Accounting-Request). The
 * server never sends requests; tests, the fuzzer and the benchmark do.
 */
export function encodeRequest(r: RequestInput): Buffer {
  const code = r.code ?? CODE.AccessRequest;
  const withMa = r.messageAuthenticator ?? true;
  const auth = code === CODE.AccountingRequest ? Buffer.alloc(16) : r.authenticator;
  // A User-Password given as text among the attributes is hidden in place (RFC 2865 §5.2).
  const listed = (r.attributes ?? []).map(([k, v]): ReplyAttribute =>
    k === 'User-Password' && typeof v === 'string' ? [k, encodeUserPassword(v, r.secret, auth)] : [k, v],
  );
  const attrs = [encodeAttributes(listed)];
  if (r.password !== undefined) {
    const pw = encodeUserPassword(r.password, r.secret, auth);
    attrs.unshift(Buffer.from([ATTR.UserPassword, 2 + pw.length]), pw);
  }
  const body = Buffer.concat(attrs);
  const length = HEADER + (withMa ? 2 + MA_LENGTH : 0) + body.length;
  if (length > MAX_PACKET) throw new RangeError('request exceeds 4096 octets');
  const out = Buffer.alloc(length);
  out[0] = code;
  out[1] = r.identifier;
  out.writeUInt16BE(length, 2);
  auth.copy(out, 4, 0, 16);
  let off = HEADER;
  if (withMa) {
    out[off] = ATTR.MessageAuthenticator;
    out[off + 1] = 2 + MA_LENGTH;
    off += 2 + MA_LENGTH;
  }
  body.copy(out, off);
  if (withMa)
    createHmac('md5', r.secret)
      .update(out)
      .digest()
      .copy(out, HEADER + 2);
  if (code === CODE.AccountingRequest) createHash('md5').update(out).update(r.secret).digest().copy(out, 4);
  return out;
}

/** Checks a reply the way a NAS does: Response Authenticator and, if present, Message-Authenticator. */
export function verifyReply(reply: Buffer, requestAuthenticator: Buffer, secret: Buffer): boolean {
  const parsed = parsePacket(reply);
  if (!parsed.ok) return false;
  const p = parsed.packet;
  const copy = Buffer.from(p.bytes);
  requestAuthenticator.copy(copy, 4);
  const expected = createHash('md5').update(copy).update(secret).digest();
  if (!expected.equals(p.authenticator)) return false;
  const at = p.messageAuthenticatorOffset;
  if (at === undefined) return true;
  copy.fill(0, at + 2, at + 2 + MA_LENGTH);
  const ma = createHmac('md5', secret).update(copy).digest();
  return ma.equals(p.bytes.subarray(at + 2, at + 2 + MA_LENGTH));
}

/** Code name for logs. */
export function codeName(code: number): string {
  for (const [k, v] of Object.entries(CODE)) if (v === code) return k;
  return `code-${code}`;
}
