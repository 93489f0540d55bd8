/** `mfabox upgrade FILE.tar.gz`: install a release beside the running one; roll back if unhealthy. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { upgrade } from '../release/upgrade.ts';
import { defineCommand, usageError } from './command.ts';

/** The running box's verdict, read from its health API on loopback. */
async function healthyAt(configFile: string): Promise<boolean> {
  let port = 8080;
  try {
    const cfg = JSON.parse(await readFile(configFile, 'utf8')) as { web?: { port?: number } };
    port = cfg.web?.port ?? port;
  } catch {
    // no readable config: the default port
  }
  const res = await fetch(`http://127.0.0.1:${port}/api/health`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) return false;
  const body = (await res.json()) as { status?: string };
  return body.status === 'ok' || body.status === 'degraded';
}

/**
 * Runs the release's own scripts/warm-cache.mjs (it drops to the service user and reads the
 * installed unit); resolves to its one line. A release without one (older than the warm-up)
 * starts cold, as it always did.
 */
export function warmRelease(releaseDir: string, configFile: string, extra: string[] = []): Promise<string> {
  const script = join(releaseDir, 'scripts/warm-cache.mjs');
  if (!existsSync(script)) return Promise.resolve(`${releaseDir} has no warm-up: it starts cold`);
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      [script, '--release', releaseDir, '--config', configFile, ...extra],
      { timeout: 180_000 },
      (err, stdout, stderr) => {
        const last = `${stdout}\n${stderr}`.trim().split('\n').at(-1)?.trim();
        resolve(err && !last ? `start caches not warmed: ${err.message}` : (last ?? 'warm-up: no output'));
      },
    ),
  );
}

export const upgradeCommand = defineCommand({
  name: 'upgrade',
  summary: 'Install a release tarball beside the running one, restart, and roll back unless healthy in time',
  options: {
    home: {
      type: 'string',
      value: 'DIR',
      env: 'MFABOX_HOME',
      default: '/opt/mfabox',
      help: 'holds releases/ and current',
    },
    config: {
      type: 'string',
      value: 'FILE',
      env: 'MFABOX_CONFIG',
      default: '/etc/mfabox/config.json',
      help: 'the running config (for the health API port)',
    },
    'wait-minutes': {
      type: 'integer',
      value: 'N',
      min: 1,
      max: 60,
      default: 3,
      help: 'roll back unless healthy within N minutes',
    },
    force: { type: 'boolean', help: 'reinstall the version already running' },
  },
  args: {
    value: 'FILE.tar.gz',
    required: true,
    help: 'a release from scripts/build-release, with FILE.tar.gz.sha256 beside it',
  },
  async run({ values, args }) {
    const [file, ...extra] = args;
    if (!file || extra.length > 0) throw usageError('upgrade takes one FILE.tar.gz', 'file');
    const r = await upgrade(file, {
      home: values.home,
      force: values.force,
      waitMs: values['wait-minutes'] * 60_000,
      restart: () =>
        new Promise((resolve, reject) =>
          execFile('systemctl', ['restart', 'mfabox'], (err) =>
            err ? reject(new Error(err.message)) : resolve(),
          ),
        ),
      healthy: () => healthyAt(values.config),
      warm: (dir) => warmRelease(dir, values.config),
      say: (l) => console.log(`upgrade: ${l}`),
    });
    console.log(
      `upgrade: now running ${r.to}${r.from ? ` (previous ${r.from} kept)` : ''}${r.removed.length ? `; removed ${r.removed.join(', ')}` : ''}`,
    );
    return 0;
  },
});
