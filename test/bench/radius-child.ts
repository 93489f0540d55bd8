/**
 * The MFA Box side of `npm run bench -- radius`, in its own process so its RSS is its own.
 * Serves the real RADIUS server on 127.0.0.1:0 with a durable LevelDB store and one of:
 *  - engine:  the real auth engine over the store the bench prepared (step 1 already done for
 *             every user, so the directory is not needed: step 2 reads only the challenge records).
 *  - leveldb: a handler that does a durable LevelDB get + update of a challenge record per request
 *             (the passcode-verify step's storage work without the engine), for the load shape that
 *             repeats 200 packets with radclient -c (a real State is single use).
 *  - prepare: step 1 of the real engine into the store for the engine run, then exit (below).
 *  - accept:  floors under the engine run, fed its packet files: every request answered Access-
 *  - write:   Accept at once (accept), or after one durable write of a spent challenge record keyed
 *             by its State (write), so the bench can say what Node and this server, and the
 *             durable write an Accept needs, cost on their own.
 * Env: BENCH_MODE, BENCH_DB (store dir), BENCH_SECRET, BENCH_DEVICE_SECRET (hex, engine/prepare),
 * BENCH_GROUPS / BENCH_PROBES / BENCH_DIR / BENCH_FORMAT (prepare), BENCH_ALLOC_PROFILE (a path:
 * every allocation from serving on, sampled, garbage included, written there as a .heapprofile
 * at exit; --heap-prof keeps only what is still live, and the young generation's churn is the cost).
 * Prints one JSON line when ready; on stdin close prints the counters and exits.
 */
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { configureLogging } from '../../firmware/src/log.ts';
import { cryptoRandom, systemClock } from '../../firmware/src/clock.ts';
import { openStore } from '../../firmware/src/store/store.ts';
import type { StoreOp } from '../../firmware/src/store/store.ts';
import { createRadiusServer } from '../../firmware/src/radius/server.ts';
import type { AccessRequest, HandlerReply, NasClient, RadiusHandler } from '../../firmware/src/auth/types.ts';
import { radiusClientSchema, passcodeSchema, policySchema } from '../../firmware/src/config/schema.ts';
import { limitsSchema } from '../../firmware/src/config/auth-schema.ts';
import { DemoDirectory } from '../../firmware/src/directory/demo.ts';
import type { DemoUser } from '../../firmware/src/directory/demo.ts';
import type { Outbox } from '../../firmware/src/dispatch/types.ts';
import { createAuthEngine, type AuthEngine } from '../../firmware/src/auth/engine.ts';
import { spentRecord, type ChallengeRecord } from '../../firmware/src/auth/challenges.ts';
import { preparedWith, quietOutboxParts } from '../helpers/outbox.ts';
import { serveBench } from './children.ts';

configureLogging({ level: 'warn' });

const mode = process.env.BENCH_MODE ?? 'engine';
const SECRET = process.env.BENCH_SECRET ?? 'bench-nas-secret-0123456789';
const store = await openStore(process.env.BENCH_DB ?? '/nonexistent');

const engineConfig = () => ({
  passcode: passcodeSchema.parse({ ttlSeconds: 1800 }),
  policy: policySchema.parse({}),
  defaultCountry: 'US',
  acceptPossibleNumbers: true,
  // Step 1 for thousands of users at once (prepare, in-process) needs the box-wide SMS cap (60 %
  // of one SIM's rate) off; the passcode step sends no SMS and reads no SMS limit.
  limits: limitsSchema.parse(mode === 'prepare' || inProcess ? { smsPerMinute: 0 } : {}),
  deviceSecret: Buffer.from(process.env.BENCH_DEVICE_SECRET ?? '', 'hex'),
});

// BENCH_INPROCESS=1 (engine mode): step 1 runs in this process first, as in production, so the
// passcode step finds its challenges in the engine's bounded cache; the files go in the ready line.
const inProcess = mode === 'engine' && process.env.BENCH_INPROCESS === '1';
if (mode === 'prepare') {
  const { prepared } = await prepare();
  await new Promise<void>((resolve) =>
    process.stdout.write(JSON.stringify(prepared) + '\n', () => resolve()),
  );
  await store.close();
  process.exit(0);
}

/**
 * Step 1 of the real engine for one user per future request (BENCH_GROUPS files × packets, plus
 * BENCH_PROBES), then packet files for step 2. Returns the engine and {files, probes}.
 */
async function prepare(): Promise<{ engine: AuthEngine; prepared: Prepared }> {
  const groups = JSON.parse(process.env.BENCH_GROUPS ?? '[]') as {
    name: string;
    files: number;
    per: number;
  }[];
  const probeCount = Number(process.env.BENCH_PROBES ?? 0);
  const fileDir = process.env.BENCH_DIR ?? '.';
  const total = groups.reduce((n, g) => n + g.files * g.per, 0) + probeCount;
  const users: DemoUser[] = Array.from({ length: total }, (_, i) => ({
    username: `u${i}`,
    dn: `CN=u${i},DC=bench`,
    password: 'pw',
    mobiles: [`+1555${String(i).padStart(7, '0')}`],
    groups: ['MFA Users'],
    disabled: false,
  }));
  const codes = new Map<string, string>();
  const outbox: Outbox = {
    prepare(entry) {
      const code = /\b(\d{4,10})\b/.exec(entry.text)?.[1];
      if (entry.username && code) codes.set(entry.username, code);
      // The real outbox writes its entry in the challenge's durable batch; so does this one.
      return preparedWith([
        store
          .table<{ to: string; expiresAt: number }>('outbox')
          .op({ type: 'put', key: entry.challengeId, value: { to: entry.to, expiresAt: entry.expiresAt } }),
      ]);
    },
    ...quietOutboxParts,
  };
  const engine = createAuthEngine({
    directory: new DemoDirectory(users),
    outbox,
    store,
    clock: systemClock,
    random: cryptoRandom,
    config: engineConfig(),
  });
  const client: NasClient = {
    name: 'bench',
    match: '127.0.0.1',
    requireMessageAuthenticator: 'yes',
    passwordCheck: 'directory',
    acceptAttributes: [],
  };
  const states: string[] = new Array<string>(total);
  for (let i = 0; i < total; i += 500) {
    await Promise.all(
      users.slice(i, i + 500).map(async (u, j) => {
        const r = await engine.handle(
          { source: { address: '127.0.0.1', port: 1 }, identifier: 0, userName: u.username, password: 'pw' },
          client,
        );
        const st = r.attributes.find(([k]) => k === 'State')?.[1];
        if (r.code !== 'Access-Challenge' || !Buffer.isBuffer(st))
          throw new Error(`step 1 for ${u.username}: ${r.code}`);
        states[i + j] = st.toString('hex');
      }),
    );
  }
  let n = 0;
  // BENCH_FORMAT=tsv: `user<TAB>code<TAB>State hex` lines for login-client.ts; radclient's otherwise.
  const tsv = process.env.BENCH_FORMAT === 'tsv';
  const packet = (k: number): string =>
    tsv
      ? `u${k}\t${codes.get(`u${k}`)}\t${states[k]}`
      : `User-Name = "u${k}"\nUser-Password = "${codes.get(`u${k}`)}"\nState = 0x${states[k]}\nMessage-Authenticator = 0x00\n`;
  const files: Record<string, string[]> = {};
  for (const g of groups) {
    files[g.name] = [];
    for (let f = 0; f < g.files; f++) {
      const path = join(fileDir, `${process.env.BENCH_PREFIX ?? 'mb'}-${g.name}-${f}.txt`);
      writeFileSync(path, Array.from({ length: g.per }, () => packet(n++)).join('\n'));
      files[g.name]!.push(path);
    }
  }
  const probes: { user: string; state: string; code: string }[] = [];
  for (let p = 0; p < probeCount; p++, n++)
    probes.push({ user: `u${n}`, state: states[n]!, code: codes.get(`u${n}`)! });
  return { engine, prepared: { files, probes } };
}

interface Prepared {
  files: Record<string, string[]>;
  probes: { user: string; state: string; code: string }[];
}
const ACCEPT: HandlerReply = { code: 'Access-Accept', attributes: [['Class', 'mfabox']] };
let prepared: Prepared | undefined;
let handler: RadiusHandler;
if (mode === 'leveldb') {
  const table = store.table<{ user: string; attempts: number; used: number }>('challenges');
  const ops: StoreOp[] = [];
  for (let i = 0; i < 200; i++)
    ops.push(table.op({ type: 'put', key: `st${i}`, value: { user: `u${i}`, attempts: 0, used: 0 } }));
  await store.atomic(ops);
  handler = async (req: AccessRequest): Promise<HandlerReply> => {
    const key = req.state?.toString('utf8') ?? '';
    const rec = await table.get(key);
    if (!rec || req.password !== '123456') return { code: 'Access-Reject', attributes: [] };
    await table.put(key, { ...rec, used: rec.used + 1 });
    return { code: 'Access-Accept', attributes: [['Class', 'mfabox']] };
  };
} else if (mode === 'accept') {
  handler = () => Promise.resolve(ACCEPT);
} else if (mode === 'write') {
  const table = store.table<ChallengeRecord>('challenges');
  handler = async (req: AccessRequest): Promise<HandlerReply> => {
    const state = req.state?.toString('hex') ?? '';
    const now = Date.now();
    // The record as the engine keeps a used challenge: spentRecord of one shaped like step 1's.
    const spent = spentRecord(
      {
        id: state,
        user: req.userName,
        login: req.userName,
        stateIds: [state],
        passcodeHash: '',
        salt: '',
        expiresAt: now + 1_800_000,
        attempts: 0,
        maxAttempts: 3,
        nas: 'bench',
        createdAt: now,
        to: '+15550000000',
        used: false,
      },
      now,
    );
    await store.atomic([table.op({ type: 'put', key: `c:${state}`, value: spent })]);
    return ACCEPT;
  };
} else if (inProcess) {
  const step1 = await prepare();
  prepared = step1.prepared;
  step1.engine.start();
  handler = step1.engine.handle;
} else {
  const outbox: Outbox = {
    prepare: () => preparedWith([]),
    ...quietOutboxParts,
  };
  const engine = createAuthEngine({
    directory: new DemoDirectory([]),
    outbox,
    store,
    clock: systemClock,
    random: cryptoRandom,
    config: engineConfig(),
  });
  // As main.ts does: the sweep timer, and the live challenges loaded into memory.
  engine.start();
  handler = engine.handle;
}

const server = createRadiusServer({
  clients: [
    radiusClientSchema.parse({
      name: 'bench',
      address: '127.0.0.1',
      secret: SECRET,
      requireMessageAuthenticator: 'yes',
      acceptAttributes: [['Class', 'mfabox']],
    }),
  ],
  handler,
  store,
  listen: [{ address: '127.0.0.1', port: 0 }],
  ...(process.env.BENCH_DEDUPE_ENTRIES
    ? { duplicateCacheEntries: Number(process.env.BENCH_DEDUPE_ENTRIES) }
    : {}),
});
const { auth } = await server.start();

// Garbage collections so far: pauses on the main thread, by kind (the bench prints them per round).
const gcs = { minor: 0, major: 0, minorMs: 0, majorMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    // NODE_PERFORMANCE_GC_MAJOR is 4 (mark-compact); the rest are scavenges and weak-callback runs.
    const kind =
      (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === 4 ? 'major' : 'minor';
    gcs[kind]++;
    gcs[`${kind}Ms`] += e.duration;
  }
}).observe({ entryTypes: ['gc'] });

// The bench asks between its phases how many fsyncs the store made (closed loop vs open loop).
process.on('SIGUSR2', () => {
  process.stdout.write(
    JSON.stringify({
      syncs: store.syncCount,
      requests: server.counters().clients.bench?.requests ?? 0,
      ...gcs,
      heapUsed: process.memoryUsage().heapUsed,
    }) + '\n',
  );
});

const allocProfile = process.env.BENCH_ALLOC_PROFILE;
const inspector = allocProfile ? new Session() : undefined;
if (inspector) {
  inspector.connect();
  await inspector.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}

serveBench(
  auth[0]!.port,
  () => ({
    counters: server.counters().clients.bench,
    syncs: store.syncCount,
    memory: process.memoryUsage(),
    afterGc: (() => {
      (globalThis as { gc?: () => void }).gc?.();
      return process.memoryUsage();
    })(),
  }),
  async () => {
    if (inspector && allocProfile) {
      const { profile } = await inspector.post('HeapProfiler.stopSampling');
      writeFileSync(allocProfile, JSON.stringify(profile));
    }
    await server.stop();
    await store.close();
  },
  { ...prepared, syncs: store.syncCount },
);
