/** Health snapshots for the LED tests. */
import type { HealthSnapshot } from '../../../firmware/src/health/health.ts';
import type { ModemState } from '../../../firmware/src/modem/types.ts';

export function snapshot(
  o: {
    modems?: ModemState[];
    sent?: number;
    listening?: boolean;
    requests?: number;
    drops?: Record<string, number>;
    status?: HealthSnapshot['status'];
    synced?: boolean | 'unknown';
    directory?: 'up' | 'degraded' | 'down';
  } = {},
): HealthSnapshot {
  const counters: Record<string, number> = { requests: o.requests ?? 0 };
  for (const [k, v] of Object.entries(o.drops ?? {})) counters[`drops.${k}`] = v;
  return {
    status: o.status ?? 'ok',
    problems: [],
    modems: (o.modems ?? ['registered']).map((state, i) => ({
      name: `m${i}`,
      state,
      sentCount: i === 0 ? (o.sent ?? 0) : 0,
      failedCount: 0,
    })),
    directory: { state: o.directory ?? 'up' },
    store: { writable: true },
    radius: {
      listening: o.listening === false ? [] : ['udp 0.0.0.0:1812'],
      clientsWithoutMessageAuthenticator: [],
      counters: { ns: counters },
    },
    clock: { synced: o.synced ?? true, now: new Date(0).toISOString() },
    uptimeSeconds: 1,
  };
}
