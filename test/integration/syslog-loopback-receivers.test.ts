/**
 * Syslog to real receivers on loopback (node dgram/net/tls servers that parse every frame with a
 * strict RFC 5424 parser; TLS material from the openssl command): UDP datagrams, TCP and TLS with
 * RFC 6587 octet counting, the CA pinned. Then what a collector that is down or black-holed does:
 * records wait in a bounded queue, the oldest are dropped and counted, the sender never waits,
 * and it reconnects by itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../firmware/src/audit/records.ts';
import { SD_ID } from '../../firmware/src/audit/syslog-format.ts';
import { SyslogTarget } from '../../firmware/src/audit/syslog.ts';
import { syslogTargetSchema } from '../../firmware/src/config/audit-schema.ts';
import { blackHoleReceiver, tcpReceiver, tlsReceiver, udpReceiver } from '../helpers/syslog-receivers.ts';
import { makeTlsFiles, type TlsFiles } from '../helpers/tls-files.ts';

const fast = { retryMinMs: 50, retryMaxMs: 200, connectTimeoutMs: 2000 };

function rec(i: number, user = `user${i}`): AuditRecord {
  return {
    kind: 'radius',
    t: Date.UTC(2026, 11, 6, 8, 2, 0, i % 1000),
    user,
    client: 'netscaler',
    outcome: i % 2 ? 'reject' : 'accept',
    reason: i % 2 ? 'bad-password' : 'passcode-ok',
    explanation: 'x'.repeat(200),
  };
}

const target = (url: string, extra: Record<string, unknown> = {}): SyslogTarget =>
  new SyslogTarget(syslogTargetSchema.parse({ url, ...extra }), fast);

async function until(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('syslog to loopback receivers (udp, tcp, tls)', () => {
  let dir: string;
  let files: TlsFiles;
  const open: SyslogTarget[] = [];
  const keep = (t: SyslogTarget): SyslogTarget => (open.push(t), t);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mfabox-syslog-'));
    files = makeTlsFiles(dir);
  });
  afterAll(async () => {
    for (const t of open) await t.close(100);
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers valid RFC 5424 messages over UDP, TCP (octet counting) and TLS with the CA pinned', async () => {
    const udp = await udpReceiver();
    const tcp = await tcpReceiver();
    const tlsR = await tlsReceiver(files);
    try {
      const targets = [
        keep(target(`udp://127.0.0.1:${udp.port}`)),
        keep(target(`tcp://127.0.0.1:${tcp.port}`, { facility: 'local4' })),
        keep(target(`tls://127.0.0.1:${tlsR.port}`, { caFile: files.caFile })),
      ];
      const names = ['CORP\\bob', 'Zoë "quoted", with comma]', 'Лариса\nИванова'];
      names.forEach((u, i) => {
        for (const t of targets) t.send(rec(i, u));
      });
      await Promise.all([udp.waitFor(3), tcp.waitFor(3), tlsR.waitFor(3)]);
      for (const r of [udp, tcp, tlsR]) {
        expect(r.errors).toEqual([]);
        expect(r.messages.map((m) => m.sd[SD_ID]?.user)).toEqual([
          'CORP\\bob',
          'Zoë "quoted", with comma]',
          'Лариса\\nИванова',
        ]);
        expect(r.messages[1]).toMatchObject({ appName: 'mfabox', msgId: 'radius-reject', severity: 4 });
      }
      expect(udp.messages[0]?.facility).toBe(10);
      expect(tcp.messages[0]?.facility).toBe(20);
      expect(tlsR.handshakes()).toBe(1);
      expect(targets.map((t) => t.stats().sent)).toEqual([3, 3, 3]);
    } finally {
      await Promise.all([udp.close(), tcp.close(), tlsR.close()]);
    }
  });

  it('refuses a TLS collector whose certificate does not chain to the pinned CA', async () => {
    const tlsR = await tlsReceiver(files);
    try {
      const t = keep(target(`tls://127.0.0.1:${tlsR.port}`, { caFile: files.otherCaFile }));
      t.send(rec(1));
      await until(() => t.stats().errors > 0);
      expect(t.stats().connected).toBe(false);
      expect(t.stats().lastError).toMatch(/certificate|self.signed|issuer/i);
      expect(t.stats().buffered).toBe(1);
      await new Promise((r) => setTimeout(r, 300));
      expect(tlsR.messages).toHaveLength(0);
    } finally {
      await tlsR.close();
    }
  });

  it('while the collector is down, keeps the newest maxBuffered, counts the drops, and delivers them once it is back', async () => {
    const port = await freePort();
    const t = keep(target(`tcp://127.0.0.1:${port}`, { maxBuffered: 100 }));
    for (let i = 1; i <= 250; i++) t.send(rec(i));
    expect(t.stats()).toMatchObject({ connected: false, buffered: 100, dropped: 150, sent: 0 });
    await until(() => t.stats().errors > 0);
    expect(t.stats().lastError).toMatch(/ECONNREFUSED/);

    const back = await tcpReceiver(port);
    try {
      await back.waitFor(100);
      expect(back.errors).toEqual([]);
      // The oldest went: exactly user151 … user250 arrive, in order.
      expect(back.messages.map((m) => m.sd[SD_ID]?.user)).toEqual(
        Array.from({ length: 100 }, (_, k) => `user${151 + k}`),
      );
      expect(t.stats()).toMatchObject({ connected: true, buffered: 0, dropped: 150, sent: 100 });

      // The collector restarts: the target reconnects by itself and carries on.
      await back.close();
      await until(() => !t.stats().connected);
      const again = await tcpReceiver(port);
      try {
        t.send(rec(999, 'after-restart'));
        await again.waitFor(1);
        expect(again.messages[0]?.sd[SD_ID]?.user).toBe('after-restart');
      } finally {
        await again.close();
      }
    } finally {
      await back.close().catch(() => undefined);
    }
  });

  it('a black-holed collector (accepts, never reads) never makes send() wait; the queue stays bounded', async () => {
    const hole = await blackHoleReceiver();
    try {
      const t = keep(target(`tcp://127.0.0.1:${hole.port}`, { maxBuffered: 1000 }));
      await until(() => t.stats().connected);
      const N = 30_000;
      let worst = 0;
      for (let i = 0; i < N; i++) {
        const t0 = performance.now();
        t.send(rec(i));
        worst = Math.max(worst, performance.now() - t0);
        // Let the socket write and fill the kernel's buffers now and then, as a running box would.
        if (i % 2000 === 0) await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 200));
      const s = t.stats();
      expect(s.buffered).toBeLessThanOrEqual(1000);
      expect(s.dropped).toBeGreaterThan(0);
      expect(s.sent + s.dropped + s.buffered).toBe(N);
      // One send is formatting and an array push: even on a loaded machine far below a RADIUS timeout.
      expect(worst).toBeLessThan(100);
    } finally {
      await hole.close();
    }
  });
});
