import { describe, expect, it } from 'vitest';
import type { AuditStats } from '../../../firmware/src/audit/audit-log.ts';
import type { AuthDecision } from '../../../firmware/src/auth/decision.ts';
import type { HealthSnapshot } from '../../../firmware/src/health/health.ts';
import { DeferredMetrics } from '../../../firmware/src/metrics/deferred.ts';
import { parsePrometheus, sample } from '../../helpers/prometheus.ts';

const health = (): HealthSnapshot => ({
  status: 'ok',
  problems: [],
  modems: [],
  directory: { state: 'up', server: 'ldaps://dc1:636' },
  store: { writable: true },
  radius: { listening: ['udp 127.0.0.1:1812'], clientsWithoutMessageAuthenticator: [], counters: {} },
  outbox: { queued: 0, inFlight: 0, sent: 0, failed: 0, expired: 0, oldestQueuedAgeMs: 0 },
  clock: { synced: true, now: new Date().toISOString() },
  uptimeSeconds: 1,
});
const audit = (): AuditStats => ({ written: 0, dropped: 0, buffered: 0, stored: 0, pruned: 0 });
const reject: AuthDecision = {
  at: Date.now(),
  step: 'password',
  user: 'bob',
  client: 'netscaler',
  outcome: 'reject',
  reason: 'bad-password',
};

describe('metrics recorded before prom-client is loaded', () => {
  it('are replayed into the real metrics at load, and later ones go straight in', async () => {
    const d = new DeferredMetrics();
    d.decision(reject, 12);
    d.drop({
      client: 'netscaler',
      source: { address: '192.0.2.1', port: 40000 },
      reason: 'bad-message-authenticator',
      code: 'RadiusBadMessageAuthenticator',
    });
    const m = await d.load({ health, audit, syslog: () => [] });
    d.decision(reject, 3);
    const text = parsePrometheus(await m.text());
    const requests = (outcome: string, reason: string): number =>
      sample(text, 'mfabox_radius_requests_total', { client: 'netscaler', outcome, reason });
    expect(requests('reject', 'bad-password')).toBe(2);
    expect(requests('dropped', 'bad-message-authenticator')).toBe(1);
    // load() again gives the same metrics, nothing counted twice
    expect(await d.load({ health, audit, syslog: () => [] })).toBe(m);
    expect(
      sample(parsePrometheus(await m.text()), 'mfabox_radius_requests_total', {
        client: 'netscaler',
        outcome: 'reject',
        reason: 'bad-password',
      }),
    ).toBe(2);
  });
});
