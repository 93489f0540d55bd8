/**
 * `mfabox warm`: fills the two start caches in $CACHE_DIRECTORY before the service's first start
 * on a box (first boot) or of a release (`mfabox upgrade`), so that start is never a cold one:
 *
 *  - the validated config (config/start-config.ts): the config file is validated as `start` would;
 *  - the V8 code cache of the bundle (scripts/mfabox.mjs): a trial start of the box, then the
 *    cache is written, holding the functions that start compiled.
 *
 * The trial start must not touch the running box: it runs on a temp data directory (never the
 * live store, whose LevelDB lock the service may hold), with RADIUS and the web page on loopback
 * ephemeral ports (never the service's), no modems (the service may own the serial ports), no
 * directory (no bind to the DCs), no syslog, no LEDs. Its config is the real one otherwise, so
 * it runs the same code: store, audit, outbox, engine, RADIUS server, fastify and every route.
 *
 * A trial start that had to validate the config first (zod) is run again in a fresh process
 * that takes the config from the cache, so the code cache holds what a box's start compiles and
 * not the schema, which a start with a warm config never loads. Both caches already there:
 * nothing is done, so a second first boot changes nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/schema.ts';
import { tlsPaths } from '../web-api/tls.ts';

/** What scripts/mfabox.mjs leaves on `process` when it ran the bundle. */
export interface CodeCacheHandle {
  /** off: no $CACHE_DIRECTORY; none: no cache yet; rejected: V8 refused it; accepted: in use. */
  state: 'off' | 'none' | 'rejected' | 'accepted';
  /** Which file it read: the full one a service start wrote, or a trial one (scripts/code-cache.mjs). */
  kind?: 'full' | 'trial' | undefined;
  /** The trial cache's file, which `write` writes. */
  file?: string | undefined;
  /** Writes the trial cache now; false when it could not (a line on stderr says why). */
  write(): Promise<boolean>;
}

export function codeCacheHandle(): CodeCacheHandle | undefined {
  return (process as unknown as { mfaboxCodeCache?: CodeCacheHandle }).mfaboxCodeCache;
}

/** Set in the fresh process that `warm` runs after validating, so it never runs a third. */
export const WARM_AGAIN_ENV = 'MFABOX_WARM_AGAIN';

/** The config of the trial start: the box's own, moved off everything the service owns. */
export function trialConfig(config: Config, dataDir: string): Config {
  const tls = tlsPaths(config.dataDir, config.web);
  // The box's own certificate when it has one (read only); never a new self-signed one (slow,
  // and a library a start with a certificate never loads).
  const useTls = config.web.tls && existsSync(tls.certFile) && existsSync(tls.keyFile);
  const d = config.directory;
  return {
    ...config,
    dataDir,
    deviceKeyFile: join(dataDir, 'device.key'),
    radius: { ...config.radius, listen: [{ address: '127.0.0.1', port: 0 }], accountingPort: 0 },
    directory: {
      kind: 'none',
      syncIntervalMinutes: 0,
      maxRemovalPercent: d.maxRemovalPercent,
      group: d.group,
      acceptPossibleNumbers: d.acceptPossibleNumbers,
    },
    modems: [],
    syslog: [],
    web: {
      ...config.web,
      address: '127.0.0.1',
      port: 0,
      redirectPort: 0,
      localPort: 0,
      tls: useTls,
      ...(useTls ? tls : {}),
    },
  };
}

export interface WarmDeps {
  /** The validated config and where it came from (start-config.ts against $CACHE_DIRECTORY). */
  config(): Promise<{ config: Config; source: 'cache' | 'validated' }>;
  code: CodeCacheHandle;
  /** Starts the box on `config`, waits as `start` does before it writes its cache, and stops it. */
  trialStart(config: Config, beforeStop: () => Promise<void>): Promise<void>;
  /** Runs this command again in a fresh process; its exit status. */
  again(): number;
  /** True in the process `again` started. */
  isAgain: boolean;
  say(line: string): void;
}

/** The warm-up's steps; exit status 0 unless the code cache could not be written. */
export async function warm(d: WarmDeps): Promise<number> {
  const { config, source } = await d.config();
  // In the fresh process `again` started, the config was validated by the one before.
  const configLine =
    source === 'cache' && !d.isAgain ? 'validated config already cached' : 'config validated and cached';
  if (d.code.state === 'accepted') {
    d.say(source === 'cache' ? 'already warm: nothing to do' : `${configLine}; code cache already there`);
    return 0;
  }
  // Validated here: the schema is compiled in this process and would go into the code cache.
  if (source === 'validated' && !d.isAgain) return d.again();
  const dir = await mkdtemp(join(tmpdir(), 'mfabox-warm-'));
  let written = false;
  try {
    await d.trialStart(trialConfig(config, dir), async () => {
      written = await d.code.write();
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (!written) return 1;
  d.say(`${configLine}; code cache written (${d.code.file ?? '?'})`);
  return 0;
}

/** `again` for the real command: the same node, flags, script and arguments, with WARM_AGAIN_ENV. */
export function runAgain(): number {
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [WARM_AGAIN_ENV]: '1' },
  });
  return r.status ?? 1;
}
