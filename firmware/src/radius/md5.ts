/**
 * MD5 and HMAC-MD5 (RFC 1321, RFC 2104) for the RADIUS packet path, in JavaScript. Pure.
 *
 * Why not node:crypto: every request needs two HMAC-MD5s (the request's Message-Authenticator,
 * the reply's) and two MD5s (User-Password, the Response Authenticator), each over a packet of
 * ~100 octets. node:crypto builds a Hash/Hmac object per call, and on Node 20 (OpenSSL 3) that
 * means an algorithm fetch and a key schedule each time: 2.5–4 µs per call, ~17 % of the
 * passcode step's main-thread CPU (profiled, `npm run bench -- login`). Here the HMAC key's
 * inner and outer states are computed once per shared secret and a call costs the compression
 * rounds alone (2–3 blocks), with no allocation. Checked against node:crypto by a property test
 * (test/unit/radius/md5.test.ts). MD5 is what RADIUS mandates; nothing else should use this.
 */

/** Per-step additive constants, floor(abs(sin(i + 1)) × 2^32). */
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0;
const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const INIT = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];

const rotl = (x: number, n: number): number => (x << n) | (x >>> (32 - n));

/** One 64-octet block at `off` of `b` into state `h` (four words). */
function compress(h: Int32Array, b: Uint8Array, off: number, x: Int32Array): void {
  for (let i = 0; i < 16; i++) {
    const o = off + i * 4;
    x[i] =
      (b[o] as number) |
      ((b[o + 1] as number) << 8) |
      ((b[o + 2] as number) << 16) |
      ((b[o + 3] as number) << 24);
  }
  let a = h[0] as number;
  let bb = h[1] as number;
  let c = h[2] as number;
  let d = h[3] as number;
  // The four rounds apart: one function and one index rule each, no branch per step.
  let t: number;
  for (let i = 0; i < 16; i++) {
    t = d;
    d = c;
    c = bb;
    bb =
      (bb + rotl((a + ((c & d) | (~c & t)) + (K[i] as number) + (x[i] as number)) | 0, S[i & 3] as number)) |
      0;
    a = t;
  }
  for (let i = 16; i < 32; i++) {
    t = d;
    d = c;
    c = bb;
    bb =
      (bb +
        rotl(
          (a + ((t & c) | (~t & d)) + (K[i] as number) + (x[(5 * i + 1) & 15] as number)) | 0,
          S[4 + (i & 3)] as number,
        )) |
      0;
    a = t;
  }
  for (let i = 32; i < 48; i++) {
    t = d;
    d = c;
    c = bb;
    bb =
      (bb +
        rotl(
          (a + (c ^ d ^ t) + (K[i] as number) + (x[(3 * i + 5) & 15] as number)) | 0,
          S[8 + (i & 3)] as number,
        )) |
      0;
    a = t;
  }
  for (let i = 48; i < 64; i++) {
    t = d;
    d = c;
    c = bb;
    bb =
      (bb +
        rotl(
          (a + (d ^ (c | ~t)) + (K[i] as number) + (x[(7 * i) & 15] as number)) | 0,
          S[12 + (i & 3)] as number,
        )) |
      0;
    a = t;
  }
  h[0] = ((h[0] as number) + a) | 0;
  h[1] = ((h[1] as number) + bb) | 0;
  h[2] = ((h[2] as number) + c) | 0;
  h[3] = ((h[3] as number) + d) | 0;
}

/**
 * A running MD5. One instance is reused for every call below: each call runs to completion
 * synchronously, so no two uses overlap.
 */
class Md5 {
  readonly h = new Int32Array(4);
  private readonly block = new Uint8Array(64);
  private readonly x = new Int32Array(16);
  private fill = 0;
  private total = 0;

  /** Starts from the initial state, or from a saved state after `prefixBytes` octets (HMAC pads). */
  reset(from?: Int32Array, prefixBytes = 0): this {
    if (from) this.h.set(from);
    else for (let i = 0; i < 4; i++) this.h[i] = INIT[i] as number;
    this.fill = 0;
    this.total = prefixBytes;
    return this;
  }

  update(b: Uint8Array, start = 0, end = b.length): this {
    this.total += end - start;
    let i = start;
    if (this.fill > 0) {
      while (i < end && this.fill < 64) this.block[this.fill++] = b[i++] as number;
      if (this.fill < 64) return this;
      compress(this.h, this.block, 0, this.x);
      this.fill = 0;
    }
    for (; i + 64 <= end; i += 64) compress(this.h, b, i, this.x);
    while (i < end) this.block[this.fill++] = b[i++] as number;
    return this;
  }

  /** Zero octets, as if a zero-filled buffer of `n` were passed to update. */
  zeros(n: number): this {
    this.total += n;
    for (let k = 0; k < n; k++) {
      this.block[this.fill++] = 0;
      if (this.fill === 64) {
        compress(this.h, this.block, 0, this.x);
        this.fill = 0;
      }
    }
    return this;
  }

  /** Pads, and writes the 16-octet digest at `off` of `out`. */
  digestInto(out: Uint8Array, off: number): void {
    const bits = this.total * 8;
    this.block[this.fill++] = 0x80;
    if (this.fill > 56) {
      this.block.fill(0, this.fill);
      compress(this.h, this.block, 0, this.x);
      this.fill = 0;
    }
    this.block.fill(0, this.fill, 56);
    // The length in bits, little-endian, 64 bits (packets are far below 2^32 bits).
    const lo = bits >>> 0;
    const hi = Math.floor(bits / 2 ** 32) >>> 0;
    for (let k = 0; k < 4; k++) {
      this.block[56 + k] = (lo >>> (8 * k)) & 0xff;
      this.block[60 + k] = (hi >>> (8 * k)) & 0xff;
    }
    compress(this.h, this.block, 0, this.x);
    for (let k = 0; k < 4; k++) {
      const w = this.h[k] as number;
      out[off + 4 * k] = w & 0xff;
      out[off + 4 * k + 1] = (w >>> 8) & 0xff;
      out[off + 4 * k + 2] = (w >>> 16) & 0xff;
      out[off + 4 * k + 3] = (w >>> 24) & 0xff;
    }
  }
}

const md = new Md5();

/** MD5 of the concatenation of `parts`, written at `off` of `out` (16 octets). */
export function md5Into(out: Uint8Array, off: number, ...parts: Uint8Array[]): void {
  md.reset();
  for (const p of parts) md.update(p);
  md.digestInto(out, off);
}

/** MD5 of the concatenation of `parts`, as a new 16-octet Buffer. */
export function md5(...parts: Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(16);
  md.reset();
  for (const p of parts) md.update(p);
  md.digestInto(out, 0);
  return out;
}

/** An HMAC-MD5 key made ready: the states after the inner and outer padded key blocks. */
export interface HmacMd5Key {
  readonly inner: Int32Array;
  readonly outer: Int32Array;
}

/** Keys made ready, per secret Buffer (a NAS table reload brings new Buffers; old ones go with it). */
const keys = new WeakMap<Uint8Array, HmacMd5Key>();

export function hmacMd5Key(secret: Uint8Array): HmacMd5Key {
  let k = keys.get(secret);
  if (k) return k;
  // RFC 2104: a key longer than the block is hashed first.
  const key = new Uint8Array(64);
  key.set(secret.length > 64 ? md5(secret) : secret);
  const pad = new Uint8Array(64);
  for (let i = 0; i < 64; i++) pad[i] = (key[i] as number) ^ 0x36;
  const inner = new Int32Array(md.reset().update(pad).h);
  for (let i = 0; i < 64; i++) pad[i] = (key[i] as number) ^ 0x5c;
  const outer = new Int32Array(md.reset().update(pad).h);
  k = { inner, outer };
  keys.set(secret, k);
  return k;
}

const innerDigest = new Uint8Array(16);

/**
 * HMAC-MD5 over a message given as a run of pieces: a Uint8Array, or a number for that many
 * zero octets (the Message-Authenticator's zeroed value, without copying the packet). Writes the
 * 16-octet result at `off` of `out`.
 */
export function hmacMd5Into(
  out: Uint8Array,
  off: number,
  secret: Uint8Array,
  ...pieces: (Uint8Array | number)[]
): void {
  const k = hmacMd5Key(secret);
  md.reset(k.inner, 64);
  for (const p of pieces) {
    if (typeof p === 'number') md.zeros(p);
    else md.update(p);
  }
  md.digestInto(innerDigest, 0);
  md.reset(k.outer, 64).update(innerDigest).digestInto(out, off);
}
