/**
 * Runs once before the suite: installs the real peers (radclient, socat, slapd, Samba,
 * gammu, Chromium) if a fresh machine lacks them, so `npm ci && npm test` is enough, and builds
 * the box once for the tests that start `mfabox` as a child (test/helpers/mfabox-entry.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBoxInto } from './helpers/built-box.ts';

export default function setup(): () => void {
  // Each vitest project runs this; the first one's work serves them all (same process, same env).
  const built = process.env.MFABOX_TEST_BOX;
  if (built && existsSync(join(built, 'scripts/mfabox.mjs'))) return () => undefined;
  // The web page the e2e tests drive is the built one (dist/web), as a release serves it.
  execFileSync('npm', ['run', '--silent', 'build:web'], { stdio: 'inherit', timeout: 180_000 });
  const box = mkdtempSync(join(tmpdir(), 'mfabox-test-box-'));
  buildBoxInto(box);
  // Workers are forked after this, so they inherit it.
  process.env.MFABOX_TEST_BOX = box;
  if (process.env.MFABOX_SKIP_PEERS !== '1')
    execFileSync('bash', ['scripts/ensure-peers.sh', 'all'], { stdio: 'inherit', timeout: 900_000 });
  return () => rmSync(box, { recursive: true, force: true });
}
