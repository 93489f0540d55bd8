/**
 * The environment scripts/mfabox.service gives the process (NODE_OPTIONS, MALLOC_ARENA_MAX,
 * UV_THREADPOOL_SIZE, ...), read from the unit file so benchmarks run as the service does and
 * the two cannot drift.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function serviceEnvironment(): Record<string, string> {
  const unit = readFileSync(join(root, 'scripts', 'mfabox.service'), 'utf8');
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=(?:"([^"]*)"|(\S+))\s*$/gm)) {
    const kv = m[1] ?? m[2] ?? '';
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  if (!env.NODE_OPTIONS) throw new Error('scripts/mfabox.service sets no NODE_OPTIONS');
  return env;
}
