/** The running box's health model, as the admin's own `mfabox status --json` prints it. */
import { runCli } from './cli.ts';
import type { Box } from './harness.ts';

export async function boxHealth(box: Box): Promise<unknown> {
  const r = await runCli(['status', '--config', box.configFile, '--json'], 30_000);
  if (r.code !== 0 && !r.out.trim().startsWith('{')) {
    // Before `mfabox status` existed the loopback health route was the way in; keep both.
    const res = await fetch(`${box.webUrl}/api/health`).catch(() => undefined);
    if (res?.ok) return res.json();
    throw new Error(`mfabox status failed (${r.code}):\n${r.out}`);
  }
  return JSON.parse(r.out.slice(r.out.indexOf('{'))) as unknown;
}
