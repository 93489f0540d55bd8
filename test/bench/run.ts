/**
 * `npm run bench [-- area...]`: runs the named benchmarks (all when none are named). Each
 * `test/bench/<area>.bench.ts` exports `run()` and prints its figures as ratios against a peer
 * or a limit measured in the same run, because these machines are noisy.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

interface BenchModule {
  run(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
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
