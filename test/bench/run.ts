/**
 * `npm run bench [-- area...]`: runs the named benchmarks (all when none are named). Each
 * `test/bench/<area>.bench.ts` exports `run()` and prints its figures as ratios against a peer
 * or a limit measured in the same run, because these machines are noisy.
 */
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { serviceEnvironment } from './service-env.ts';

interface BenchModule {
  run(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

// libuv reads UV_THREADPOOL_SIZE once, at its first use: run as the service does, or not at all.
const threads = serviceEnvironment().UV_THREADPOOL_SIZE;
if (threads !== undefined && process.env.UV_THREADPOOL_SIZE !== threads) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: {
      ...process.env,
      UV_THREADPOOL_SIZE: threads,
      MFABOX_LOG_LEVEL: process.env.MFABOX_LOG_LEVEL ?? 'warn',
    },
  });
  process.exit(r.status ?? 1);
}
console.log(`benchmarks run with the service's UV_THREADPOOL_SIZE=${threads ?? 'default'}`);
const available = (await readdir(here))
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace('.bench.ts', ''));
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
for (const area of wanted.length > 0 ? wanted : available) {
  console.log(`\n=== bench: ${area} ===`);
  const mod = (await import(pathToFileURL(join(here, `${area}.bench.ts`)).href)) as BenchModule;
  await mod.run();
}
