/**
 * Runs once before the suite: installs the real peers (radclient, socat, slapd, Samba,
 * gammu, Chromium) if a fresh machine lacks them, so `npm ci && npm test` is enough.
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  if (process.env.MFABOX_SKIP_PEERS === '1') return;
  execFileSync('bash', ['scripts/ensure-peers.sh', 'all'], { stdio: 'inherit', timeout: 900_000 });
}
