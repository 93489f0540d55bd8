/**
 * Attribute values by the RADIUS dictionary: the only importer of npm `radius`. Pure.
 *
 * The package gives us its dictionary (names, numbers, types, enum values). Two paths run per
 * request and are written here by hand, because the package's generic versions cost more than
 * the rest of the passcode step's packet work together (profiled: `npm run bench -- login`):
 *  - `readRequestAttributes` reads the four attributes the engine uses and rejects a packet in
 *    exactly the cases the package's decoder throws (checked against it by a fuzz test);
 *  - `writeAttribute` writes strings, integers and octets in place; everything else (enum
 *    names, addresses, dates, tagged attributes) still goes through the package's encoder.
 */
import radius from 'radius';

/** RFC 2865 §3: a packet's maximum length. */
const MAX_PACKET = 4096;
/** The package's key for attributes outside any vendor. */
const NO_VENDOR = -1;

/** The slice of the package's runtime we use; @types/radius leaves these out. */
interface RadiusRuntime {
  load_dictionaries(): void;
  attr_name_to_id(name: string, vendor?: number): string | undefined;
  /** target 1: name; 2: the dictionary type ("string", "octets", "integer", ...). */
  _attr_to(name: string, vendor: number | undefined, target: 1 | 2): string | undefined;
  /** target 4: enum name → value; 5: modifiers (`has_tag`, `encrypt=1`, ...). */
  _attr_to(name: string, vendor: number | undefined, target: 4 | 5): Record<string, unknown> | undefined;
  decode_without_secret(args: { packet: Buffer }): { attributes: Record<string, unknown> };
  encode_attributes(out: Buffer, attributes: [string | number, unknown][], vendor: number): number;
}
const pkg = radius as unknown as RadiusRuntime;
pkg.load_dictionaries();

function attrId(name: string): number {
  const id = pkg.attr_name_to_id(name);
  if (id === undefined) throw new Error(`radius dictionary lacks ${name}`);
  return Number(id);
}

/** Attribute numbers, taken from the package's dictionary once. */
export const ATTR = {
  UserName: attrId('User-Name'),
  UserPassword: attrId('User-Password'),
  ChapPassword: attrId('CHAP-Password'),
  NasIpAddress: attrId('NAS-IP-Address'),
  ReplyMessage: attrId('Reply-Message'),
  State: attrId('State'),
  CallingStationId: attrId('Calling-Station-Id'),
  NasIdentifier: attrId('NAS-Identifier'),
  ProxyState: attrId('Proxy-State'),
  MessageAuthenticator: attrId('Message-Authenticator'),
  VendorSpecific: attrId('Vendor-Specific'),
} as const;

/**
 * The package's own decoding of every attribute to dictionary names and typed values (strings,
 * dotted IPs, enum names). User-Password comes back null: it is decoded by `decodeUserPassword`.
 * Throws on content the package cannot type (e.g. a 2-octet integer). Not on the request path
 * (`readRequestAttributes` is); kept for tools and as the fuzz test's reference.
 */
export function decodeAttributes(packet: Buffer): Record<string, unknown> {
  return pkg.decode_without_secret({ packet }).attributes;
}

// ---- Reading a request ----

/** How the package's decoder treats an attribute's value, by what can make it throw (0: not in the dictionary, skipped). */
const KIND_PLAIN = 1; // string, octets, address, encrypted, ...: never throws
const KIND_INTEGER = 2; // integer, time, date: needs 4 octets
const KIND_TAGGED = 3; // has_tag: needs its tag octet
const KIND_VENDOR = 4; // Vendor-Specific: vendor id, then sub-attributes by the vendor's dictionary

const kindTables = new Map<number, Uint8Array>();

function kindsFor(vendor: number): Uint8Array {
  let t = kindTables.get(vendor);
  if (t) return t;
  t = new Uint8Array(256);
  const v = vendor === NO_VENDOR ? undefined : vendor;
  for (let id = 0; id < 256; id++) {
    const type = pkg._attr_to(String(id), v, 2);
    if (type === undefined) continue;
    const mods = pkg._attr_to(String(id), v, 5) ?? {};
    if (mods.has_tag) t[id] = KIND_TAGGED;
    else if (mods['encrypt=1']) t[id] = KIND_PLAIN;
    else if (pkg._attr_to(String(id), v, 1) === 'Vendor-Specific') t[id] = KIND_VENDOR;
    else if (type === 'integer' || type === 'time' || type === 'date') t[id] = KIND_INTEGER;
    else t[id] = KIND_PLAIN;
  }
  // A vendor id in a request is attacker-chosen: the tables kept are bounded (256 octets each).
  if (kindTables.size < 1024) kindTables.set(vendor, t);
  return t;
}

/** Thrown for an attribute value the dictionary's type cannot hold; the pipeline drops the packet. */
export class MalformedAttributeError extends Error {
  override readonly name = 'MalformedAttributeError';
}

/**
 * Checks `len` octets of attributes at `off` against one vendor's dictionary, as the package's
 * decoder does (the conditions under which it throws, nothing more and nothing less).
 */
function checkValues(b: Buffer, off: number, end: number, vendor: number): void {
  const kinds = kindsFor(vendor);
  while (off < end) {
    // Inside a Vendor-Specific the sub-attributes' framing is checked here (the packet's own was
    // checked by parsePacket): a lone type octet or a length under 2 is malformed; a length past
    // the end is cut to it, as the package does.
    if (off + 1 >= end) throw new MalformedAttributeError('truncated vendor attribute');
    const type = b[off] as number;
    const len = b[off + 1] as number;
    if (len < 2) throw new MalformedAttributeError(`invalid attribute length: ${len}`);
    const vlen = Math.min(len, end - off) - 2;
    const kind = kinds[type];
    if (kind === KIND_INTEGER && vlen < 4)
      throw new MalformedAttributeError(`attribute ${type} holds an integer but is ${vlen} octets`);
    if (kind === KIND_TAGGED && vlen < 1)
      throw new MalformedAttributeError(`attribute ${type} is tagged but empty`);
    if (kind === KIND_VENDOR) {
      if (vlen < 4 || b[off + 2] !== 0)
        throw new MalformedAttributeError('Vendor-Specific with an invalid vendor id');
      checkValues(b, off + 6, off + 2 + vlen, b.readUInt32BE(off + 2));
    }
    off += len;
  }
}

/** What the engine reads from an Access-Request: the first of each, as the package decodes it. */
export interface RequestAttributes {
  userName: string | undefined;
  callingStationId: string | undefined;
  nasIdentifier: string | undefined;
  /** Dotted octets. */
  nasIpAddress: string | undefined;
}

/**
 * Reads User-Name, Calling-Station-Id, NAS-Identifier and NAS-IP-Address from a packet whose
 * framing parsePacket checked, and throws MalformedAttributeError where the package's decoder
 * would throw: an integer shorter than 4 octets, an empty tagged attribute, a Vendor-Specific
 * with a bad vendor id or sub-attribute, anywhere in the packet. Strings are UTF-8 (invalid
 * sequences become U+FFFD, as the package does).
 */
export function readRequestAttributes(bytes: Buffer): RequestAttributes {
  checkValues(bytes, 20, bytes.length, NO_VENDOR);
  const out: RequestAttributes = {
    userName: undefined,
    callingStationId: undefined,
    nasIdentifier: undefined,
    nasIpAddress: undefined,
  };
  for (let off = 20; off < bytes.length; off += bytes[off + 1] as number) {
    const type = bytes[off] as number;
    const end = off + (bytes[off + 1] as number);
    if (type === ATTR.UserName) out.userName ??= bytes.toString('utf8', off + 2, end);
    else if (type === ATTR.CallingStationId) out.callingStationId ??= bytes.toString('utf8', off + 2, end);
    else if (type === ATTR.NasIdentifier) out.nasIdentifier ??= bytes.toString('utf8', off + 2, end);
    else if (type === ATTR.NasIpAddress && out.nasIpAddress === undefined) {
      let ip = '';
      for (let i = off + 2; i < end; i++) ip += (i > off + 2 ? '.' : '') + String(bytes[i]);
      out.nasIpAddress = ip;
    }
  }
  return out;
}

// ---- Writing a reply ----

/** A reply attribute: a dictionary name, or `26:<vendorId>:<type>` for a vendor-specific one. */
export type AttributeValue = string | number | Buffer;
export type ReplyAttribute = [string, AttributeValue];

const VSA = /^26:(\d{1,10}):(\d{1,3})$/;

function vsaValue(v: AttributeValue): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'number') {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    return b;
  }
  return Buffer.from(v, 'utf8');
}

/** 255 octets of attribute less the type/length, vendor id and vendor type/length headers. */
export const MAX_VSA_DATA = 247;

/**
 * A Vendor-Specific attribute (RFC 2865 §5.26): type 26, length, 4-byte vendor id, then one
 * sub-attribute (vendor type, length, data). Throws when it cannot fit one attribute.
 */
export function vendorSpecific(vendorId: number, type: number, data: Buffer): Buffer {
  const out = Buffer.alloc(8 + Math.min(data.length, MAX_VSA_DATA));
  writeVendorSpecific(out, 0, vendorId, type, data);
  return out;
}

/** `vendorSpecific` written in place (replies are built in one scratch buffer); returns the new offset. */
function writeVendorSpecific(out: Buffer, off: number, vendorId: number, type: number, data: Buffer): number {
  if (!Number.isInteger(vendorId) || vendorId < 0 || vendorId > 0xffffffff)
    throw new RangeError(`bad vendor id ${vendorId}`);
  if (!Number.isInteger(type) || type < 0 || type > 255) throw new RangeError(`bad vendor type ${type}`);
  if (data.length > MAX_VSA_DATA)
    throw new RangeError(`vendor attribute data is ${data.length} > ${MAX_VSA_DATA} bytes`);
  out[off] = 26;
  out[off + 1] = 8 + data.length;
  out.writeUInt32BE(vendorId, off + 2);
  out[off + 6] = type;
  out[off + 7] = 2 + data.length;
  data.copy(out, off + 8);
  return off + 8 + data.length;
}

/** How a named attribute is written: looked up in the dictionary once per name. */
interface Writer {
  id: number;
  /** 'string': UTF-8 in place; 'integer': a plain uint32 in place; 'octets'; else the package. */
  how: 'string' | 'integer' | 'octets' | 'package';
  enums: Record<string, unknown> | undefined;
}

const writers = new Map<string, Writer | null>();

function writerFor(name: string): Writer | undefined {
  let w = writers.get(name);
  if (w === undefined) {
    const id = pkg.attr_name_to_id(name);
    if (id === undefined) w = null;
    else {
      const type = pkg._attr_to(name, undefined, 2);
      const mods = pkg._attr_to(name, undefined, 5) ?? {};
      const plain = !mods.has_tag && Object.keys(mods).length === 0;
      w = {
        id: Number(id),
        how:
          type === 'octets'
            ? 'octets'
            : plain && (type === 'string' || type === 'text')
              ? 'string'
              : plain && type === 'integer'
                ? 'integer'
                : 'package',
        enums: pkg._attr_to(name, undefined, 4),
      };
    }
    // Names come from config and code, not from the wire: the map stays small.
    writers.set(name, w);
  }
  return w ?? undefined;
}

function writeRaw(out: Buffer, off: number, name: string, id: number, value: Buffer): number {
  if (value.length > 253) throw new RangeError(`attribute ${name} longer than 253 octets`);
  out[off] = id;
  out[off + 1] = 2 + value.length;
  value.copy(out, off + 2);
  return off + 2 + value.length;
}

/** Writes one attribute at `off` and returns the new offset. Throws on unknown names or values. */
function writeAttribute(out: Buffer, off: number, [name, value]: ReplyAttribute): number {
  const vsa = VSA.exec(name);
  if (vsa) {
    return writeVendorSpecific(out, off, Number(vsa[1]), Number(vsa[2]), vsaValue(value));
  }
  const w = writerFor(name);
  if (Buffer.isBuffer(value)) {
    const id = w?.id ?? (/^\d{1,3}$/.test(name) ? Number(name) : undefined);
    if (id === undefined || id > 255) throw new RangeError(`unknown attribute ${name}`);
    return writeRaw(out, off, name, id, value);
  }
  if (!w) throw new RangeError(`unknown attribute ${name}`);
  if (w.how === 'octets') {
    // Config files cannot hold a Buffer: octets (Class, State, ...) come as 0x-hex or UTF-8 text.
    if (typeof value !== 'string') throw new RangeError(`attribute ${name} holds octets, not a number`);
    const raw = /^0x([0-9a-f]{2})*$/i.test(value)
      ? Buffer.from(value.slice(2), 'hex')
      : Buffer.from(value, 'utf8');
    return writeRaw(out, off, name, w.id, raw);
  }
  if (typeof value === 'string' && Buffer.byteLength(value, 'utf8') > 253)
    throw new RangeError(`attribute ${name} longer than 253 octets`);
  if (w.how === 'string' && typeof value === 'string') {
    // The package leaves an empty string out altogether; so do we.
    if (value.length === 0) return off;
    out[off] = w.id;
    const n = out.write(value, off + 2, 'utf8');
    out[off + 1] = 2 + n;
    return off + 2 + n;
  }
  if (
    w.how === 'integer' &&
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= 0 &&
    value <= 0xffffffff &&
    w.enums?.[String(value)] === undefined
  ) {
    out[off] = w.id;
    out[off + 1] = 6;
    out.writeUInt32BE(value, off + 2);
    return off + 6;
  }
  // The package's dictionary-aware encoder writes enum names, addresses, dates, tagged values.
  return off + pkg.encode_attributes(out.subarray(off), [[name, value]], NO_VENDOR);
}

/** Scratch space for encodeAttributes: synchronous, so one buffer serves every call. */
const scratch = Buffer.alloc(MAX_PACKET);

/**
 * Encodes attributes into the shared scratch buffer and returns a view of it, valid only until
 * the next call (the reply encoder copies it at once). Throws if any is unknown or too long.
 */
export function encodeAttributesTransient(attributes: readonly ReplyAttribute[]): Buffer {
  let off = 0;
  for (const a of attributes) {
    if (off + 2 + 255 > MAX_PACKET) throw new RangeError('attributes exceed 4096 octets');
    off = writeAttribute(scratch, off, a);
  }
  return scratch.subarray(0, off);
}

/** Encodes attributes on their own (no header); throws if any is unknown or too long. */
export function encodeAttributes(attributes: readonly ReplyAttribute[]): Buffer {
  if (attributes.length === 0) return Buffer.alloc(0);
  return Buffer.from(encodeAttributesTransient(attributes));
}
