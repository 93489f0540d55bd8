/**
 * The appliance's observability end to end: radclient logs in against the running box (demo
 * directory, simulated modem), and then
 *  - a TCP and a UDP syslog receiver on loopback hold the RFC 5424 record of that decision;
 *  - GET /metrics (monitoring token) parses with a Prometheus text parser and its counters moved;
 *  - `mfabox status` (a real process) prints the components and exits by the health status,
 *    and exits 3 once the service is stopped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { statusCommand } from '../../firmware/src/commands/status.ts';
import { SD_ID } from '../../firmware/src/audit/syslog-format.ts';
import type { HealthSnapshot } from '../../firmware/src/health/health.ts';
import type { Appliance } from '../../firmware/src/main.ts';
import { e2eConfig, nas, startE2eBox, writeCliConfig } from '../helpers/e2e-box.ts';
import { mfabox } from '../helpers/mfabox-cli.ts';
import { histogramValue, parsePrometheus, sample } from '../helpers/prometheus.ts';
import { tcpReceiver, udpReceiver, type Receiver } from '../helpers/syslog-receivers.ts';

const SECRET = 'metrics-shared-secret-16';
const TOKEN = 'prometheus-token-0123456789abcdef';

async function inProcess(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    const code = await statusCommand.run(args);
    return { code, out: lines.join('\n') };
  } finally {
    spy.mockRestore();
  }
}

describe('syslog, /metrics and mfabox status on a running box (radclient, loopback receivers)', () => {
  let app: Appliance | undefined;
  let dir: string;
  let configFile: string;
  let tcp: Receiver;
  let udp: Receiver;

  const scrape = async (token = TOKEN) => {
    const res = await fetch(`${app?.webUrl ?? ''}/metrics`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, text: await res.text() };
  };
  const { login } = nas(() => app?.radiusPort ?? 0, SECRET, { ip: '203.0.113.7' });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-observe-'));
    tcp = await tcpReceiver();
    udp = await udpReceiver();
    const raw = e2eConfig(
      dir,
      SECRET,
      {
        directory: { kind: 'demo', syncIntervalMinutes: 0 },
        web: { address: '127.0.0.1', port: 0, tls: false, monitorToken: TOKEN },
        syslog: [
          { url: `tcp://127.0.0.1:${tcp.port}` },
          { url: `udp://127.0.0.1:${udp.port}`, facility: 'local0' },
        ],
      },
      { address: '127.0.0.0/8' },
    );
    app = await startE2eBox(raw, { demo: true, noLeds: true });
    configFile = join(dir, 'config.json');
    await writeCliConfig(configFile, raw, app);
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    await tcp?.close();
    await udp?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a reject reaches both syslog receivers as RFC 5424, and the metrics count it', async () => {
    const before = parsePrometheus((await scrape()).text);
    const rejectsBefore = sample(before, 'mfabox_radius_requests_total', {
      client: 'netscaler',
      outcome: 'reject',
      reason: 'bad-password',
    });

    expect((await login('CORP\\bob', 'not-his-password')).code).toBe('Access-Reject');
    expect((await login('alice', 'alice-pass')).code).toBe('Access-Challenge');

    await tcp.waitFor(2);
    await udp.waitFor(2);
    for (const r of [tcp, udp]) {
      expect(r.errors).toEqual([]);
      const rej = r.messages.find((m) => m.msgId === 'radius-reject');
      expect(rej?.sd[SD_ID]).toMatchObject({
        kind: 'radius',
        outcome: 'reject',
        reason: 'bad-password',
        user: 'CORP\\bob',
        client: 'netscaler',
        clientIp: '203.0.113.7',
      });
      expect(rej?.severity).toBe(4);
      expect(r.messages.some((m) => m.msgId === 'radius-challenge')).toBe(true);
      // Never a secret on the wire: no password, no passcode.
      expect(r.raw.map(String).join('\n')).not.toMatch(/not-his-password|alice-pass/);
    }
    expect(tcp.messages[0]?.facility).toBe(10);
    expect(udp.messages[0]?.facility).toBe(16);

    const { status, text } = await scrape();
    expect(status).toBe(200);
    const after = parsePrometheus(text);
    expect(
      sample(after, 'mfabox_radius_requests_total', {
        client: 'netscaler',
        outcome: 'reject',
        reason: 'bad-password',
      }),
    ).toBe(rejectsBefore + 1);
    expect(sample(after, 'mfabox_radius_requests_total', { outcome: 'challenge' })).toBeGreaterThanOrEqual(1);
    expect(
      histogramValue(text, 'mfabox_radius_request_duration_seconds', 'count', { outcome: 'reject' }),
    ).toBe(rejectsBefore + 1);
    // Registered, or sending alice's passcode right now.
    expect(
      sample(after, 'mfabox_modem_state', { modem: 'sim0', state: 'registered' }) +
        sample(after, 'mfabox_modem_state', { modem: 'sim0', state: 'sending' }),
    ).toBe(1);
    expect(sample(after, 'mfabox_syslog_connected', { target: `tcp://127.0.0.1:${tcp.port}` })).toBe(1);
    expect(histogramValue(text, 'mfabox_directory_request_duration_seconds', 'count')).toBeGreaterThanOrEqual(
      2,
    );
    expect((await scrape('wrong-token-0123456789abcdef')).status).toBe(401);
  });

  it('health carries the audit and syslog counters; mfabox status prints them and exits by status', async () => {
    const res = await fetch(`${app?.webUrl ?? ''}/api/health`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const h = (await res.json()) as HealthSnapshot;
    expect(h.audit?.dropped).toBe(0);
    expect(h.audit?.syslog.map((t) => t.connected)).toEqual([true, true]);

    const text = await mfabox(['status', '--config', configFile]);
    expect(text.err).toBe('');
    expect(text.code).toBe(h.status === 'ok' ? 0 : h.status === 'degraded' ? 1 : 2);
    expect(text.out).toMatch(/^radius +listening +udp 127\.0\.0\.1:\d+/m);
    expect(text.out).toMatch(/^modem sim0 +registered/m);
    expect(text.out).toMatch(
      new RegExp(`^syslog tcp://127\\.0\\.0\\.1:${tcp.port} +connected +\\d+ sent`, 'm'),
    );
    expect(text.out).toMatch(/^audit log +ok +/m);

    // The other forms in-process (a real process per run costs seconds of start-up).
    const json = await inProcess(['--config', configFile, '--json']);
    const parsed = JSON.parse(json.out) as HealthSnapshot;
    expect(json.code).toBe(text.code);
    expect(parsed.modems[0]?.name).toBe('sim0');
    expect(parsed.audit?.syslog).toHaveLength(2);

    await app?.stop();
    app = undefined;
    const down = await inProcess(['--config', configFile]);
    expect(down.code).toBe(3);
    expect(down.out).toMatch(/^mfabox +unreachable +nothing answers at http:\/\/127\.0\.0\.1:\d+/m);
  }, 60_000);
});
