#!/usr/bin/env node
// Entry point for the `mfabox` command. A release image runs the compiled JavaScript in dist/
// (the bundle scripts/build.mjs makes); a source checkout (demo, development) runs the TypeScript
// directly through tsx.
//
// The bundle is one CommonJS script, compiled here through vm.Script so that V8's code cache can
// be kept between starts (Node 20 has none for ES modules, and NODE_COMPILE_CACHE needs 22.1):
// under systemd (CacheDirectory=mfabox sets $CACHE_DIRECTORY) a start whose cache is missing or
// rejected writes one shortly after the box has started, so it holds the functions the start
// compiled, and the next start deserialises them instead of parsing and compiling ~3 MB of
// JavaScript. The cache's name is derived from the bundle file (path, size, mtime, inode), Node's
// version, the CPU and the V8 flags, so a new release or another Node never reads a stale one;
// V8 checks its own version and flags again and rejects a mismatch (then it is rewritten).
// `mfabox warm` (scripts/warm-cache.mjs: first boot, `mfabox upgrade`) writes the cache before the
// service's first start, through the handle this script leaves on `process.mfaboxCodeCache`.
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist/firmware/src/bundle/mfabox.cjs');
const compiled = join(root, 'dist/firmware/src/cli.js');

/** How long after the start the cache is written (a quiet moment: it costs the event loop ~0.1 s once). */
const CACHE_AFTER_READY_MS = 1000;

function codeCacheFile(file) {
  // Set by systemd for CacheDirectory=; without it (a shell, the tests) nothing is cached.
  const dir = process.env.CACHE_DIRECTORY?.split(':')[0];
  if (!dir) return undefined;
  const st = statSync(file);
  const key = createHash('sha256')
    .update(
      [
        file,
        st.size,
        st.mtimeMs,
        st.ino,
        process.version,
        process.arch,
        process.execArgv,
        process.env.NODE_OPTIONS,
      ]
        .map(String)
        .join('\0'),
    )
    .digest('hex')
    .slice(0, 20);
  return { dir, file: join(dir, `mfabox-code-${key}.v8`) };
}

function readCache(cache) {
  if (!cache) return undefined;
  try {
    return readFileSync(cache.file);
  } catch {
    return undefined;
  }
}

/**
 * Written once, atomically (a power cut leaves the old cache or none), replacing older ones.
 * True once written; a failure costs only start-up speed (one line on stderr).
 */
function writeCache(cache, script) {
  try {
    const data = script.createCachedData();
    mkdirSync(cache.dir, { recursive: true, mode: 0o700 });
    const tmp = `${cache.file}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, cache.file);
    for (const f of readdirSync(cache.dir))
      if (f.startsWith('mfabox-code-') && join(cache.dir, f) !== cache.file)
        rmSync(join(cache.dir, f), { force: true });
    return true;
  } catch (e) {
    // Only start-up speed is lost; the box runs the same without a cache.
    console.error(`mfabox: could not write the code cache in ${cache.dir}: ${e.message}`);
    return false;
  }
}

function runBundle(file) {
  const cache = codeCacheFile(file);
  const cachedData = readCache(cache);
  // ASCII (scripts/build.mjs checks), and already inside Node's CommonJS function wrapper, so the
  // bundle sees exactly what require() would give it.
  const source = readFileSync(file, 'latin1');
  const script = new vm.Script(source, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
    // import() in the bundle (optional packages such as onoff, ES-only ones such as selfsigned)
    // goes through Node's ordinary loader.
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER ?? ((s) => import(s)),
  });
  const state = !cache ? 'off' : !cachedData ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted';
  // For `mfabox warm` (firmware/src/commands/warm.ts): whether this start had a usable cache, and
  // a way to write it at once, after its trial start.
  process.mfaboxCodeCache = {
    state,
    file: cache?.file,
    write: () => (cache ? writeCache(cache, script) : false),
  };
  if (state === 'none' || state === 'rejected') {
    process.once('mfabox:started', () =>
      setTimeout(() => writeCache(cache, script), CACHE_AFTER_READY_MS).unref(),
    );
  }
  const module = { exports: {}, filename: file, id: file };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
}

if (!process.env.MFABOX_FROM_SOURCE && existsSync(bundle)) {
  runBundle(bundle);
} else if (!process.env.MFABOX_FROM_SOURCE && existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'firmware/src/cli.ts')).href);
}
