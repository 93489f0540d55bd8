#!/usr/bin/env node
// `npm run build`: compiles the firmware to OUT/firmware (default dist/) and puts the web page's
// assets in OUT/web, the layout `scripts/mfabox.mjs` runs and the release tarball ships.
// The server finds its pages at ../../../web/ from dist/firmware/src/web-api, exactly as it does
// from the source tree, so a build without the web assets cannot start: this script always
// produces them. With a Vite config (vite.config.* at the root or in web/) Vite builds web/;
// without one the static files of web/ are copied as they are.
// Usage: node scripts/build.mjs [--out DIR]
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { out: { type: 'string', default: join(root, 'dist') } } });
const out = resolve(values.out);
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

// Stale JavaScript from a deleted module must not linger in a release.
rmSync(join(out, 'firmware'), { recursive: true, force: true });
rmSync(join(out, 'web'), { recursive: true, force: true });
run(bin('tsc'), ['-p', 'tsconfig.build.json', '--outDir', out]);

// A bundle for `mfabox` (scripts/mfabox.mjs prefers it): Node resolves and reads a few hundred
// modules otherwise, which on a Pi is most of the start time. Split into chunks, so what a start
// does not need (the self-signed certificate maker, CSV export, mail, GeoIP: dynamic imports) is
// not even parsed until it is used. Native modules and the optional onoff stay outside. The
// chunks sit one folder below firmware/src, like every module they hold, so their paths relative
// to import.meta.url (../../../web) resolve the same. Bundled from the TypeScript sources, so
// packages resolve from this checkout's node_modules.
const bundleDir = join(out, 'firmware/src/bundle');
rmSync(bundleDir, { recursive: true, force: true });
// zod's `z` namespace re-exports every locale (~360 KB, parsed at each start); the firmware
// speaks English only, so the locale index resolves to English alone.
const englishOnlyZod = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (a) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(a.importer)
        ? { path: join(dirname(a.importer), '../locales/index.js'), namespace: 'zod-en' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-en' }, (a) => ({
      contents: "export { default as en } from './en.js';",
      resolveDir: dirname(a.path),
      loader: 'js',
    }));
  },
};
const { build } = await import('esbuild');
await build({
  entryPoints: { mfabox: join(root, 'firmware/src/cli.ts') },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: bundleDir,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  external: [
    'level',
    'classic-level',
    'serialport',
    '@serialport/*',
    'onoff',
    // reads its dictionaries relative to its own files
    'radius',
    // its transports start workers from files beside its own
    'pino',
    'epoll',
  ],
  // Bundled CommonJS packages call require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire as __mfaboxRequire } from 'node:module'; const require = __mfaboxRequire(import.meta.url);",
  },
  plugins: [englishOnlyZod],
  logLevel: 'warning',
});

const viteConfig = ['vite.config.ts', 'vite.config.mjs', 'vite.config.js']
  .flatMap((f) => [join(root, f), join(root, 'web', f)])
  .find((f) => existsSync(f));
if (viteConfig) {
  run(bin('vite'), ['build', '--config', viteConfig, '--outDir', join(out, 'web'), '--emptyOutDir']);
} else {
  // No bundler yet: the page is plain HTML. TypeScript sources (web/src) are not shipped raw.
  mkdirSync(join(out, 'web'), { recursive: true });
  for (const f of readdirSync(join(root, 'web'))) {
    if (f === 'src' || f.endsWith('.ts')) continue;
    cpSync(join(root, 'web', f), join(out, 'web', f), { recursive: true });
  }
}
if (!existsSync(join(out, 'web')) || readdirSync(join(out, 'web')).length === 0)
  throw new Error(`build: ${join(out, 'web')} is empty: the web page would not load`);
console.log(`build: ${out}/firmware and ${out}/web`);
