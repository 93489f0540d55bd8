import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditStats } from '../../../firmware/src/audit/audit-log.ts';
import type { SyslogTargetStats } from '../../../firmware/src/audit/syslog.ts';
import type { AuthDecision } from '../../../firmware/src/auth/decision.ts';
import type { HealthSnapshot } from '../../../firmware/src/health/health.ts';
import { Metrics } from '../../../firmware/src/metrics/metrics.ts';
import { family, histogramValue, parsePrometheus, sample } from '../../helpers/prometheus.ts';
import { login, testWeb, type TestWeb } from '../../helpers/web.ts';

const TOKEN = 'monitor-token-0123456789abcdef';

function snapshot(): HealthSnapshot {
  return {
    status: 'degraded',
    problems: ['modem m2: searching'],
    modems: [
      { name: 'm1', state: 'registered', bars: 4, dbm: -71, sentCount: 3, failedCount: 0 },
      { name: 'm2', state: 'searching', sentCount: 0, failedCount: 0 },
    ],
    directory: { state: 'up', server: 'ldaps://dc1:636' },
    store: { writable: true },
    radius: { listening: ['udp 127.0.0.1:1812'], clientsWithoutMessageAuthenticator: [], counters: {} },
    outbox: { queued: 2, inFlight: 1, sent: 5, failed: 0, expired: 0, oldestQueuedAgeMs: 4000 },
    clock: { synced: true, now: new Date().toISOString() },
    uptimeSeconds: 60,
  };
}

const decision = (d: Partial<AuthDecision>): AuthDecision => ({
  at: Date.now(),
  step: 'password',
  user: 'bob',
  client: 'netscaler',
  outcome: 'reject',
  reason: 'bad-password',
  ...d,
});

describe('Prometheus metrics', () => {
  const audit: AuditStats = { written: 10, dropped: 0, buffered: 0, stored: 10, pruned: 0 };
  const syslog: SyslogTargetStats[] = [
    { url: 'tcp://siem:514', connected: false, sent: 4, dropped: 0, buffered: 7, errors: 1 },
  ];
  let now = 1_000_000;
  const m = new Metrics({ health: snapshot, audit: () => audit, syslog: () => syslog }, () => now);
  let web: TestWeb;
  beforeAll(async () => {
    web = await testWeb({ metrics: m }, { monitorToken: TOKEN });
  });
  afterAll(() => web.close());

  const scrape = async () => parsePrometheus(await m.text());

  it('counts RADIUS outcomes and drops by client and reason, with latency, and lockouts', async () => {
    m.decision(decision({}), 12);
    m.decision(decision({}), 30);
    m.decision(decision({ outcome: 'challenge', reason: 'challenge-sent' }), 20);
    m.decision(decision({ step: 'passcode', reason: 'account-locked' }), 5);
    m.drop({
      client: undefined,
      source: { address: '192.0.2.9', port: 1 },
      reason: 'unknown-client',
      code: 'X',
    });
    m.drop({ client: 'netscaler', source: { address: '10.0.0.1', port: 1 }, reason: 'malformed', code: 'X' });
    const f = await scrape();
    expect(family(f, 'mfabox_radius_requests_total').type).toBe('COUNTER');
    expect(sample(f, 'mfabox_radius_requests_total', { outcome: 'reject', reason: 'bad-password' })).toBe(2);
    expect(sample(f, 'mfabox_radius_requests_total', { outcome: 'challenge' })).toBe(1);
    expect(
      sample(f, 'mfabox_radius_requests_total', {
        client: '(unknown)',
        outcome: 'dropped',
        reason: 'unknown-client',
      }),
    ).toBe(1);
    expect(sample(f, 'mfabox_radius_requests_total', { client: 'netscaler', reason: 'malformed' })).toBe(1);
    expect(family(f, 'mfabox_radius_request_duration_seconds').type).toBe('HISTOGRAM');
    const text = await m.text();
    const rejects = { client: 'netscaler', outcome: 'reject' };
    expect(histogramValue(text, 'mfabox_radius_request_duration_seconds', 'count', rejects)).toBe(3);
    expect(histogramValue(text, 'mfabox_radius_request_duration_seconds', 'sum', rejects)).toBeCloseTo(
      0.047,
      5,
    );
    expect(text).toContain(
      'mfabox_radius_request_duration_seconds_bucket{le="0.025",client="netscaler",outcome="reject"} 2',
    );
    expect(sample(f, 'mfabox_lockouts_total')).toBe(1);
  });

  it('reads modem state and signal, queue depth, directory and health at scrape time', async () => {
    const f = await scrape();
    expect(sample(f, 'mfabox_modem_state', { modem: 'm1', state: 'registered' })).toBe(1);
    expect(sample(f, 'mfabox_modem_state', { modem: 'm2', state: 'registered' })).toBe(0);
    expect(sample(f, 'mfabox_modem_state', { modem: 'm2', state: 'searching' })).toBe(1);
    expect(sample(f, 'mfabox_modem_signal_dbm', { modem: 'm1' })).toBe(-71);
    expect(family(f, 'mfabox_modem_signal_dbm').metrics).toHaveLength(1);
    expect(sample(f, 'mfabox_sms_queue_depth', { state: 'queued' })).toBe(2);
    expect(sample(f, 'mfabox_sms_queue_depth', { state: 'in_flight' })).toBe(1);
    expect(sample(f, 'mfabox_sms_oldest_queued_seconds')).toBe(4);
    expect(sample(f, 'mfabox_directory_up', { server: 'ldaps://dc1:636' })).toBe(1);
    expect(sample(f, 'mfabox_health_status', { status: 'degraded' })).toBe(1);
    expect(sample(f, 'mfabox_health_status', { status: 'ok' })).toBe(0);
    // Process memory and event-loop lag (prom-client's default metrics).
    expect(sample(f, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(family(f, 'nodejs_eventloop_lag_seconds').type).toBe('GAUGE');
  });

  it('counts SMS events, send time and failures by class', async () => {
    m.smsEvent({ status: 'queued', challengeId: 'c1', to: '***1' });
    now += 2500;
    m.smsEvent({ status: 'sent', challengeId: 'c1', to: '***1', modem: 'm1', messageRefs: [7] });
    m.smsEvent({ status: 'queued', challengeId: 'c2', to: '***2' });
    m.smsEvent({ status: 'failed', challengeId: 'c2', to: '***2', reason: 'SmsPermanent: +CMS ERROR: 38' });
    m.smsEvent({ status: 'expired', challengeId: 'c3', to: '***3' });
    const f = await scrape();
    expect(sample(f, 'mfabox_sms_total', { event: 'queued' })).toBe(2);
    expect(sample(f, 'mfabox_sms_total', { event: 'sent' })).toBe(1);
    const send = family(f, 'mfabox_sms_send_duration_seconds').metrics[0];
    expect(Number(send?.count)).toBe(1);
    expect(Number(send?.sum)).toBeCloseTo(2.5, 5);
    expect(sample(f, 'mfabox_sms_failures_total', { class: 'permanent' })).toBe(1);
    expect(sample(f, 'mfabox_sms_failures_total', { class: 'expired' })).toBe(1);
  });

  it('turns audit and syslog totals into counters that grow with them', async () => {
    let f = await scrape();
    expect(sample(f, 'mfabox_audit_records_dropped_total')).toBe(0);
    expect(sample(f, 'mfabox_syslog_buffered', { target: 'tcp://siem:514' })).toBe(7);
    expect(sample(f, 'mfabox_syslog_connected', { target: 'tcp://siem:514' })).toBe(0);
    audit.dropped = 42;
    audit.written = 15;
    if (syslog[0]) syslog[0].dropped = 3;
    f = await scrape();
    expect(sample(f, 'mfabox_audit_records_dropped_total')).toBe(42);
    expect(sample(f, 'mfabox_audit_records_written_total')).toBe(15);
    expect(sample(f, 'mfabox_syslog_messages_dropped_total', { target: 'tcp://siem:514' })).toBe(3);
    f = await scrape(); // a second scrape with nothing new must not count again
    expect(sample(f, 'mfabox_audit_records_dropped_total')).toBe(42);
  });

  it('directory calls by DC: latency and errors', async () => {
    m.directoryCall('ldaps://dc1:636', 'verify-password', 40);
    m.directoryCall('ldaps://dc2:636', 'verify-password', 3000, 'unavailable');
    const f = await scrape();
    const text = await m.text();
    expect(family(f, 'mfabox_directory_request_duration_seconds').type).toBe('HISTOGRAM');
    expect(
      histogramValue(text, 'mfabox_directory_request_duration_seconds', 'count', {
        server: 'ldaps://dc2:636',
      }),
    ).toBe(1);
    expect(
      histogramValue(text, 'mfabox_directory_request_duration_seconds', 'sum', { server: 'ldaps://dc2:636' }),
    ).toBe(3);
    expect(
      sample(f, 'mfabox_directory_errors_total', { server: 'ldaps://dc2:636', reason: 'unavailable' }),
    ).toBe(1);
    expect(sample(f, 'mfabox_directory_errors_total', { server: 'ldaps://dc1:636' })).toBe(0);
  });

  it('GET /metrics needs an admin session or the monitoring token', async () => {
    const anon = await web.app.inject({ method: 'GET', url: '/metrics' });
    expect(anon.statusCode).toBe(401);
    expect(anon.headers['www-authenticate']).toMatch(/^Bearer/);
    const wrong = await web.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${TOKEN}x` },
    });
    expect(wrong.statusCode).toBe(401);
    const ok = await web.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sample(parsePrometheus(ok.body), 'mfabox_lockouts_total')).toBe(1);
    const s = await login(web.app);
    const admin = await web.app.inject({ method: 'GET', url: '/metrics', headers: { cookie: s.cookie } });
    expect(admin.statusCode).toBe(200);
    // From outside the admin networks, even the token is refused (the web rules come first).
    web.security.adminNetworks = ['10.9.0.0/16'];
    try {
      const far = await web.app.inject({
        method: 'GET',
        url: '/metrics',
        remoteAddress: '192.0.2.50',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(far.statusCode).toBe(403);
    } finally {
      web.security.adminNetworks = [];
    }
  });
});
