/**
 * Runs once before the suite: installs the real peers (radclient, socat, slapd, Samba,
 * gammu, Chromium) if a fresh machine lacks them, so `npm ci && npm test` is enough.
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  // The web page the e2e tests drive is the built one (dist/web), as a release serves it.
  execFileSync('npm', ['run', '--silent', 'build:web'], { stdio: 'inherit', timeout: 180_000 });
  if (process.env.MFABOX_SKIP_PEERS === '1') return;
  execFileSync('bash', ['scripts/ensure-peers.sh', 'all'], { stdio: 'inherit', timeout: 900_000 });
}
