/**
 * scripts/warm-cache.mjs around the warm-up: it reads the unit as the benches do, and a warm-up
 * that cannot run is one line and exit status 0 (first boot and upgrade go on). The warm-up
 * itself, with real files: test/integration/release-flash-firstboot.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serviceEnvironment, serviceNodeArgs } from '../../bench/service-env.ts';

const repo = resolve(import.meta.dirname, '../../..');
const script = join(repo, 'scripts/warm-cache.mjs');
const unit = join(repo, 'scripts/mfabox.service');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mfabox-warm-script-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]): { status: number | null; lines: string[] } => {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  return { status: r.status, lines: `${r.stdout}${r.stderr}`.split('\n').filter(Boolean) };
};

/** Whether this host has a user named mfabox (then the refusal below cannot be shown). */
function hasMfaboxUser(): boolean {
  try {
    execFileSync('id', ['-u', 'mfabox'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('scripts/warm-cache.mjs', () => {
  it("reads the unit's environment, node flags, user and cache directory", async () => {
    const { readUnit } = (await import(script)) as {
      readUnit(text: string): {
        env: Record<string, string>;
        user?: string;
        cacheDirectory?: string;
        nodeArgs: string[];
      };
    };
    const u = readUnit(readFileSync(unit, 'utf8'));
    expect(u.env).toEqual(serviceEnvironment());
    expect(u.nodeArgs).toEqual(serviceNodeArgs());
    expect(u.user).toBe('mfabox');
    expect(u.cacheDirectory).toBe('mfabox');
  });

  it('a release it cannot start is one line and exit status 0', () => {
    const r = run([
      ...['--release', join(dir, 'no-such-release'), '--config', join(dir, 'config.json')],
      ...['--unit', unit, '--cache-dir', join(dir, 'cache'), '--same-user'],
    ]);
    expect(r.status).toBe(0);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^mfabox: start caches not warmed \(.+\); the service's first start/);
  });

  it.skipIf(process.getuid?.() !== 0 || hasMfaboxUser())(
    'as root on a box without the service user, it refuses before creating anything',
    () => {
      const existed = existsSync('/var/cache/mfabox');
      const r = run(['--release', join(dir, 'r'), '--config', join(dir, 'config.json'), '--unit', unit]);
      expect(r.status).toBe(0);
      expect(r.lines).toEqual([
        "mfabox: start caches not warmed (user mfabox or group mfabox does not exist); the service's first start compiles and validates itself",
      ]);
      expect(existsSync('/var/cache/mfabox')).toBe(existed);
    },
  );
});
