/**
 * A fresh machine with Node and npm but no compiler: `npm ci` succeeds (onoff, whose epoll needs
 * node-gyp, is optional) and prints no engine warning on this Node. The compilers are hidden in
 * a private mount namespace, so this needs root and util-linux `unshare` (CI runs as root).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const canHide = process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0;

describe('npm ci on a machine without a compiler', () => {
  it('lists onoff as optional, so its native build may fail', () => {
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    expect(pkg.dependencies.onoff).toBeUndefined();
    expect(pkg.optionalDependencies?.onoff).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it.skipIf(!canHide)(
    'installs everything else and prints no EBADENGINE warning',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mfabox-npmci-'));
      try {
        cpSync(join(repo, 'package.json'), join(dir, 'package.json'));
        cpSync(join(repo, 'package-lock.json'), join(dir, 'package-lock.json'));
        const hide = ['gcc', 'g++', 'cc', 'c++', 'make', 'clang']
          .map((b) => `p=$(command -v ${b}) && mount --bind /dev/null "$p"; `)
          .join('');
        const r = spawnSync(
          'unshare',
          [
            '-m',
            'bash',
            '-c',
            `${hide}cc --version >/dev/null 2>&1 && exit 99; npm ci --prefer-offline --no-audit --no-fund`,
          ],
          { cwd: dir, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'warn' } },
        );
        const out = `${r.stdout}${r.stderr}`;
        expect(r.status, out).toBe(0);
        expect(out).not.toMatch(/EBADENGINE|Unsupported engine/);
        expect(existsSync(join(dir, 'node_modules/fastify/package.json'))).toBe(true);
        expect(existsSync(join(dir, 'node_modules/classic-level/package.json'))).toBe(true);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    240_000,
  );
});
