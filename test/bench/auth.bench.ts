/**
 * Auth engine throughput with the real LevelDB store and durable writes (`npm run bench -- auth`).
 * Figures are ratios against what was measured in the same run: the store's own durable-put rate
 * at the same concurrency (the floor every challenge and passcode check pays), and NetScaler's
 * default 3 s RADIUS timeout for the p99 latency.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuthEngine } from '../../firmware/src/auth/engine.ts';
import { cryptoRandom, systemClock } from '../../firmware/src/clock.ts';
import { passcodeSchema, policySchema } from '../../firmware/src/config/schema.ts';
import { DemoDirectory, type DemoUser } from '../../firmware/src/directory/demo.ts';
import type {
  Outbox,
  OutboxEntryInput,
  OutboxStats,
  PreparedEntry,
} from '../../firmware/src/dispatch/types.ts';
import { preparedWith } from '../helpers/outbox.ts';
import type { NasClient } from '../../firmware/src/auth/types.ts';
import { openStore, type Store } from '../../firmware/src/store/store.ts';

const USERS = 2000;
const CONCURRENCY = 100;
const NETSCALER_TIMEOUT_MS = 3000;

class BenchOutbox implements Outbox {
  readonly codes = new Map<string, string>();
  constructor(private readonly store: Store) {}
  prepare(e: OutboxEntryInput): PreparedEntry {
    this.codes.set(e.username ?? '', /(\d{6})/.exec(e.text)?.[1] ?? '');
    return preparedWith([
      this.store.table<{ to: string }>('outbox').op({ type: 'put', key: e.challengeId, value: { to: e.to } }),
    ]);
  }
  async enqueue(e: OutboxEntryInput): Promise<void> {
    await this.store.atomic(this.prepare(e).ops);
  }
  ready = (): boolean => true;
  expectedWaitMs = (): number => 0;
  status = (): Promise<undefined> => Promise.resolve(undefined);
  stats = (): OutboxStats => ({
    queued: 0,
    inFlight: 0,
    sent: 0,
    failed: 0,
    expired: 0,
    oldestQueuedAgeMs: null,
  });
  close = (): Promise<void> => Promise.resolve();
}

async function pool<T>(items: T[], work: (t: T) => Promise<void>): Promise<{ rps: number; lat: number[] }> {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        const s = performance.now();
        await work(item);
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { rps: items.length / secs, lat };
}

const pct = (lat: number[], p: number): number =>
  lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mfabox-bench-auth-'));
  const store = await openStore(dir);
  try {
    const users: DemoUser[] = Array.from({ length: USERS }, (_, i) => ({
      username: `u${i}`,
      dn: `CN=u${i}`,
      password: `p${i}`,
      mobiles: [`+1555${String(i).padStart(7, '0')}`],
      groups: ['MFA Users'],
      disabled: false,
    }));
    const outbox = new BenchOutbox(store);
    const engine = createAuthEngine({
      directory: new DemoDirectory(users),
      outbox,
      store,
      clock: systemClock,
      random: cryptoRandom,
      config: {
        passcode: passcodeSchema.parse({}),
        policy: policySchema.parse({}),
        defaultCountry: 'US',
        acceptPossibleNumbers: true,
        deviceSecret: cryptoRandom.bytes(32),
      },
    });
    const client: NasClient = {
      name: 'bench',
      match: '127.0.0.1',
      requireMessageAuthenticator: 'yes',
      passwordCheck: 'directory',
      acceptAttributes: [['Class', 'bench']],
    };
    const base = { source: { address: '127.0.0.1', port: 1 }, identifier: 0 };

    const raw = store.table<{ n: number }>('counters');
    const floor = await pool(
      Array.from({ length: USERS }, (_, i) => i),
      (i) => raw.put(`bench${i}`, { n: i }),
    );

    const states = new Map<string, Buffer>();
    const step1 = await pool(users, async (u) => {
      const r = await engine.handle({ ...base, userName: u.username, password: u.password }, client);
      const s = r.attributes.find(([n]) => n === 'State')?.[1];
      if (r.code !== 'Access-Challenge' || !Buffer.isBuffer(s))
        throw new Error(`step 1 for ${u.username}: ${r.code}`);
      states.set(u.username, s);
    });
    const step2 = await pool(users, async (u) => {
      const r = await engine.handle(
        {
          ...base,
          userName: u.username,
          password: outbox.codes.get(u.username) ?? '',
          state: states.get(u.username),
        },
        client,
      );
      if (r.code !== 'Access-Accept') throw new Error(`step 2 for ${u.username}: ${r.code}`);
    });

    const line = (name: string, m: { rps: number; lat: number[] }): void =>
      console.log(
        `${name.padEnd(28)} ${m.rps.toFixed(0).padStart(6)} req/s  ×${(m.rps / floor.rps).toFixed(2)} of durable put  ` +
          `p50 ${pct(m.lat, 0.5).toFixed(1)} ms  p99 ${pct(m.lat, 0.99).toFixed(1)} ms ` +
          `(${((pct(m.lat, 0.99) / NETSCALER_TIMEOUT_MS) * 100).toFixed(2)} % of NetScaler's 3 s timeout)`,
      );
    console.log(`auth engine, ${USERS} users, ${CONCURRENCY} in flight, LevelDB with fsync`);
    line('store durable put (floor)', floor);
    line('step 1: password → challenge', step1);
    line('step 2: passcode → accept', step2);
    console.log(`fsyncs: ${store.syncCount} for ${USERS * 3} durable writes (group commit)`);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
