#!/usr/bin/env node
// Entry point for the `mfabox` command. A release image runs the compiled JavaScript in dist/
// (the bundle scripts/build.mjs makes);
// a source checkout (demo, development) runs the TypeScript directly through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The bundle (fastest to start) if the build made it, else the compiled modules.
const compiled = [
  join(root, 'dist/firmware/src/bundle/mfabox.mjs'),
  join(root, 'dist/firmware/src/cli.js'),
].find((f) => existsSync(f));
if (compiled && !process.env.MFABOX_FROM_SOURCE) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'firmware/src/cli.ts')).href);
}
