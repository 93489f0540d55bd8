#!/usr/bin/env node
// Warms the start caches of a release before the service first starts it, so that start is never
// a cold one (scripts/README.md "Footprint"): first boot (first-boot.mjs) and `mfabox upgrade`
// (for the new release, and for the old one on a rollback) run it. It runs the release's
// `mfabox warm` (firmware/src/release/warm.ts) exactly as the unit runs `mfabox start`:
//   - as the unit's User=/Group= (root drops to it; the cache files must be the service's);
//   - with the unit's Environment= lines and the node flags of its ExecStart= (both are in the
//     code cache's key, and V8 rejects a cache made under other flags);
//   - with $CACHE_DIRECTORY = /var/cache/<CacheDirectory=>, which it creates for the service user.
// The unit is the installed one (/etc/systemd/system/mfabox.service), else the release's own.
// It never fails its caller: a warm-up that cannot run prints one line and exits 0, and the
// service's first start then does the work itself, as before.
// Usage: warm-cache.mjs [--root DIR] [--release DIR] [--config FILE] [--unit FILE] [--cache-dir DIR] [--same-user]
//   --root       a mounted card or a test tree (default /); the paths below are inside it
//   --release    the release to warm (default: the one holding this script)
//   --same-user  run as the caller, not as User= (tests and the bench, which have no such user)
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** How long a trial start may take (a Pi 3 needs a few seconds). */
const TIMEOUT_MS = 120_000;

/** Environment=, User=, Group=, CacheDirectory= and the node flags of ExecStart=, from a unit file. */
export function readUnit(text) {
  const env = {};
  for (const m of text.matchAll(/^Environment=(?:"([^"]*)"|(\S+))\s*$/gm)) {
    const kv = m[1] ?? m[2] ?? '';
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const one = (key) => new RegExp(`^${key}=(.*)$`, 'm').exec(text)?.[1]?.trim() || undefined;
  const exec = /^ExecStart=(\S+)((?:\s+-\S+)*)\s+\S+\.mjs\s/m.exec(text);
  if (!exec || !/(^|\/)node$/.test(exec[1] ?? '')) throw new Error('ExecStart is not node … .mjs');
  return {
    env,
    user: one('User'),
    group: one('Group'),
    cacheDirectory: one('CacheDirectory')?.split(/\s+/)[0],
    nodeArgs: (exec[2] ?? '').split(/\s+/).filter(Boolean),
  };
}

const out = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

/** The uid and gid of User= (and Group=, else the user's own group); throws when either is missing. */
function idsOf(user, group) {
  const gid = group ? Number(out('getent', ['group', group]).split(':')[2]) : Number(out('id', ['-g', user]));
  return { uid: Number(out('id', ['-u', user])), gid };
}

/**
 * Runs the warm-up; never throws. Returns { ok, line }: `line` is the one line to print (what
 * `mfabox warm` said, or why nothing was warmed).
 */
export function warmCaches(opts) {
  const root = opts.root ?? '/';
  const R = (p) => join(root, p);
  const release = opts.release ?? join(dirname(fileURLToPath(import.meta.url)), '..');
  const fail = (why) => ({
    ok: false,
    line: `mfabox: start caches not warmed (${why}); the service's first start compiles and validates itself`,
  });
  try {
    const configPath = resolve(opts.config ?? R('/etc/mfabox/config.json'));
    const unitFile =
      opts.unit ??
      [R('/etc/systemd/system/mfabox.service'), join(release, 'scripts/mfabox.service')].find((f) =>
        existsSync(f),
      );
    if (!unitFile) return fail('no mfabox.service to read the environment from');
    const unit = readUnit(readFileSync(unitFile, 'utf8'));
    if (!unit.cacheDirectory && !opts.cacheDir) return fail(`${unitFile} has no CacheDirectory=`);
    const cacheDir = opts.cacheDir ?? R(`/var/cache/${unit.cacheDirectory}`);
    // Root on the box itself drops to the service user; a card tree, a test or the bench
    // (--same-user) runs as it is.
    let ids;
    if (root === '/' && process.getuid?.() === 0 && !opts.sameUser) {
      if (!unit.user) return fail(`${unitFile} names no User=`);
      try {
        ids = idsOf(unit.user, unit.group);
      } catch {
        return fail(`user ${unit.user} or group ${unit.group ?? unit.user} does not exist`);
      }
    }
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    if (ids) chownSync(cacheDir, ids.uid, ids.gid);
    const env = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      ...unit.env,
      CACHE_DIRECTORY: cacheDir,
    };
    // Inside the cache directory, wherever that is (a card tree, a test).
    if (unit.cacheDirectory && env.NODE_COMPILE_CACHE?.startsWith(`/var/cache/${unit.cacheDirectory}`))
      env.NODE_COMPILE_CACHE =
        cacheDir + env.NODE_COMPILE_CACHE.slice(`/var/cache/${unit.cacheDirectory}`.length);
    const r = spawnSync(
      process.execPath,
      [...unit.nodeArgs, join(release, 'scripts/mfabox.mjs'), 'warm', '--config', configPath],
      {
        env,
        cwd: cacheDir,
        encoding: 'utf8',
        timeout: TIMEOUT_MS,
        killSignal: 'SIGKILL',
        ...(ids ?? {}),
      },
    );
    const lines = `${r.stdout ?? ''}\n${r.stderr ?? ''}`
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    if (r.error)
      return fail(r.error.code === 'ETIMEDOUT' ? `no result within ${TIMEOUT_MS / 1000} s` : r.error.message);
    if (r.status !== 0) return fail(lines.at(-1) ?? `exit status ${r.status ?? r.signal}`);
    return {
      ok: true,
      line: lines.find((l) => l.startsWith('mfabox warm:')) ?? lines.at(-1) ?? 'mfabox warm: done',
    };
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
}

// Run as a script (not imported by first-boot.mjs).
if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      root: { type: 'string' },
      release: { type: 'string' },
      config: { type: 'string' },
      unit: { type: 'string' },
      'cache-dir': { type: 'string' },
      'same-user': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(
      'Usage: warm-cache.mjs [--root DIR] [--release DIR] [--config FILE] [--unit FILE] [--cache-dir DIR] [--same-user]',
    );
    process.exit(0);
  }
  const { line } = warmCaches({
    root: values.root,
    release: values.release,
    config: values.config,
    unit: values.unit,
    cacheDir: values['cache-dir'],
    sameUser: values['same-user'],
  });
  console.log(line);
}
