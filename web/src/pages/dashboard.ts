/**
 * The dashboard: health, modem cards, RADIUS counters per client and drop reason, the directory,
 * two charts over 24 h (logins per minute, SMS send time) and the recent authentications.
 */
import { api } from '../api.ts';
import { lineChart } from '../chart.ts';
import { h, table } from '../dom.ts';
import { getHealth, show, signal } from '../page.ts';

interface RadiusRecord {
  t: number;
  user: string;
  client: string;
  outcome: string;
  reason: string;
  step?: string;
  to?: string;
  latencyMs?: number;
}
interface Activity {
  since: number;
  bucketMinutes: number;
  accepts: number[];
  rejects: number[];
  smsMs: (number | null)[];
  recent: RadiusRecord[];
}

export async function dashboard(): Promise<void> {
  const [hl, act, sync] = await Promise.all([
    getHealth(),
    api<Activity>('GET', '/api/activity'),
    api<{ state: string; finishedAt?: number; seen: number; skippedCount: number }>(
      'GET',
      '/api/directory/sync',
    ).catch(() => undefined),
  ]);
  const counters = Object.entries(hl.radius.counters).map(([client, c]) => [
    client,
    ...['requests', 'accepts', 'rejects', 'challenges'].map((k) => String(c[k] ?? 0)),
    Object.entries(c)
      .filter(([k, n]) => k.startsWith('drops.') && n > 0)
      .map(([k, n]) => `${k.slice(6)} ${n}`)
      .join(', '),
  ]);
  const q = hl.outbox;
  show(
    h('h1', {}, 'Dashboard ', h('span', { id: 'health', class: hl.status }, hl.status)),
    h('ul', {}, ...hl.problems.map((p) => h('li', { class: 'down' }, p))),
    h('h2', {}, 'Modems'),
    h(
      'div',
      { class: 'cards' },
      ...hl.modems.map((m) =>
        h(
          'section',
          { class: 'card' },
          h('h3', {}, m.name),
          h('p', {}, `${m.state}${m.detail ? ` — ${m.detail}` : ''}`),
          h(
            'p',
            {},
            `Signal ${signal(m) || 'unknown'}; ${m.operator ?? 'no operator'}${m.roaming ? ' (roaming)' : ''}`,
          ),
          h('p', {}, `SIM ${m.identity?.iccid ?? 'unknown'}; sent ${m.sentCount}, failed ${m.failedCount}`),
          h(
            'p',
            { class: 'last-send' },
            `Last send: ${m.lastSentAt === undefined ? 'none since start' : new Date(m.lastSentAt).toLocaleString()}`,
          ),
        ),
      ),
    ),
    h('p', {}, q ? `SMS queue: ${q.queued} waiting, ${q.inFlight} sending` : ''),
    h('h2', {}, 'Last 24 hours'),
    lineChart('chart-logins', 'Logins per minute', '/min', [
      { name: 'accepted', values: act.accepts, className: 'accept' },
      { name: 'rejected', values: act.rejects, className: 'reject' },
    ]),
    lineChart('chart-sms', 'SMS send time (median)', 'ms', [
      { name: 'queued → accepted by the modem', values: act.smsMs, className: 'sms' },
    ]),
    h('h2', {}, 'RADIUS'),
    h('p', {}, `listening on ${hl.radius.listening.join(', ')}`),
    table(['Client', 'Requests', 'Accepts', 'Rejects', 'Challenges', 'Drops'], counters),
    h('h2', {}, 'Directory'),
    h(
      'p',
      { id: 'directory-state' },
      `${hl.directory.state}${hl.directory.server ? ` — ${hl.directory.server}` : ''}`,
    ),
    h(
      'p',
      { id: 'last-sync' },
      sync
        ? `Last sync: ${sync.state}${sync.finishedAt ? ` at ${new Date(sync.finishedAt).toLocaleString()}` : ''}; ${sync.seen} members, ${sync.skippedCount} skipped`
        : '',
    ),
    h('h2', {}, 'Recent authentications'),
    h(
      'div',
      { class: 'scroll', id: 'recent' },
      table(
        ['Time', 'User', 'Client', 'Outcome', 'Reason', 'Number'],
        act.recent.map((r) => [
          new Date(r.t).toLocaleTimeString(),
          r.user,
          r.client,
          r.outcome,
          `${r.reason}${r.step ? ` (${r.step})` : ''}`,
          r.to ?? '',
        ]),
      ),
    ),
  );
}
