/**
 * The environment scripts/mfabox.service gives the process (NODE_OPTIONS, MALLOC_ARENA_MAX,
 * UV_THREADPOOL_SIZE, ...) and the node flags on its ExecStart line, read from the unit file so
 * benchmarks run as the service does and the two cannot drift.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const unitText = (): string => readFileSync(join(root, 'scripts', 'mfabox.service'), 'utf8');

export function serviceEnvironment(): Record<string, string> {
  const unit = unitText();
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=(?:"([^"]*)"|(\S+))\s*$/gm)) {
    const kv = m[1] ?? m[2] ?? '';
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  if (!env.NODE_OPTIONS) throw new Error('scripts/mfabox.service sets no NODE_OPTIONS');
  return env;
}

/** The flags ExecStart= gives node before the script (V8 flags NODE_OPTIONS does not allow). */
export function serviceNodeArgs(): string[] {
  const m = /^ExecStart=(\S+)((?:\s+-\S+)*)\s+\S+\.mjs\s/m.exec(unitText());
  if (!m || !/(^|\/)node$/.test(m[1] ?? ''))
    throw new Error('scripts/mfabox.service: ExecStart is not node … .mjs');
  return (m[2] ?? '').split(/\s+/).filter(Boolean);
}
