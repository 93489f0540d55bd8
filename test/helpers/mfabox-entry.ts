/**
 * Which `scripts/mfabox.mjs` a test runs. Global setup builds this checkout once into a release
 * layout (test/helpers/built-box.ts) and names it in MFABOX_TEST_BOX: children then start from the
 * bundle, as a box runs, instead of each paying tsx's compile of every source file (1.7 s of CPU a
 * start, some hundred starts a run). Without it (a file run outside the suite's setup) the
 * sources run through tsx.
 */
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');

export function mfaboxScript(): string {
  const box = process.env.MFABOX_TEST_BOX;
  return box ? join(box, 'scripts/mfabox.mjs') : join(repo, 'scripts/mfabox.mjs');
}

/** The environment a child needs to run what mfaboxScript() names. */
export function mfaboxEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (process.env.MFABOX_TEST_BOX) delete env.MFABOX_FROM_SOURCE;
  else env.MFABOX_FROM_SOURCE = '1';
  return env;
}
