#!/usr/bin/env node
// `npm run build`: compiles the firmware to OUT/firmware (default dist/) and puts the web page's
// assets in OUT/web, the layout `scripts/mfabox.mjs` runs and the release tarball ships.
// The server finds its pages at ../../../web/ from dist/firmware/src/web-api, exactly as it does
// from the source tree, so a build without the web assets cannot start: this script always
// produces them. With a Vite config (vite.config.* at the root or in web/) Vite builds web/;
// without one the static files of web/ are copied as they are.
// Usage: node scripts/build.mjs [--out DIR]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
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

// A bundle for `mfabox` (scripts/mfabox.mjs prefers it): Node resolves, reads and compiles a few
// hundred modules otherwise, which on a Pi is most of the start time. One CommonJS script, so
// scripts/mfabox.mjs can compile it through vm.Script with a V8 code cache (Node 20 has no
// compile cache for ES modules): a restart then skips parsing and compiling what the last start
// compiled. The pure-JavaScript parts of the CommonJS packages (pino, level, serialport) are in
// it too; only the files that load a native addon stay outside, beside their package, so
// node-gyp-build finds the addon from their own __dirname. Code a start does not need (the
// self-signed certificate maker, mail, GeoIP, CSV export) is either imported dynamically
// (compiled only when used) or left outside. Bundled from the TypeScript sources, so packages
// resolve from this checkout's node_modules.
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
// The files that call node-gyp-build(__dirname): kept as files in node_modules and required by a
// path relative to the bundle in the layout every build runs in (ROOT/dist/firmware/src/bundle
// beside ROOT/node_modules: a checkout, a release, the tests' built box; same lockfile, same tree).
const addonLoaders = [
  { importer: /[\\/]classic-level[\\/][^\\/]+\.js$/, path: './binding' },
  { importer: /[\\/]@serialport[\\/]bindings-cpp[\\/]dist[\\/][^\\/]+\.js$/, path: './serialport-bindings' },
];
const nativeAddonsOutside = {
  name: 'native-addons-outside',
  setup(b) {
    b.onResolve({ filter: /^\.\// }, (a) => {
      if (!addonLoaders.some((l) => l.importer.test(a.importer) && l.path === a.path)) return undefined;
      const file = join(dirname(a.importer), `${a.path}.js`);
      const from = join(root, 'dist/firmware/src/bundle');
      return { path: `./${relative(from, file).split(sep).join('/')}`, external: true };
    });
  },
};
// As long as a SHA-256 in hex, so writing the hash in keeps the file's size and layout.
const BUILD_ID_PLACEHOLDER = 'mfabox-build-id:'.padEnd(64, '-');
const { build } = await import('esbuild');
await build({
  entryPoints: [join(root, 'firmware/src/cli.ts')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile: join(bundleDir, 'mfabox.cjs'),
  minifyWhitespace: true,
  minifySyntax: true,
  // Short local names: 0.8 MB less source held in memory for the life of the process (~1.5 MB
  // less idle RSS) and less to read at each start. Function and class names are kept (stack
  // traces, pino's err.type); the whitespace is gone already, so positions were unreadable anyway.
  minifyIdentifiers: true,
  keepNames: true,
  // The ES modules find files (web/, hardware/, package.json) relative to import.meta.url.
  // The build id (firmware/src/build-id.ts) is the bundle's own hash, written in below.
  define: {
    'import.meta.url': '__mfaboxModuleUrl',
    __MFABOX_BUILD_ID__: JSON.stringify(BUILD_ID_PLACEHOLDER),
  },
  // The file is Node's CommonJS wrapper around the bundle, so scripts/mfabox.mjs compiles it as
  // it is (no 3 MB string to concatenate at each start).
  banner: {
    js: '(function (exports, require, module, __filename, __dirname) {var __mfaboxModuleUrl = require("node:url").pathToFileURL(__filename).href;',
  },
  footer: { js: '})' },
  // ASCII only (non-ASCII escaped), so the loader reads it as latin1, a plain copy. The packages'
  // licence comments go to mfabox.cjs.LEGAL.txt beside it.
  charset: 'ascii',
  legalComments: 'external',
  external: [
    'onoff',
    'epoll',
    // reads its dictionaries relative to its own files
    'radius',
    // ES modules (a CommonJS bundle would require() them), used only off the start path
    'selfsigned',
  ],
  plugins: [englishOnlyZod, nativeAddonsOutside],
  logLevel: 'warning',
});
const bundleFile = join(bundleDir, 'mfabox.cjs');
const bundleBytes = readFileSync(bundleFile);
if (bundleBytes.some((b) => b > 0x7f))
  throw new Error('build: the bundle is not ASCII; scripts/mfabox.mjs reads it as latin1');
const bundleText = bundleBytes.toString('latin1');
// The build id: the hash of the bundle as built (with the placeholder), so two builds of the
// same code have the same id and any change of code, dependencies or build options another one.
const parts = bundleText.split(BUILD_ID_PLACEHOLDER);
if (parts.length < 2) throw new Error('build: no build id placeholder in the bundle');
const id = createHash('sha256').update(bundleText, 'latin1').digest('hex');
writeFileSync(bundleFile, parts.join(id), 'latin1');

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
