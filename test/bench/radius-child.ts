/**
 * The MFA Box side of `npm run bench -- radius`, in its own process so its RSS is its own.
 * Serves the real RADIUS server on 127.0.0.1:0 with a durable LevelDB store and one of:
 *  - engine:  the real auth engine over the store the bench prepared (step 1 already done for
 *             every user, so the directory is not needed: step 2 reads only the challenge records).
 *  - leveldb: a handler that does a durable LevelDB get + update of a challenge record per request
 *             (the passcode-verify step's storage work without the engine), for the load shape that
 *             repeats 200 packets with radclient -c (a real State is single use).
 * Env: BENCH_MODE, BENCH_DB (store dir), BENCH_SECRET, BENCH_DEVICE_SECRET (hex, engine mode).
 * Prints one JSON line when ready; on stdin close prints the counters and exits.
 */
import { configureLogging } from '../../firmware/src/log.ts';
import { cryptoRandom, systemClock } from '../../firmware/src/clock.ts';
import { openStore } from '../../firmware/src/store/store.ts';
import type { StoreOp } from '../../firmware/src/store/store.ts';
import { createRadiusServer } from '../../firmware/src/radius/server.ts';
import type { AccessRequest, HandlerReply, RadiusHandler } from '../../firmware/src/radius/types.ts';
import { radiusClientSchema, passcodeSchema, policySchema } from '../../firmware/src/config/schema.ts';
import { DemoDirectory } from '../../firmware/src/directory/demo.ts';
import type { Outbox } from '../../firmware/src/dispatch/types.ts';
import { createAuthEngine } from '../../firmware/src/auth/engine.ts';
import { quietOutboxParts } from '../helpers/outbox.ts';

configureLogging({ level: 'warn' });

const mode = process.env.BENCH_MODE === 'leveldb' ? 'leveldb' : 'engine';
const SECRET = process.env.BENCH_SECRET ?? 'testing123';
const store = await openStore(process.env.BENCH_DB ?? '/nonexistent');

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
} else {
  const outbox: Outbox = {
    prepare: () => [],
    wake: () => undefined,
    enqueue: () => Promise.resolve(),
    ready: () => true,
    expectedWaitMs: () => 0,
    status: () => Promise.resolve('queued'),
    ...quietOutboxParts,
  };
  handler = createAuthEngine({
    directory: new DemoDirectory([]),
    outbox,
    store,
    clock: systemClock,
    random: cryptoRandom,
    config: {
      passcode: passcodeSchema.parse({ ttlSeconds: 1800 }),
      policy: policySchema.parse({}),
      defaultCountry: 'US',
      deviceSecret: Buffer.from(process.env.BENCH_DEVICE_SECRET ?? '', 'hex'),
    },
  }).handle;
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

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await new Promise<void>((resolve) =>
    process.stdout.write(
      JSON.stringify({
        counters: server.counters().clients.bench,
        memory: process.memoryUsage(),
        afterGc: (() => {
          (globalThis as { gc?: () => void }).gc?.();
          return process.memoryUsage();
        })(),
      }) + '\n',
      () => resolve(),
    ),
  );
  await server.stop();
  await store.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.stdin.on('end', () => void shutdown());
process.stdin.resume();
process.stdout.write(JSON.stringify({ port: auth[0]!.port, pid: process.pid }) + '\n');
