/**
 * The server's pipeline without sockets (`handleDatagram`): engine failures, timeouts, overload,
 * and what reaches the handler. The UDP side is in test/integration/radclient-server.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createHmac, randomBytes } from 'node:crypto';
import { createRadiusServer } from '../../../firmware/src/radius/server.ts';
import type { RadiusServerOptions } from '../../../firmware/src/radius/server.ts';
import { CODE, encodeRequest, parsePacket, verifyReply } from '../../../firmware/src/radius/codec.ts';
import { radiusClientSchema, radiusSchema } from '../../../firmware/src/config/schema.ts';
import { radiusServerOptions } from '../../../firmware/src/radius/server.ts';
import type { AccessRequest, HandlerReply } from '../../../firmware/src/auth/types.ts';

const SECRET = Buffer.from('unit-secret-0123456789');
const SRC = { address: '192.0.2.10', port: 5000 };
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

function server(
  handler: (req: AccessRequest) => Promise<HandlerReply>,
  extra: Partial<RadiusServerOptions> = {},
) {
  return createRadiusServer({
    clients: [
      radiusClientSchema.parse({
        name: 'nas',
        address: '192.0.2.0/24',
        secret: SECRET.toString(),
        requireMessageAuthenticator: 'yes',
      }),
    ],
    handler,
    listen: [],
    ...extra,
  });
}

const request = (user = 'alice', over: Partial<Parameters<typeof encodeRequest>[0]> = {}) =>
  encodeRequest({
    identifier: 1,
    authenticator: randomBytes(16),
    secret: SECRET,
    attributes: [
      ['User-Name', user],
      ['NAS-Identifier', 'ns1'],
      ['Calling-Station-Id', '203.0.113.5'],
    ],
    password: 'pässword',
    ...over,
  });

function collect() {
  const replies: Buffer[] = [];
  return { replies, send: (r: Buffer) => replies.push(r) };
}

describe('RADIUS server pipeline', () => {
  it('hands the engine a decoded request and encodes its reply', async () => {
    const seen: AccessRequest[] = [];
    const s = server((req) => {
      seen.push(req);
      return Promise.resolve({
        code: 'Access-Challenge',
        attributes: [
          ['Reply-Message', 'code?'],
          ['State', Buffer.alloc(16, 1)],
        ],
      });
    });
    const pkt = request();
    const { replies, send } = collect();
    s.handleDatagram('auth', pkt, SRC, send);
    await tick();
    expect(seen[0]).toMatchObject({
      userName: 'alice',
      password: 'pässword',
      identifier: 1,
      nasIdentifier: 'ns1',
      callingStationId: '203.0.113.5',
      source: SRC,
      messageAuthenticator: true,
    });
    expect(replies).toHaveLength(1);
    expect(replies[0]![0]).toBe(CODE.AccessChallenge);
    expect(verifyReply(replies[0]!, pkt.subarray(4, 20), SECRET)).toBe(true);
  });

  it('drops on an engine error and runs the retransmit afresh', async () => {
    let calls = 0;
    const s = server(() => {
      calls++;
      if (calls === 1) throw new Error('directory down'); // a synchronous throw, caught all the same
      return Promise.resolve({ code: 'Access-Reject', attributes: [] });
    });
    const pkt = request();
    const { replies, send } = collect();
    s.handleDatagram('auth', pkt, SRC, send);
    await tick();
    expect(replies).toHaveLength(0);
    expect(s.counters().clients.nas!.drops['handler-error']).toBe(1);
    s.handleDatagram('auth', pkt, SRC, send);
    await tick();
    expect(calls).toBe(2);
    expect(replies).toHaveLength(1);
  });

  it('gives up on a handler slower than handlerTimeoutMs and ignores its late answer', async () => {
    const s = server(
      () => new Promise((r) => setTimeout(() => r({ code: 'Access-Accept', attributes: [] }), 120)),
      {
        handlerTimeoutMs: 30,
      },
    );
    const { replies, send } = collect();
    s.handleDatagram('auth', request(), SRC, send);
    await tick(200);
    expect(replies).toHaveLength(0);
    expect(s.counters().clients.nas!.drops['handler-timeout']).toBe(1);
    expect(s.counters().caches.pending.size).toBe(0);
  });

  it('drops requests beyond maxPending while the engine is busy', async () => {
    const release: (() => void)[] = [];
    const s = server(
      () => new Promise((r) => release.push(() => r({ code: 'Access-Reject', attributes: [] }))),
      { maxPending: 2 },
    );
    const { replies, send } = collect();
    for (let i = 0; i < 5; i++) s.handleDatagram('auth', request(`u${i}`), SRC, send);
    await tick();
    expect(release).toHaveLength(2);
    expect(s.counters().clients.nas!.drops.overload).toBe(3);
    release.forEach((f) => f());
    await tick();
    expect(replies).toHaveLength(2);
    expect(s.counters().caches.pending.size).toBe(0);
  });

  it('answers an engine reply it cannot encode with a bare Access-Reject', async () => {
    const s = server(() =>
      Promise.resolve({ code: 'Access-Accept', attributes: [['Not-An-Attribute', 'x']] }),
    );
    const { replies, send } = collect();
    s.handleDatagram('auth', request(), SRC, send);
    await tick();
    expect(replies[0]![0]).toBe(CODE.AccessReject);
    expect(s.counters().clients.nas!.rejects).toBe(1);
  });

  it('rejects a request without User-Password (CHAP) without calling the engine', async () => {
    let calls = 0;
    const s = server(() => {
      calls++;
      return Promise.resolve({ code: 'Access-Accept', attributes: [] });
    });
    const { replies, send } = collect();
    const chap = encodeRequest({
      identifier: 3,
      authenticator: randomBytes(16),
      secret: SECRET,
      attributes: [
        ['User-Name', 'bob'],
        ['CHAP-Password', Buffer.alloc(17, 2)],
      ],
    });
    s.handleDatagram('auth', chap, SRC, send);
    await tick();
    expect(calls).toBe(0);
    const p = parsePacket(replies[0]!);
    expect(p.ok && p.packet.code).toBe(CODE.AccessReject);
  });

  it('a reply too big to build (Proxy-State) is dropped and forgotten, not left in flight', async () => {
    const s = server(() => Promise.resolve({ code: 'Access-Accept', attributes: [] }));
    // A CHAP request padded with as much Proxy-State as a request can carry: the Reject adds a
    // Reply-Message and must echo every Proxy-State, so it cannot be built within 4096 octets.
    const base = { identifier: 9, authenticator: randomBytes(16), secret: SECRET };
    const attrs: [string, string | Buffer][] = [
      ['User-Name', 'bob'],
      ['CHAP-Password', Buffer.alloc(17, 2)],
    ];
    let pkt = encodeRequest({ ...base, attributes: attrs });
    for (let i = 0; ; i++) {
      const next: [string, string | Buffer][] = [...attrs, ['Proxy-State', Buffer.alloc(253, i)]];
      try {
        pkt = encodeRequest({ ...base, attributes: next });
      } catch {
        break;
      }
      attrs.push(['Proxy-State', Buffer.alloc(253, i)]);
    }
    // The encoder leaves headroom; a NAS may not. Append Proxy-State by hand up to 4096 octets
    // and re-sign the Message-Authenticator (RFC 3579: HMAC-MD5 over the packet with it zeroed).
    const extra = Math.min(255, 4096 - pkt.length);
    const tail = Buffer.concat([Buffer.from([33, extra]), Buffer.alloc(extra - 2, 0xee)]);
    pkt = Buffer.concat([pkt, tail]);
    pkt.writeUInt16BE(pkt.length, 2);
    let off = 20;
    while (off < pkt.length && pkt[off] !== 80) off += pkt[off + 1] ?? 1;
    pkt.fill(0, off + 2, off + 18);
    createHmac('md5', SECRET)
      .update(pkt)
      .digest()
      .copy(pkt, off + 2);
    expect(pkt.length).toBe(4096);
    const { replies, send } = collect();
    s.handleDatagram('auth', pkt, SRC, send);
    await tick();
    expect(replies).toHaveLength(0);
    expect(s.counters().clients.nas?.drops['internal-error']).toBe(1);
    // The retransmit is handled afresh (dropped again and counted), not ignored as a duplicate.
    s.handleDatagram('auth', pkt, SRC, send);
    await tick();
    expect(s.counters().clients.nas?.drops['internal-error']).toBe(2);
    expect(s.counters().clients.nas?.duplicates).toBe(0);
  });

  it('survives a health callback that throws (the monitor gets no answer)', async () => {
    const s = createRadiusServer({
      clients: [
        radiusClientSchema.parse({
          name: 'nas',
          address: '192.0.2.0/24',
          secret: SECRET.toString(),
          monitorUser: 'mon',
          monitorPassword: 'pässword-sixteen-chars',
        }),
      ],
      handler: () => Promise.reject(new Error('never called')),
      health: () => {
        throw new Error('boom');
      },
      listen: [],
    });
    const { replies, send } = collect();
    s.handleDatagram('auth', request('mon', { password: 'pässword-sixteen-chars' }), SRC, send);
    await tick();
    expect(replies).toEqual([]);
    expect(s.counters().clients.nas?.monitor).toBe(1);
  });

  // Issue 9 §2: the monitor user is not a Gateway login. Whatever the health, the client or the
  // password, no monitor request is ever answered Access-Accept.
  it('never answers the monitor user Access-Accept: Reject "healthy", or silence', async () => {
    let healthy = true;
    const s = createRadiusServer({
      clients: [
        radiusClientSchema.parse({
          name: 'nas',
          address: '192.0.2.0/24',
          secret: SECRET.toString(),
          monitorUser: 'mon',
          monitorPassword: 'monitor-password-16',
        }),
      ],
      handler: () => Promise.reject(new Error('never called')),
      health: () => ({ healthy, reasons: healthy ? [] : ['no modem ready'] }),
      listen: [],
    });
    const ask = async (password: string): Promise<Buffer[]> => {
      const { replies, send } = collect();
      s.handleDatagram('auth', request('mon', { password }), SRC, send);
      await tick();
      return replies;
    };
    const up = await ask('monitor-password-16');
    expect(up.map((b) => b[0])).toEqual([CODE.AccessReject]);
    expect(up[0]!.includes(Buffer.from('healthy'))).toBe(true);
    expect(await ask('wrong-password-xxxx')).toEqual([]);
    healthy = false;
    expect(await ask('monitor-password-16')).toEqual([]);
    expect(s.counters().clients.nas?.accepts).toBe(0);
  });

  it('maps the config section to server options', () => {
    const o = radiusServerOptions(
      radiusSchema.parse({
        listen: [
          { address: '0.0.0.0', port: 1812 },
          { address: '::', port: 1812 },
        ],
        accountingPort: 1813,
      }),
    );
    expect(o.accounting).toEqual([
      { address: '0.0.0.0', port: 1813 },
      { address: '::', port: 1813 },
    ]);
    expect(o.handlerTimeoutMs).toBe(30_000);
    expect(radiusServerOptions(radiusSchema.parse({ accountingPort: 0 })).accounting).toEqual([]);
  });

  it('reconfigures live: a new client table and caps apply at once, a new port asks for a restart', async () => {
    const s = createRadiusServer({
      ...radiusServerOptions(
        radiusSchema.parse({
          clients: [{ name: 'old', address: '198.51.100.1', secret: 'x', allowWeakSecret: true }],
        }),
      ),
      handler: () => Promise.resolve({ code: 'Access-Accept', attributes: [] }),
    });
    const { replies, send } = collect();
    s.handleDatagram('auth', request(), SRC, send);
    expect(s.counters().unknownClients.drops).toBe(1);
    const next = radiusSchema.parse({
      clients: [{ name: 'nas', address: '192.0.2.0/24', secret: SECRET.toString() }],
      duplicateCacheEntries: 1000,
    });
    expect(s.reconfigure(next)).toEqual({ restartNeeded: false });
    s.handleDatagram('auth', request(), SRC, send);
    await tick();
    expect(replies).toHaveLength(1);
    expect(Object.keys(s.counters().clients)).toEqual(['nas']);
    expect(s.counters().caches.duplicates.capacity).toBe(1000);
    expect(s.reconfigure({ ...next, listen: [{ address: '0.0.0.0', port: 11812 }] })).toEqual({
      restartNeeded: true,
    });
    expect(() => s.reconfigure({ ...next, clients: [{ ...next.clients[0]!, address: 'bogus' }] })).toThrow();
    expect(Object.keys(s.counters().clients)).toEqual(['nas']); // the old table stays on a refused change
  });
});
