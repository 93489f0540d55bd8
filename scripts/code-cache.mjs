// The V8 code cache of the bundle, for scripts/mfabox.mjs: where it lives, which start writes it
// and when, and the atomic write. Apart from the launcher so its rules are unit-tested
// (test/unit/release/code-cache.test.ts); it imports nothing but node: modules.
//
// One cache per release key (the bundle's path, size, mtime and inode, Node, CPU, V8 flags), in
// one of two files:
//   mfabox-code-<key>.v8        "full": written by a service start, after it ran the box's paths;
//   mfabox-code-<key>.trial.v8  "trial": written by `mfabox warm` (first boot, upgrade) after a
//                               trial start with no modem and no directory, so it lacks the modem
//                               driver and serialport's stream, the LDAP client and (on a box
//                               without its certificate yet) HTTPS, which every start would then
//                               compile lazily.
// A service start that accepted a trial cache replaces it, once, with a full one written a while
// after it started (the modem and the directory have run by then); a start that accepted a full
// one never writes, so the card sees one write per release (two with the warm-up), never one per
// start. The name is the marker, and it changes by rename: a power cut mid-write leaves the trial
// cache (rewritten at the next start) or the full one, never a torn file under either name.
import { readFileSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** After a start that found no usable cache: soon, while what the start compiled is still fresh. */
export const CACHE_AFTER_START_MS = 1000;
/**
 * After a start that accepted the warm-up's cache: once the modem has been initialised and the
 * directory asked (seconds after the start), and before V8 flushes the bytecode of functions
 * that ran only at the start (after 5 full garbage collections without a call; an idle box does
 * a few in its first minute).
 */
export const REWRITE_AFTER_START_MS = 20_000;

/** The two files of one key in `dir`. */
export function cacheFiles(dir, key) {
  return {
    dir,
    full: join(dir, `mfabox-code-${key}.v8`),
    trial: join(dir, `mfabox-code-${key}.trial.v8`),
  };
}

/** The full cache, else the trial one: { kind, data }, or undefined when neither can be read. */
export function readCache(files) {
  for (const kind of ['full', 'trial']) {
    try {
      return { kind, data: readFileSync(files[kind]) };
    } catch {
      // Missing or unreadable: the next kind, or no cache (the start compiles from source).
    }
  }
  return undefined;
}

/**
 * Whether and when this start writes the cache, from what V8 made of the one it read:
 * `state` off (no cache directory), none, rejected or accepted; `kind` of the file it read.
 * Returns { kind: 'full', afterMs } or undefined (never).
 */
export function writePlan(state, kind) {
  if (state === 'none' || state === 'rejected') return { kind: 'full', afterMs: CACHE_AFTER_START_MS };
  if (state === 'accepted' && kind === 'trial') return { kind: 'full', afterMs: REWRITE_AFTER_START_MS };
  return undefined;
}

/** The other code caches in `dir` (the other kind, older releases, a temp file a power cut left). */
const isOther = (files, name, target) => name.startsWith('mfabox-code-') && join(files.dir, name) !== target;

/**
 * Writes `createData()` as the cache of `kind`, atomically and fsynced, then removes every other
 * code cache in the directory. True once written; a failure costs only start-up speed (one line
 * through `warn`). V8 serialises on the event loop (~65 ms here, once); the write and fsync run in
 * libuv's thread pool, so a running service's RADIUS is not held up by an SD card's fsync.
 */
export async function writeCache(files, kind, createData, warn = console.error) {
  const target = files[kind];
  try {
    const data = createData();
    await mkdir(files.dir, { recursive: true, mode: 0o700 });
    const tmp = `${target}.${process.pid}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
    for (const f of await readdir(files.dir))
      if (isOther(files, f, target)) await rm(join(files.dir, f), { force: true });
    return true;
  } catch (e) {
    // Only start-up speed is lost; the box runs the same without a cache.
    warn(`mfabox: could not write the code cache in ${files.dir}: ${e.message}`);
    return false;
  }
}
