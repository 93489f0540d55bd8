/**
 * HMAC-SHA256 (FIPS 180-4, RFC 2104) for one key used again and again: the passcode check. Pure.
 *
 * Why not node:crypto: createHmac builds an Hmac object per call, with an algorithm fetch and a key
 * schedule on OpenSSL 3 (3–4 µs, ~6 % of the passcode step's main-thread CPU, profiled). Here the
 * key's inner and outer states are computed once, and a check of salt || code (under 56 octets:
 * one block) costs two compressions and no allocation but the 32-octet result. No branch and no
 * table index depends on the message or the key, so the time does not either. Checked against
 * node:crypto by a property test (test/unit/auth/hmac-sha256.test.ts).
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const INIT = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const BLOCK = 64;

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));

/** One 64-octet block at `off` of `b` into state `h` (eight words); `w` is scratch of 64 words. */
function compress(h: Int32Array, b: Uint8Array, off: number, w: Int32Array): void {
  for (let i = 0; i < 16; i++) {
    const o = off + i * 4;
    w[i] =
      ((b[o] as number) << 24) |
      ((b[o + 1] as number) << 16) |
      ((b[o + 2] as number) << 8) |
      (b[o + 3] as number);
  }
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15] as number;
    const y = w[i - 2] as number;
    const s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3);
    const s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10);
    w[i] = ((w[i - 16] as number) + s0 + (w[i - 7] as number) + s1) | 0;
  }
  let a = h[0] as number;
  let bb = h[1] as number;
  let c = h[2] as number;
  let d = h[3] as number;
  let e = h[4] as number;
  let f = h[5] as number;
  let g = h[6] as number;
  let hh = h[7] as number;
  for (let i = 0; i < 64; i++) {
    const t1 =
      (hh +
        (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
        ((e & f) ^ (~e & g)) +
        (K[i] as number) +
        (w[i] as number)) |
      0;
    const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = bb;
    bb = a;
    a = (t1 + t2) | 0;
  }
  h[0] = ((h[0] as number) + a) | 0;
  h[1] = ((h[1] as number) + bb) | 0;
  h[2] = ((h[2] as number) + c) | 0;
  h[3] = ((h[3] as number) + d) | 0;
  h[4] = ((h[4] as number) + e) | 0;
  h[5] = ((h[5] as number) + f) | 0;
  h[6] = ((h[6] as number) + g) | 0;
  h[7] = ((h[7] as number) + hh) | 0;
}

/** Scratch shared by every call: the event loop runs one at a time. */
const W = new Int32Array(64);
const H = new Int32Array(8);
const buf = new Uint8Array(BLOCK * 2);

/** Hashes `len` octets of `msg` after `blocks` blocks already in `h`, into `out` (32 octets). */
function finish(h: Int32Array, blocks: number, msg: Uint8Array, len: number, out: Uint8Array): void {
  let off = 0;
  for (; len - off >= BLOCK; off += BLOCK) compress(h, msg, off, W);
  const rest = len - off;
  buf.fill(0);
  buf.set(msg.subarray(off, len));
  buf[rest] = 0x80;
  const total = rest + 9 <= BLOCK ? BLOCK : BLOCK * 2;
  // Bit length of everything hashed: under 2^53, so two 32-bit words from a double are exact.
  const bits = (blocks * BLOCK + len) * 8;
  const hi = Math.floor(bits / 2 ** 32);
  for (let i = 0; i < 4; i++) {
    buf[total - 8 + i] = (hi >>> (24 - 8 * i)) & 0xff;
    buf[total - 4 + i] = (bits >>> (24 - 8 * i)) & 0xff;
  }
  for (let o = 0; o < total; o += BLOCK) compress(h, buf, o, W);
  for (let i = 0; i < 8; i++) {
    const v = h[i] as number;
    out[i * 4] = v >>> 24;
    out[i * 4 + 1] = (v >>> 16) & 0xff;
    out[i * 4 + 2] = (v >>> 8) & 0xff;
    out[i * 4 + 3] = v & 0xff;
  }
}

/** An HMAC-SHA256 key with its inner and outer states computed once. */
export class HmacSha256 {
  private readonly inner = new Int32Array(8);
  private readonly outer = new Int32Array(8);
  private readonly innerHash = new Uint8Array(32);

  constructor(key: Uint8Array) {
    let k = key;
    if (k.length > BLOCK) {
      k = new Uint8Array(32);
      finish(INIT.slice(), 0, key, key.length, k);
    }
    const pad = new Uint8Array(BLOCK);
    for (const [state, byte] of [
      [this.inner, 0x36],
      [this.outer, 0x5c],
    ] as const) {
      pad.fill(byte);
      for (let i = 0; i < k.length; i++) pad[i] = (k[i] as number) ^ byte;
      state.set(INIT);
      compress(state, pad, 0, W);
    }
    pad.fill(0);
  }

  /** HMAC of the first `len` octets of `msg`, into a new 32-octet Buffer. */
  mac(msg: Uint8Array, len = msg.length): Buffer {
    const out = Buffer.allocUnsafe(32);
    H.set(this.inner);
    finish(H, 1, msg, len, this.innerHash);
    H.set(this.outer);
    finish(H, 1, this.innerHash, 32, out);
    // The message (a typed code) is not left behind in the shared scratch.
    buf.fill(0);
    return out;
  }
}
