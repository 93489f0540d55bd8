/**
 * The config `mfabox start` runs with. Building the config schema (zod: a few hundred schema
 * objects) and the library itself is the largest single cost before RADIUS answers (~60 ms of a
 * ~350 ms restart, scripts/README.md "Footprint"), and a box restarts with the same config file
 * almost every time. So a start whose build has already validated these exact bytes takes the
 * result of that validation from $CACHE_DIRECTORY instead of validating them again:
 *
 *  - the key hashes the build (the bundle's own SHA-256, firmware/src/build-id.ts), Node's,
 *    ICU's and the time zone data's versions (a time zone name is checked against them) and the
 *    config text, so any change to the file, the code or the runtime validates in full again,
 *    with the same messages, and a config that fails validation is never cached;
 *  - the cache holds only what validation added to the file (defaults, key order, fields it
 *    dropped), never a value read from the file: no secret is copied there. The result is
 *    rebuilt from the file and checked against the validated config before it is written;
 *  - without $CACHE_DIRECTORY (a shell, the demo) or a build id (run from source) it validates
 *    every time, as before. Only start speed depends on it: a missing, unreadable or damaged
 *    cache file means a full validation.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonObject } from './config-file.ts';
import { inheritMfaGroup } from './defaults.ts';
import type { Config } from './schema.ts';

/**
 * How a validated config is rebuilt from the file's JSON: 1 = the file's value at this place
 * as it is; {v} = a value validation put there (a default); {o} = an object with these keys in
 * this order; {a} = an array, element by element.
 */
export type Shape = 1 | { v?: unknown } | { o: [string, Shape][] } | { a: Shape[] };

const isPlain = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * The shape that turns `input` into `output`, or undefined when validation changed a value the
 * file holds (a transform): then the value would have to be stored, and nothing is cached.
 */
export function shapeOf(input: unknown, output: unknown, present = true): Shape | undefined {
  if (!present) return { v: output };
  if (JSON.stringify(input) === JSON.stringify(output)) return 1;
  if (isPlain(input) && isPlain(output)) {
    const o: [string, Shape][] = [];
    for (const [k, v] of Object.entries(output)) {
      const s = shapeOf(input[k], v, Object.hasOwn(input, k));
      if (s === undefined) return undefined;
      o.push([k, s]);
    }
    return { o };
  }
  if (Array.isArray(input) && Array.isArray(output) && input.length === output.length) {
    const a: Shape[] = [];
    for (const [i, v] of output.entries()) {
      const s = shapeOf(input[i], v);
      if (s === undefined) return undefined;
      a.push(s);
    }
    return { a };
  }
  return undefined;
}

/**
 * Rebuilds the validated config from the file's JSON (a copy of its own: the result shares
 * objects with `input` and `shape`); throws on a shape that does not fit it.
 */
export function applyShape(input: unknown, shape: Shape): unknown {
  if (shape === 1) return input;
  if ('o' in shape) {
    if (!isPlain(input)) throw new Error('shape: an object expected');
    return Object.fromEntries(shape.o.map(([k, s]) => [k, applyShape(input[k], s)]));
  }
  if ('a' in shape) {
    if (!Array.isArray(input) || input.length !== shape.a.length) throw new Error('shape: an array expected');
    return shape.a.map((s, i) => applyShape(input[i], s));
  }
  return shape.v;
}

export interface StartConfigOptions {
  /** Where validations are kept ($CACHE_DIRECTORY); undefined: validate every time. */
  cacheDir?: string | undefined;
  /** The running build (build-id.ts); undefined (run from source): validate every time. */
  buildId?: string | undefined;
  /** Tests: the full validation (config/load.ts, loaded only when needed). */
  validate?: (input: unknown) => Config;
  /** Told where the result came from (`mfabox warm` reports it, and avoids loading the schema twice). */
  onSource?: (source: 'cache' | 'validated') => void;
}

const PREFIX = 'mfabox-config-';

function keyOf(buildId: string, text: string): string {
  const { version, versions } = process;
  return createHash('sha256')
    .update(['mfabox start config 1', buildId, version, versions.icu, versions.tz, text].join('\0'))
    .digest('hex');
}

/** The validated config for the config file's JSON: rebuilt from the cache, or validated (and cached). */
export async function startConfig(file: JsonObject, opts: StartConfigOptions): Promise<Config> {
  // The one value validation copies from one place of the file to another, copied before it.
  const input = inheritMfaGroup(file);
  const text = JSON.stringify(input);
  const key = opts.cacheDir && opts.buildId ? keyOf(opts.buildId, text) : undefined;
  const cacheFile =
    key && opts.cacheDir ? join(opts.cacheDir, `${PREFIX}${key.slice(0, 32)}.json`) : undefined;
  if (cacheFile) {
    try {
      const kept = JSON.parse(readFileSync(cacheFile, 'utf8')) as { key?: unknown; shape?: Shape };
      if (kept.key === key && kept.shape !== undefined) {
        const config = applyShape(JSON.parse(text), kept.shape) as Config;
        opts.onSource?.('cache');
        return config;
      }
    } catch {
      // none yet, or damaged: validate
    }
  }
  const validate = opts.validate ?? (await import('./load.ts')).parseConfig;
  const config = validate(input);
  if (cacheFile && key && opts.cacheDir) keep(opts.cacheDir, cacheFile, key, input, config);
  opts.onSource?.('validated');
  return config;
}

/** Writes the shape atomically (a torn write leaves none), replacing older ones; never throws. */
function keep(dir: string, file: string, key: string, input: unknown, config: Config): void {
  try {
    const shape = shapeOf(input, config);
    // Kept only if it rebuilds exactly what validation returned.
    if (
      shape === undefined ||
      JSON.stringify(applyShape(structuredClone(input), shape)) !== JSON.stringify(config)
    )
      return;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ key, shape }), { mode: 0o600 });
    renameSync(tmp, file);
    for (const f of readdirSync(dir))
      if (f.startsWith(PREFIX) && join(dir, f) !== file) rmSync(join(dir, f), { force: true });
  } catch (e) {
    // Only start speed is lost.
    console.error(`mfabox: could not keep the validated config in ${dir}: ${(e as Error).message}`);
  }
}
