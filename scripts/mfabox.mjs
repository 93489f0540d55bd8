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
// `mfabox warm` (scripts/warm-cache.mjs: first boot, `mfabox upgrade`) writes a "trial" cache
// before the service's first start, through the handle this script leaves on
// `process.mfaboxCodeCache`; the first service start replaces it once with a full one
// (scripts/code-cache.mjs says which start writes what, and when).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { cacheFiles, readCache, writeCache, writePlan } from './code-cache.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist/firmware/src/bundle/mfabox.cjs');
const compiled = join(root, 'dist/firmware/src/cli.js');

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
  return cacheFiles(dir, key);
}

function runBundle(file) {
  const cache = codeCacheFile(file);
  const read = cache ? readCache(cache) : undefined;
  // ASCII (scripts/build.mjs checks), and already inside Node's CommonJS function wrapper, so the
  // bundle sees exactly what require() would give it.
  const source = readFileSync(file, 'latin1');
  const script = new vm.Script(source, {
    filename: file,
    ...(read ? { cachedData: read.data } : {}),
    // import() in the bundle (optional packages such as onoff, ES-only ones such as selfsigned)
    // goes through Node's ordinary loader.
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER ?? ((s) => import(s)),
  });
  const state = !cache ? 'off' : !read ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted';
  // For `mfabox warm` (firmware/src/commands/warm.ts): whether this start had a usable cache, and
  // a way to write the trial cache at once, after its trial start.
  process.mfaboxCodeCache = {
    state,
    kind: read?.kind,
    file: cache?.trial,
    write: () =>
      cache ? writeCache(cache, 'trial', () => script.createCachedData()) : Promise.resolve(false),
  };
  // `mfabox start` emits this once the whole start has run (the web page too); `warm` never does.
  const plan = writePlan(state, read?.kind);
  if (plan)
    process.once('mfabox:started', () =>
      setTimeout(
        () => void writeCache(cache, plan.kind, () => script.createCachedData()),
        plan.afterMs,
      ).unref(),
    );
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
