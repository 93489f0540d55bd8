/**
 * RADIUS p99 does not move when every syslog collector is unreachable. Two boxes run side by side,
 * each in its own process (demo directory, simulated modem): A without syslog, B sending to a TCP
 * collector that accepts and never reads, a TCP port that refuses, a UDP port nobody listens on,
 * and a TLS address that never answers (TEST-NET-1). Requests alternate A, B, A, B… so both see the
 * same machine load; B's p99 must stay within A's (with slack for a shared 2-core machine), and B's
 * health must show the oldest records dropped and counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealthSnapshot } from '../../firmware/src/health/health.ts';
import { encodeRequest } from '../../firmware/src/radius/codec.ts';
import { blackHoleReceiver } from '../helpers/syslog-receivers.ts';

const CHILD = join(import.meta.dirname, 'fixtures', 'appliance-child.ts');
const SECRET = 'p99-shared-secret-of-16';
const TOKEN = 'p99-monitor-token-0123456789abcdef';
const N = 800;

interface Box {
  child: ChildProcess;
  radiusPort: number;
  webUrl: string;
}

function config(dataDir: string, syslog: unknown[]): object {
  return {
    dataDir,
    deviceKeyFile: `${dataDir}.device.key`,
    radius: {
      listen: [{ address: '127.0.0.1', port: 0 }],
      accountingPort: 0,
      clients: [
        { name: 'netscaler', address: '127.0.0.0/8', secret: SECRET, requireMessageAuthenticator: 'yes' },
      ],
    },
    directory: { kind: 'demo', syncIntervalMinutes: 0 },
    web: { address: '127.0.0.1', port: 0, tls: false, monitorToken: TOKEN },
    // No per-user throttle in the way: every request is a different unknown user.
    syslog,
  };
}

function startBox(cfg: object): Promise<Box> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(cfg)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, MFABOX_LOG_LEVEL: 'silent' },
  });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('box did not start within 60 s')), 60_000);
    child.on('exit', (code) => reject(new Error(`box exited with ${String(code)}`)));
    createInterface({ input: child.stdout }).on('line', (l) => {
      if (!l.startsWith('{"radiusPort"')) return;
      clearTimeout(t);
      const { radiusPort, webUrl } = JSON.parse(l) as { radiusPort: number; webUrl: string };
      resolve({ child, radiusPort, webUrl });
    });
  });
}

async function stopBox(b: Box | undefined): Promise<void> {
  if (!b || b.child.exitCode !== null) return;
  const exited = new Promise((r) => b.child.once('exit', r));
  b.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  b.child.kill('SIGKILL');
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** One Access-Request, its round trip in ms (the reply code is checked to be Access-Reject). */
async function roundTrip(sock: dgram.Socket, port: number, id: number, user: string): Promise<number> {
  const pkt = encodeRequest({
    identifier: id,
    authenticator: randomBytes(16),
    secret: Buffer.from(SECRET),
    attributes: [['User-Name', user]],
    password: 'not-a-password',
  });
  const t0 = performance.now();
  const reply = new Promise<Buffer>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no reply for ${user}`)), 10_000);
    const on = (m: Buffer): void => {
      if (m[1] !== id) return;
      clearTimeout(t);
      sock.off('message', on);
      resolve(m);
    };
    sock.on('message', on);
  });
  sock.send(pkt, port, '127.0.0.1');
  const m = await reply;
  expect(m[0]).toBe(3); // Access-Reject
  return performance.now() - t0;
}

const p = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

describe('RADIUS p99 with every syslog collector unreachable (two boxes side by side)', () => {
  let dir: string;
  let a: Box | undefined;
  let b: Box | undefined;
  let hole: Awaited<ReturnType<typeof blackHoleReceiver>>;
  let refused: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mfabox-p99-'));
    hole = await blackHoleReceiver();
    refused = await freePort();
    const udpNobody = await freePort();
    [a, b] = await Promise.all([
      startBox(config(join(dir, 'a'), [])),
      startBox(
        config(join(dir, 'b'), [
          { url: `tcp://127.0.0.1:${hole.port}`, maxBuffered: 100 },
          { url: `tcp://127.0.0.1:${refused}`, maxBuffered: 100 },
          { url: `udp://127.0.0.1:${udpNobody}`, maxBuffered: 100 },
          { url: 'tls://192.0.2.1:6514', maxBuffered: 100 },
        ]),
      ),
    ]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([stopBox(a), stopBox(b)]);
    await hole?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // About 40 s: two boxes start from source (tsx) in parallel, then 2 × 840 sequential round trips.
  it('answers as fast as a box without syslog, and drops the oldest records with a counter', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const ra: number[] = [];
    const rb: number[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        await roundTrip(sock, a?.radiusPort ?? 0, i % 256, `warm-a${i}`);
        await roundTrip(sock, b?.radiusPort ?? 0, i % 256, `warm-b${i}`);
      }
      for (let i = 0; i < N; i++) {
        ra.push(await roundTrip(sock, a?.radiusPort ?? 0, i % 256, `ghost-a${i}`));
        rb.push(await roundTrip(sock, b?.radiusPort ?? 0, i % 256, `ghost-b${i}`));
      }
    } finally {
      sock.close();
    }
    const fig = {
      a: { p50: p(ra, 0.5), p99: p(ra, 0.99) },
      b: { p50: p(rb, 0.5), p99: p(rb, 0.99) },
    };
    console.log(`p99 without syslog / with every collector unreachable (ms): ${JSON.stringify(fig)}`);

    const res = await fetch(`${b?.webUrl ?? ''}/api/health`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const h = (await res.json()) as HealthSnapshot;
    const byUrl = new Map(h.audit?.syslog.map((t) => [t.url, t]));
    const ref = byUrl.get(`tcp://127.0.0.1:${refused}`);
    // 40 + N records (one per request to B, warm-up included) went to a queue of 100.
    expect(ref?.connected).toBe(false);
    expect(ref?.buffered).toBe(100);
    expect(ref?.dropped).toBeGreaterThanOrEqual(N + 40 - 100);
    expect(byUrl.get('tls://192.0.2.1:6514')?.connected).toBe(false);
    expect(byUrl.get('tls://192.0.2.1:6514')?.dropped).toBeGreaterThanOrEqual(N + 40 - 100);
    expect(byUrl.get(`tcp://127.0.0.1:${hole.port}`)?.connected).toBe(true);
    expect(h.audit?.dropped).toBe(0); // the store kept every record

    // Same machine, same moments: B's tail may not be worse than A's beyond noise.
    expect(fig.b.p99).toBeLessThanOrEqual(Math.max(fig.a.p99 * 2, fig.a.p99 + 25));
    expect(fig.b.p50).toBeLessThanOrEqual(fig.a.p50 * 1.5 + 2);
  }, 120_000);
});
