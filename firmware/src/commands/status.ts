/**
 * `mfabox status`: the running service's health model, a line per component (its state and
 * detail), or the snapshot as JSON. The exit code follows the monitoring-plugin convention so a
 * script or Nagios/Icinga check can use it as is: 0 ok, 1 degraded, 2 down, 3 service unreachable.
 */
import type { HealthSnapshot } from '../health/health.ts';
import { loadConfigFile } from '../config/load.ts';
import { STATUS_ROUTE } from '../web-api/routes/metrics.ts';
import { defineCommand } from './command.ts';
import { callLocalApi, configOption } from './local-service.ts';

export const EXIT = { ok: 0, degraded: 1, down: 2, unreachable: 3 } as const;

const n = (x: number): string => x.toLocaleString('en-US');

function row(name: string, state: string, detail = ''): string {
  return `${name.padEnd(22)} ${state.padEnd(12)} ${detail}`.trimEnd();
}

/** The snapshot as text: the overall status, one line per component, then the problems. */
export function statusLines(s: HealthSnapshot): string[] {
  const out = [row('mfabox', s.status, `up ${Math.floor(s.uptimeSeconds / 60)} min`)];
  const r = s.radius;
  let requests = 0;
  let accepts = 0;
  for (const c of Object.values(r.counters)) {
    requests += c.requests ?? 0;
    accepts += c.accepts ?? 0;
  }
  out.push(
    row(
      'radius',
      r.listening.length > 0 ? 'listening' : 'down',
      `${r.listening.join(', ')}; ${n(requests)} requests, ${n(accepts)} accepted`,
    ),
  );
  for (const c of r.clientsWithoutMessageAuthenticator)
    out.push(row(`radius client ${c}`, 'warning', 'no Message-Authenticator (BlastRADIUS)'));
  const d = s.directory;
  out.push(row('directory', d.state, [d.server, d.detail].filter(Boolean).join(': ')));
  if (s.modems.length === 0) out.push(row('modem', 'none', 'no modem configured'));
  for (const m of s.modems) {
    const signal =
      m.bars !== undefined ? `signal ${m.bars}/5${m.dbm !== undefined ? ` (${m.dbm} dBm)` : ''}` : undefined;
    const detail = [m.detail, signal, m.operator, `${n(m.sentCount)} sent, ${n(m.failedCount)} failed`]
      .filter(Boolean)
      .join(', ');
    out.push(row(`modem ${m.name}`, m.state, detail));
  }
  if (s.outbox) {
    const o = s.outbox;
    const age = o.oldestQueuedAgeMs === null ? '' : `, oldest ${Math.round(o.oldestQueuedAgeMs / 1000)} s`;
    out.push(
      row(
        'sms queue',
        o.queued + o.inFlight > 0 ? 'busy' : 'idle',
        `${n(o.queued)} queued, ${n(o.inFlight)} in flight${age}; ${n(o.sent)} sent, ${n(o.failed)} failed, ${n(o.expired)} expired`,
      ),
    );
  }
  out.push(row('store', s.store.writable ? 'writable' : 'read-only'));
  if (s.audit) {
    const a = s.audit;
    out.push(
      row(
        'audit log',
        a.dropped > 0 ? 'lost records' : 'ok',
        `${a.stored === undefined ? '' : `${n(a.stored)} kept, `}${n(a.written)} written, ${n(a.buffered)} waiting, ${n(a.dropped)} dropped`,
      ),
    );
    for (const t of a.syslog)
      out.push(
        row(
          `syslog ${t.url}`,
          t.connected ? 'connected' : 'unreachable',
          `${n(t.sent)} sent, ${n(t.buffered)} waiting, ${n(t.dropped)} dropped${!t.connected && t.lastError ? `; ${t.lastError}` : ''}`,
        ),
      );
  }
  out.push(
    row(
      'clock',
      s.clock.synced === true ? 'synced' : s.clock.synced === false ? 'not synced' : 'unknown',
      s.clock.now,
    ),
  );
  if (s.problems.length > 0) {
    out.push('', 'problems:');
    for (const p of s.problems) out.push(`  - ${p}`);
  }
  return out;
}

export const statusCommand = defineCommand({
  name: 'status',
  summary:
    'The running service: a line per component with its state and detail (exit 0 ok, 1 degraded, 2 down, 3 not running)',
  details:
    'Asks the service on this box over loopback (the same health model as the LEDs, the dashboard and /metrics).',
  options: {
    config: configOption,
    json: { type: 'boolean', help: 'the health snapshot as JSON' },
  },
  async run({ values }) {
    const config = await loadConfigFile(values.config);
    const r = await callLocalApi(config, 'GET', STATUS_ROUTE, undefined, 10_000);
    if (!r.ok || r.status !== 200) {
      const why = !r.ok
        ? r.reason
        : r.status === 404
          ? 'the running service has no status API (an older mfabox? restart it after an upgrade)'
          : `the service answered HTTP ${r.status}`;
      if (values.json) console.log(JSON.stringify({ status: 'unreachable', problems: [why] }, null, 2));
      else console.log(row('mfabox', 'unreachable', why));
      return EXIT.unreachable;
    }
    const s = r.body as HealthSnapshot;
    if (values.json) console.log(JSON.stringify(s, null, 2));
    else for (const line of statusLines(s)) console.log(line);
    return EXIT[s.status];
  },
});
