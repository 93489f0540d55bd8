/**
 * The RADIUS server over real UDP against FreeRADIUS radclient (the NAS side), plus raw dgram
 * datagrams for what radclient will not send (truncated, oversized, forged, exact retransmits).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRadiusServer } from '../../firmware/src/radius/server.ts';
import type { HealthReport, RadiusServer } from '../../firmware/src/radius/server.ts';
import { ATTR, CODE, encodeRequest, parsePacket, verifyReply } from '../../firmware/src/radius/codec.ts';
import { radiusClientSchema } from '../../firmware/src/config/schema.ts';
import type { RadiusClientConfig } from '../../firmware/src/config/schema.ts';
import { openStore } from '../../firmware/src/store/store.ts';
import type { Store } from '../../firmware/src/store/store.ts';
import type { AccessRequest, HandlerReply, NasClient } from '../../firmware/src/auth/types.ts';
import { radclient } from './helpers/radclient.ts';
import type { RadiusHealth } from '../../firmware/src/health/health.ts';

const SECRET = 'radclient-server-secret';
const PASSCODE = '424242';

/** A handler double for the two-step flow: challenge on the password, accept on the passcode. */
function twoStepHandler(delayMs = 0) {
  const calls: AccessRequest[] = [];
  const states = new Set<string>();
  const handler = async (req: AccessRequest, client: NasClient): Promise<HandlerReply> => {
    calls.push(req);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    if (!req.state) {
      if (req.password !== 'correct horse') return { code: 'Access-Reject', attributes: [] };
      const state = randomBytes(16);
      states.add(state.toString('hex'));
      return {
        code: 'Access-Challenge',
        attributes: [
          ['Reply-Message', 'Enter the PASSCODE sent to ******0001'],
          ['State', state],
        ],
      };
    }
    const key = req.state.toString('hex');
    if (states.has(key) && req.password === PASSCODE) {
      states.delete(key);
      return { code: 'Access-Accept', attributes: [...client.acceptAttributes] };
    }
    return { code: 'Access-Reject', attributes: [['Reply-Message', 'Wrong passcode']] };
  };
  return { calls, handler };
}

const cfg = (over: Partial<RadiusClientConfig> & { address: string }): RadiusClientConfig =>
  radiusClientSchema.parse({ name: 'netscaler', secret: SECRET, ...over });

interface Running {
  server: RadiusServer;
  auth: number;
  auth6?: number;
  acct: number;
}

async function run(
  clients: RadiusClientConfig[],
  handler: ReturnType<typeof twoStepHandler>['handler'],
  extra: { store?: Store; health?: () => HealthReport; v6?: boolean } = {},
): Promise<Running> {
  const server = createRadiusServer({
    clients,
    handler,
    ...(extra.store ? { store: extra.store } : {}),
    ...(extra.health ? { health: extra.health } : {}),
    listen: [{ address: '127.0.0.1', port: 0 }, ...(extra.v6 ? [{ address: '::1', port: 0 }] : [])],
    accounting: [{ address: '127.0.0.1', port: 0 }],
  });
  const { auth, acct } = await server.start();
  const r: Running = { server, auth: auth[0]!.port, acct: acct[0]!.port };
  if (auth[1]) r.auth6 = auth[1].port;
  return r;
}

/** Sends raw datagrams from `from` and collects replies for `waitMs`. */
async function exchange(
  port: number,
  packets: Buffer[],
  waitMs = 300,
  from = '127.0.0.1',
): Promise<Buffer[]> {
  const sock = dgram.createSocket('udp4');
  const replies: Buffer[] = [];
  sock.on('message', (m) => replies.push(m));
  await new Promise<void>((r) => sock.bind(0, from, r));
  for (const p of packets) await new Promise<void>((r) => sock.send(p, port, '127.0.0.1', () => r()));
  await new Promise((r) => setTimeout(r, waitMs));
  sock.close();
  return replies;
}

const secretBuf = Buffer.from(SECRET);
const request = (over: Partial<Parameters<typeof encodeRequest>[0]> = {}): Buffer =>
  encodeRequest({
    identifier: 42,
    authenticator: randomBytes(16),
    secret: secretBuf,
    attributes: [
      ['User-Name', 'alice'],
      ['NAS-Identifier', 'ns1'],
    ],
    password: 'correct horse',
    ...over,
  });

describe('RADIUS server against radclient', () => {
  const dirs: string[] = [];
  const servers: RadiusServer[] = [];
  const stores: Store[] = [];
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'mfabox-radius-'));
    dirs.push(d);
    return d;
  };
  const track = (r: Running): Running => {
    servers.push(r.server);
    return r;
  };

  let yes: Running;
  let yesHandler: ReturnType<typeof twoStepHandler>;
  let healthy = true;
  let noMa: Running;
  let noMaHandler: ReturnType<typeof twoStepHandler>;

  beforeAll(async () => {
    yesHandler = twoStepHandler();
    yes = track(
      await run(
        [
          cfg({
            address: '127.0.0.1',
            requireMessageAuthenticator: 'yes',
            monitorUser: 'nsmonitor',
            monitorPassword: 'mon-pw-sixteen-chars',
            acceptAttributes: [
              ['Class', 'mfabox'],
              ['Session-Timeout', 28800],
            ],
          }),
          cfg({ name: 'v6', address: '::1', requireMessageAuthenticator: 'yes' }),
        ],
        yesHandler.handler,
        {
          v6: true,
          health: () =>
            healthy ? { healthy: true, reasons: [] } : { healthy: false, reasons: ['modem not ready'] },
        },
      ),
    );
    noMaHandler = twoStepHandler();
    noMa = track(
      await run([cfg({ address: '127.0.0.1', requireMessageAuthenticator: 'no' })], noMaHandler.handler),
    );
  });

  afterAll(async () => {
    for (const s of servers) await s.stop();
    for (const s of stores) await s.close().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('runs the two-step challenge flow; Message-Authenticator is the first reply attribute', async () => {
    const before = yesHandler.calls.length;
    const step1 = await radclient({
      server: `127.0.0.1:${yes.auth}`,
      command: 'auth',
      secret: SECRET,
      lines: [
        'User-Name = "alice"',
        'User-Password = "correct horse"',
        'Calling-Station-Id = "203.0.113.7"',
        'NAS-IP-Address = 10.0.0.5',
        'Message-Authenticator = 0x00',
      ],
      expect: [
        'Response-Packet-Type == Access-Challenge',
        'Reply-Message =* ANY',
        'State =* ANY',
        'Message-Authenticator =* ANY',
      ],
    });
    expect(step1.exitCode, step1.stdout + step1.stderr).toBe(0);
    const ch = step1.replies[0]!;
    expect(ch.code).toBe('Access-Challenge');
    expect(ch.attributes[0]![0]).toBe('Message-Authenticator');
    expect(ch.attributes.find(([k]) => k === 'Reply-Message')?.[1]).toBe(
      'Enter the PASSCODE sent to ******0001',
    );
    const state = ch.attributes.find(([k]) => k === 'State')![1];
    expect(state).toMatch(/^0x[0-9a-f]{32}$/);

    const step2 = await radclient({
      server: `127.0.0.1:${yes.auth}`,
      command: 'auth',
      secret: SECRET,
      lines: [
        'User-Name = "alice"',
        `User-Password = "${PASSCODE}"`,
        `State = ${state}`,
        'Message-Authenticator = 0x00',
      ],
    });
    expect(step2.exitCode, step2.stdout).toBe(0);
    const acc = step2.replies[0]!;
    expect(acc.code).toBe('Access-Accept');
    expect(acc.attributes.map(([k]) => k)).toEqual(['Message-Authenticator', 'Class', 'Session-Timeout']);

    const calls = yesHandler.calls.slice(before);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({
      userName: 'alice',
      password: 'correct horse',
      callingStationId: '203.0.113.7',
      nasIpAddress: '10.0.0.5',
      messageAuthenticator: true,
    });
    expect(calls[1]!.state?.toString('hex')).toBe(state.slice(2));
    const c = yes.server.counters().clients.netscaler!;
    expect(c.challenges).toBeGreaterThanOrEqual(1);
    expect(c.accepts).toBeGreaterThanOrEqual(1);
  });

  it('answers over IPv6 too', async () => {
    const r = await radclient({
      server: `[::1]:${yes.auth6}`,
      command: 'auth',
      secret: SECRET,
      lines: ['User-Name = "bob"', 'User-Password = "wrong"', 'Message-Authenticator = 0x00'],
      extraArgs: ['-6'],
    });
    expect(r.replies[0]?.code, r.stdout + r.stderr).toBe('Access-Reject');
    expect(yes.server.counters().clients.v6!.rejects).toBe(1);
  });

  it('answers Status-Server on the auth port and Accounting-Request on the accounting port', async () => {
    const before = yesHandler.calls.length;
    const st = await radclient({
      server: `127.0.0.1:${yes.auth}`,
      command: 'status',
      secret: SECRET,
      lines: ['Message-Authenticator = 0x00'],
    });
    expect(st.exitCode, st.stdout).toBe(0);
    expect(st.replies[0]!.code).toBe('Access-Accept');
    expect(st.replies[0]!.attributes[0]![0]).toBe('Message-Authenticator');
    const ac = await radclient({
      server: `127.0.0.1:${yes.acct}`,
      command: 'acct',
      secret: SECRET,
      lines: [
        'Acct-Status-Type = Start',
        'Acct-Session-Id = "s1"',
        'User-Name = "alice"',
        'Proxy-State = 0x0102',
      ],
    });
    expect(ac.exitCode, ac.stdout).toBe(0);
    expect(ac.replies[0]!.code).toBe('Accounting-Response');
    expect(ac.replies[0]!.attributes).toEqual([['Proxy-State', '0x0102']]);
    const c = yes.server.counters().clients.netscaler!;
    expect(c.statusServer).toBeGreaterThanOrEqual(1);
    expect(c.accounting).toBeGreaterThanOrEqual(1);
    expect(yesHandler.calls.length).toBe(before);
    // The health model reads status(): the type must fit health.ts, the content the sockets.
    const st2: RadiusHealth = yes.server.status();
    expect(st2.listening).toEqual([
      `udp 127.0.0.1:${yes.auth} (auth)`,
      `udp ::1:${yes.auth6} (auth)`,
      `udp 127.0.0.1:${yes.acct} (accounting)`,
    ]);
    expect(st2.counters.netscaler!.statusServer).toBe(c.statusServer);
    expect(st2.clientsWithoutMessageAuthenticator).toEqual([]);
  });

  it('answers the monitor user from health, never calling the handler', async () => {
    const before = yesHandler.calls.length;
    const monitor = (pw: string) =>
      radclient({
        server: `127.0.0.1:${yes.auth}`,
        command: 'auth',
        secret: SECRET,
        lines: ['User-Name = "nsmonitor"', `User-Password = "${pw}"`, 'Message-Authenticator = 0x00'],
      });
    healthy = true;
    const up = await monitor('mon-pw-sixteen-chars');
    // Never Access-Accept: a healthy box answers Reject "healthy" (NetScaler monitor -respCode 3).
    expect(up.replies[0]!.code).toBe('Access-Reject');
    expect(up.replies[0]!.attributes).toContainEqual(['Reply-Message', 'healthy']);
    healthy = false;
    const down = await monitor('mon-pw-sixteen-chars');
    expect(down.replies).toEqual([]);
    healthy = true;
    const wrong = await monitor('not-it');
    expect(wrong.replies).toEqual([]);
    expect(yesHandler.calls.length).toBe(before);
    expect(yes.server.counters().clients.netscaler!.monitor).toBe(3);
  });

  it('drops a request hidden with the wrong secret (no MA) before the handler', async () => {
    const before = noMaHandler.calls.length;
    const r = await radclient({
      server: `127.0.0.1:${noMa.auth}`,
      command: 'auth',
      secret: 'not-the-secret',
      lines: ['User-Name = "alice"', 'User-Password = "Winter2025!"'],
      timeout: 0.4,
      retries: 1,
    });
    expect(r.replies).toEqual([]);
    expect(r.exitCode).not.toBe(0);
    expect(noMaHandler.calls.length).toBe(before);
    expect(noMa.server.counters().clients.netscaler!.drops['bad-password']).toBeGreaterThanOrEqual(1);
  });

  it('drops each bad packet silently and counts it by reason', async () => {
    const dropsOf = (r: Running) => r.server.counters().clients.netscaler!.drops;
    const valid = request();
    const badMa = Buffer.from(valid);
    badMa[25] = badMa[25]! ^ 0xff; // inside the MA value
    const proxyNoMa = request({
      messageAuthenticator: false,
      attributes: [
        ['User-Name', 'a'],
        ['Proxy-State', Buffer.from('x')],
      ],
    });
    const truncated = valid.subarray(0, valid.length - 3);
    const oversized = Buffer.alloc(4100);
    valid.copy(oversized);
    oversized.writeUInt16BE(4100, 2);
    const badAttrLen = Buffer.from(valid);
    badAttrLen[39] = 1; // first attribute after MA claims length 1

    const yesBefore = { ...dropsOf(yes) };
    const noBefore = { ...dropsOf(noMa) };
    const callsBefore = yesHandler.calls.length + noMaHandler.calls.length;
    const [r1, r2, r3, r4, r5, r6] = await Promise.all([
      exchange(yes.auth, [request({ messageAuthenticator: false })]),
      exchange(yes.auth, [badMa]),
      exchange(noMa.auth, [proxyNoMa]),
      exchange(yes.auth, [truncated]),
      exchange(yes.auth, [oversized]),
      exchange(yes.auth, [badAttrLen]),
    ]);
    for (const r of [r1, r2, r3, r4, r5, r6]) expect(r).toEqual([]);
    const yesAfter = dropsOf(yes);
    const inc = (a: Record<string, number | undefined>, b: Record<string, number | undefined>, k: string) =>
      (a[k] ?? 0) - (b[k] ?? 0);
    expect(inc(yesAfter, yesBefore, 'missing-message-authenticator')).toBe(1);
    expect(inc(yesAfter, yesBefore, 'bad-message-authenticator')).toBe(1);
    expect(inc(yesAfter, yesBefore, 'malformed')).toBe(3);
    expect(inc(dropsOf(noMa), noBefore, 'proxy-state-without-message-authenticator')).toBe(1);
    expect(yesHandler.calls.length + noMaHandler.calls.length).toBe(callsBefore);
  });

  it('drops packets from unknown clients silently and counts the source', async () => {
    const unknownBefore = yes.server.counters().unknownClients.drops;
    const r = await exchange(yes.auth, [request()], 300, '127.0.0.9');
    expect(r).toEqual([]);
    const u = yes.server.counters().unknownClients;
    expect(u.drops).toBe(unknownBefore + 1);
    expect(u.sources).toContainEqual({ address: '127.0.0.9', count: 1 });
    const viaRadclient = await radclient({
      server: `127.0.0.1:${noMa.auth}`,
      command: 'auth',
      secret: SECRET,
      lines: ['User-Name = "alice"', 'User-Password = "x"'],
      timeout: 0.3,
      extraArgs: [],
    });
    expect(viaRadclient.replies.length).toBe(1); // sanity: 127.0.0.1 is known to this server
  });

  it('answers a retransmit in flight and after completion with identical bytes and one handler call', async () => {
    const slow = twoStepHandler(400);
    const s = track(
      await run([cfg({ address: '127.0.0.1', requireMessageAuthenticator: 'yes' })], slow.handler),
    );
    const pkt = request();
    const sock = dgram.createSocket('udp4');
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const send = () => new Promise<void>((r) => sock.send(pkt, s.auth, '127.0.0.1', () => r()));
    await send();
    await send(); // in flight: ignored
    await new Promise((r) => setTimeout(r, 600));
    await send(); // completed: replayed from the cache
    await new Promise((r) => setTimeout(r, 200));
    sock.close();
    expect(slow.calls).toHaveLength(1);
    expect(replies).toHaveLength(2);
    expect(replies[1]).toEqual(replies[0]);
    expect(replies[0]![0]).toBe(CODE.AccessChallenge);
    expect(verifyReply(replies[0]!, pkt.subarray(4, 20), secretBuf)).toBe(true);
    const parsed = parsePacket(replies[0]!);
    expect(parsed.ok && parsed.packet.attributes[0]!.type).toBe(ATTR.MessageAuthenticator);
    expect(s.server.counters().clients.netscaler!.duplicates).toBe(2);

    // radclient's own retransmits (-t 0.15 -r 4 against a 400 ms handler): one call, one answer.
    const before = slow.calls.length;
    const rc = await radclient({
      server: `127.0.0.1:${s.auth}`,
      command: 'auth',
      secret: SECRET,
      lines: ['User-Name = "carol"', 'User-Password = "correct horse"', 'Message-Authenticator = 0x00'],
      timeout: 0.15,
      retries: 4,
    });
    expect(rc.replies[0]?.code, rc.stdout + rc.stderr).toBe('Access-Challenge');
    expect(slow.calls.length - before).toBe(1);
  });

  it('learns Message-Authenticator for an auto client and keeps it across a restart', async () => {
    const store = await openStore(tmp());
    stores.push(store);
    const h = twoStepHandler();
    const clients = [cfg({ address: '127.0.0.1', requireMessageAuthenticator: 'auto' })];
    const first = track(await run(clients, h.handler, { store }));
    expect(first.server.clientsWithoutMessageAuthenticator()).toEqual(['netscaler']);
    // Without MA an auto client is still served (and named as exposed)...
    const plain = await exchange(first.auth, [request({ messageAuthenticator: false })]);
    expect(plain).toHaveLength(1);
    // ...until it sends a valid one.
    const signed = await radclient({
      server: `127.0.0.1:${first.auth}`,
      command: 'auth',
      secret: SECRET,
      lines: ['User-Name = "alice"', 'User-Password = "correct horse"', 'Message-Authenticator = 0x00'],
    });
    expect(signed.replies[0]?.code).toBe('Access-Challenge');
    expect(first.server.clientsWithoutMessageAuthenticator()).toEqual([]);
    await first.server.stop();
    await new Promise((r) => setTimeout(r, 50)); // the learned flag is persisted asynchronously

    const second = track(await run(clients, h.handler, { store }));
    expect(second.server.clientsWithoutMessageAuthenticator()).toEqual([]);
    const calls = h.calls.length;
    expect(await exchange(second.auth, [request({ messageAuthenticator: false })])).toEqual([]);
    expect(second.server.counters().clients.netscaler!.drops['missing-message-authenticator']).toBe(1);
    expect(h.calls.length).toBe(calls);
    const c = second.server.counters().clients.netscaler!;
    expect(c.requireMessageAuthenticator).toBe('auto');
    expect(c.messageAuthenticatorRequired).toBe(true);
  });
});
