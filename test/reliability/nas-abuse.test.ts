/**
 * Scenario 5, a NAS that retransmits aggressively (the same request 5× at 1 s): one SMS and five
 * identical replies. Scenario 6, garbage on every port (random UDP to auth and accounting, random
 * bytes and request-smuggling attempts to the web port, random bytes from the modem): no crash,
 * and service continues. Packets are built with the npm `radius` package, not the box's codec.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import radius from 'radius';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModemSimulator } from '../../firmware/src/modem/simulator/index.ts';
import { SECRET, bindsFor, bulkUser, report, sleep, type Box, type DirectoryPeer } from './harness.ts';
import { startRig, type Rig } from './rig.ts';
import type { Handsets } from './users.ts';
import { login } from './users.ts';

function sendAndCollect(
  sock: dgram.Socket,
  port: number,
  packet: Buffer,
  times: number,
  gapMs: number,
): Promise<Buffer[]> {
  const replies: Buffer[] = [];
  sock.on('message', (m) => replies.push(m));
  return (async () => {
    for (let i = 0; i < times; i++) {
      sock.send(packet, port, '127.0.0.1');
      await sleep(gapMs);
    }
    await sleep(1_500);
    return replies;
  })();
}

/** Raw HTTP/1.1 over TCP: what a smuggler or a fuzzer sends, and whatever comes back. */
function rawHttp(url: string, payload: Buffer | string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname);
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', () => resolve(got));
    s.on('close', () => resolve(got));
    s.setTimeout(3_000, () => s.destroy());
    s.write(payload, () => s.end());
  });
}

describe('reliability: the NAS and the network misbehave', () => {
  let dir: DirectoryPeer;
  let sims: ModemSimulator[];
  let box: Box;
  let rig: Rig | undefined;
  let phones: Handsets;
  beforeAll(async () => {
    rig = await startRig({ users: 40, smsDelayMs: 100 });
    ({ dir, sims, phones, box } = rig);
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it('a request retransmitted 5× at 1 s gets one SMS and five identical replies', async () => {
    const u = bulkUser(1);
    const packet = radius.encode({
      code: 'Access-Request',
      secret: SECRET,
      identifier: 77,
      attributes: [
        ['User-Name', u.name],
        ['User-Password', dir.password],
        ['NAS-Identifier', 'netscaler'],
      ],
      add_message_authenticator: true,
    });
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const replies = await sendAndCollect(sock, box.radiusPort, packet, 5, 1_000);
    sock.close();
    await sleep(2_000); // any second SMS would have arrived by now
    const sms = phones.byNumber.get(u.number)?.length ?? 0;
    const binds = bindsFor(dir, u.name);
    const codes = replies.map((r) => radius.decode({ packet: r, secret: SECRET }).code);
    const identical = replies.every((r) => r.equals(replies[0] ?? Buffer.alloc(0)));
    const pass =
      replies.length === 5 && identical && sms === 1 && binds === 1 && codes[0] === 'Access-Challenge';
    report('retransmit', pass, {
      requests: 5,
      replies: replies.length,
      identical: String(identical),
      sms,
      binds,
    });
    expect(codes[0]).toBe('Access-Challenge');
    expect(replies).toHaveLength(5);
    expect(identical).toBe(true);
    expect(sms).toBe(1);
    expect(binds).toBe(1);
  });

  it('garbage on the RADIUS, accounting, web and modem sides: no crash, service continues', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const acct = Number(/Accounting\s+udp 127\.0\.0\.1:(\d+)/.exec(box.out())?.[1] ?? 0);
    let udp = 0;
    for (let i = 0; i < 2_000; i++) {
      const len = 1 + Math.floor(Math.random() * 200);
      const b = randomBytes(len);
      // Half of them look like RADIUS (a valid code and length) so they reach deeper checks.
      if (i % 2 === 0 && len >= 20) {
        b[0] = [1, 4, 12][i % 3] ?? 1;
        b.writeUInt16BE(len, 2);
      }
      sock.send(b, box.radiusPort, '127.0.0.1');
      if (acct) sock.send(b, acct, '127.0.0.1');
      udp += acct ? 2 : 1;
      if (i % 200 === 0) await sleep(5);
    }
    sock.close();

    const smuggling = [
      'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd',
      'GET /' + 'a'.repeat(70_000) + ' HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'GET / HTTP/1.1\r\n' + 'X: y\r\n'.repeat(5_000) + '\r\n',
    ];
    const answers: string[] = [];
    for (const p of smuggling) answers.push(await rawHttp(box.webUrl, p));
    for (let i = 0; i < 50; i++) await rawHttp(box.webUrl, randomBytes(1 + Math.floor(Math.random() * 4096)));
    // A smuggled second request must never be answered as if it were a request of its own.
    const smuggled = answers[0] ?? '';
    const twoResponses = (smuggled.match(/HTTP\/1\.1 \d{3}/g) ?? []).length > 1;

    // Random bytes from the modem: unsolicited garbage lines between the modem's answers.
    for (let i = 0; i < 30; i++)
      sims[0]?.fault({
        kind: 'urc',
        line: randomBytes(20)
          .toString('latin1')
          .replace(/[\r\n]/g, '?'),
      });

    await sleep(1_000);
    const alive = box.child.exitCode === null && box.child.signalCode === null;
    const after = await login(box, phones, 2, dir.password, 20_000);
    const pass = alive && after.step2 === 'Access-Accept' && !twoResponses;
    report('garbage', pass, {
      udp,
      http: smuggling.length + 50,
      urcs: 30,
      alive: String(alive),
      login: String(after.step2),
    });
    expect(alive).toBe(true);
    expect(twoResponses).toBe(false);
    expect(after.step1).toBe('Access-Challenge');
    expect(after.step2).toBe('Access-Accept');
  });
});
