import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { EXIT, statusCommand, statusLines } from '../../../firmware/src/commands/status.ts';
import type { HealthSnapshot } from '../../../firmware/src/health/health.ts';

const snap: HealthSnapshot = {
  status: 'degraded',
  problems: ['syslog target tls://siem:6514 unreachable (ECONNREFUSED): 12 records waiting, 0 dropped'],
  modems: [
    {
      name: 'sim0',
      state: 'registered',
      bars: 4,
      dbm: -71,
      operator: 'Test Net',
      sentCount: 1234,
      failedCount: 2,
    },
  ],
  directory: { state: 'up', server: 'ldaps://dc1.corp.example:636' },
  store: { writable: true },
  radius: {
    listening: ['udp 0.0.0.0:1812'],
    clientsWithoutMessageAuthenticator: ['old-nas'],
    counters: { netscaler: { requests: 1500, accepts: 700 }, 'old-nas': { requests: 10, accepts: 1 } },
  },
  outbox: { queued: 1, inFlight: 0, sent: 900, failed: 2, expired: 1, oldestQueuedAgeMs: 3200 },
  audit: {
    written: 5000,
    dropped: 0,
    buffered: 3,
    stored: 250000,
    pruned: 0,
    syslog: [
      {
        url: 'tls://siem:6514',
        connected: false,
        sent: 10,
        dropped: 0,
        buffered: 12,
        errors: 4,
        lastError: 'ECONNREFUSED',
      },
    ],
  },
  clock: { synced: true, now: '2026-12-06T08:02:00.000Z' },
  uptimeSeconds: 7260,
};

describe('mfabox status', () => {
  it('prints one line per component with its state and detail, then the problems', () => {
    const lines = statusLines(snap);
    const byName = (n: string): string | undefined => lines.find((l) => l.startsWith(`${n} `));
    expect(byName('mfabox')).toMatch(/^mfabox +degraded +up 121 min$/);
    expect(byName('radius')).toMatch(/listening +udp 0\.0\.0\.0:1812; 1,510 requests, 701 accepted/);
    expect(byName('radius client old-nas')).toMatch(/warning +no Message-Authenticator/);
    expect(byName('directory')).toMatch(/up +ldaps:\/\/dc1\.corp\.example:636/);
    expect(byName('modem sim0')).toMatch(
      /registered +signal 4\/5 \(-71 dBm\), Test Net, 1,234 sent, 2 failed/,
    );
    expect(byName('sms queue')).toMatch(
      /busy +1 queued, 0 in flight, oldest 3 s; 900 sent, 2 failed, 1 expired/,
    );
    expect(byName('store')).toMatch(/writable/);
    expect(byName('audit log')).toMatch(/ok +250,000 kept, 5,000 written, 3 waiting, 0 dropped/);
    expect(byName('syslog tls://siem:6514')).toMatch(
      /unreachable +10 sent, 12 waiting, 0 dropped; ECONNREFUSED/,
    );
    expect(byName('clock')).toMatch(/synced/);
    expect(lines.slice(-2)).toEqual(['problems:', `  - ${snap.problems[0]}`]);
  });

  it('exits 3 with the reason when no service answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mfabox-status-'));
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({ dataDir: join(dir, 'data'), web: { address: '127.0.0.1', port, tls: false } }),
    );
    const lines: string[] = [];
    const spy = vi
      .spyOn(console, 'log')
      .mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    try {
      expect(await statusCommand.run(['--config', file])).toBe(EXIT.unreachable);
      expect(await statusCommand.run(['--config', file, '--json'])).toBe(3);
    } finally {
      spy.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(lines[0]).toBe(
      `mfabox                 unreachable  nothing answers at http://127.0.0.1:${port}/api/status`,
    );
    expect(JSON.parse(lines[1] ?? '')).toEqual({
      status: 'unreachable',
      problems: [`nothing answers at http://127.0.0.1:${port}/api/status`],
    });
  });
});
