/**
 * The MFA Box side of `npm run bench -- login`, in its own process so its CPU and RSS are its own:
 * the real RADIUS server over the real LDAP directory (pooled user binds), answering step 1 as the
 * box does: the password checked in the directory, then an Access-Challenge with a fresh State.
 * The engine's durable challenge write and SMS queueing are left out on purpose: FreeRADIUS +
 * rlm_ldap does neither, and this bench compares the directory part (the passcode step has its own,
 * `npm run bench -- radius`).
 * Env: BENCH_DIRECTORY (the directory config, JSON), BENCH_SECRET.
 * Prints {port, pid} when ready; on stdin close prints {stats, memory} and exits.
 */
import { cryptoRandom } from '../../firmware/src/clock.ts';
import { configureLogging } from '../../firmware/src/log.ts';
import { parseConfig } from '../../firmware/src/config/load.ts';
import { radiusClientSchema } from '../../firmware/src/config/schema.ts';
import { createLdapDirectory } from '../../firmware/src/directory/ldap.ts';
import { createRadiusServer } from '../../firmware/src/radius/server.ts';
import type { RadiusHandler } from '../../firmware/src/auth/types.ts';
import { serveBench } from './children.ts';

configureLogging({ level: 'warn' });
const SECRET = process.env.BENCH_SECRET ?? 'bench-nas-secret-0123456789';
const cfg = parseConfig({ directory: JSON.parse(process.env.BENCH_DIRECTORY ?? '{}') as unknown }).directory;
if (cfg.kind !== 'ldap') throw new Error('BENCH_DIRECTORY must be an ldap directory');
const directory = await createLdapDirectory(cfg);
directory.start();
await directory.probe();

const handler: RadiusHandler = async (req) => {
  const r = await directory.verifyPassword(req.userName, req.password);
  if (!r.ok) return { code: 'Access-Reject', attributes: [] };
  return {
    code: 'Access-Challenge',
    attributes: [
      ['State', cryptoRandom.bytes(16)],
      ['Reply-Message', 'Enter the code sent by SMS'],
    ],
  };
};

const server = createRadiusServer({
  clients: [
    radiusClientSchema.parse({
      name: 'bench',
      address: '127.0.0.1',
      secret: SECRET,
      requireMessageAuthenticator: 'yes',
    }),
  ],
  handler,
  listen: [{ address: '127.0.0.1', port: 0 }],
});
const { auth } = await server.start();

// Between the bench's phases: how busy the event loop was since the last question (0–1), so a
// saturated loop shows as such.
let loopLast = performance.eventLoopUtilization();
process.on('SIGUSR2', () => {
  const busy = performance.eventLoopUtilization(loopLast).utilization;
  loopLast = performance.eventLoopUtilization();
  process.stdout.write(JSON.stringify({ busy }) + '\n');
});

serveBench(
  auth[0]!.port,
  () => ({ stats: directory.bindStats(), memory: process.memoryUsage() }),
  async () => {
    await server.stop();
    await directory.close();
  },
);
