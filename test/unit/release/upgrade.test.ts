/**
 * `mfabox upgrade` on a temp root with fake releases (real tar and sha256): a healthy upgrade
 * switches `current` and keeps two releases; an unhealthy one rolls back; a bad checksum or a
 * non-release changes nothing.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, isMfaError } from '../../../firmware/src/errors.ts';
import { upgrade, type UpgradeDeps } from '../../../firmware/src/release/upgrade.ts';

let dir: string;
let home: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mfabox-upgrade-'));
  home = join(dir, 'opt/mfabox');
  mkdirSync(join(home, 'releases/1.0.0/scripts'), { recursive: true });
  writeFileSync(join(home, 'releases/1.0.0/scripts/mfabox.mjs'), '// 1.0.0\n');
  symlinkSync('releases/1.0.0', join(home, 'current'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A release tarball as scripts/build-release lays it out, with its .sha256. */
function fakeRelease(version: string, opts: { manifest?: boolean } = {}): string {
  const stage = join(dir, `stage-${version}`, `mfabox-${version}-linux-arm64`);
  mkdirSync(join(stage, 'scripts'), { recursive: true });
  writeFileSync(join(stage, 'scripts/mfabox.mjs'), `// ${version}\n`);
  if (opts.manifest !== false)
    writeFileSync(
      join(stage, 'manifest.json'),
      JSON.stringify({ name: 'mfabox', version, platform: `linux-${process.arch}` }),
    );
  const file = join(dir, `mfabox-${version}-linux-arm64.tar.gz`);
  execFileSync('tar', ['-czf', file, '-C', join(dir, `stage-${version}`), `mfabox-${version}-linux-arm64`]);
  const sum = createHash('sha256').update(readFileSync(file)).digest('hex');
  writeFileSync(`${file}.sha256`, `${sum}  mfabox-${version}-linux-arm64.tar.gz\n`);
  return file;
}

function deps(healthyAfter: number | 'never'): UpgradeDeps & { restarts: string[]; steps: string[] } {
  const restarts: string[] = [];
  // warm-ups and restarts in order, each with what `current` pointed at then
  const steps: string[] = [];
  let checks = 0;
  return {
    home,
    restarts,
    steps,
    warm: (releaseDir) => {
      steps.push(
        `warm ${releaseDir.slice(home.length + 1)} (current ${readlinkSync(join(home, 'current'))})`,
      );
      return Promise.resolve(`warmed ${releaseDir}`);
    },
    waitMs: 2000,
    pollMs: 10,
    sleep: () => new Promise((r) => setTimeout(r, 10)),
    restart: () => {
      steps.push(`restart ${readlinkSync(join(home, 'current'))}`);
      return Promise.resolve(void restarts.push(readlinkSync(join(home, 'current'))));
    },
    healthy: () => Promise.resolve(healthyAfter !== 'never' && ++checks > healthyAfter),
  };
}

const current = (): string => readlinkSync(join(home, 'current'));
const running = (): string => readFileSync(join(home, 'current/scripts/mfabox.mjs'), 'utf8').trim();

describe('mfabox upgrade', () => {
  it('switches current to the new release once it is healthy, keeping the previous one', async () => {
    const d = deps(2);
    const r = await upgrade(fakeRelease('1.1.0'), d);
    expect(r).toEqual({ from: '1.0.0', to: '1.1.0', removed: [] });
    expect(current()).toBe('releases/1.1.0');
    expect(running()).toBe('// 1.1.0');
    expect(d.restarts).toEqual(['releases/1.1.0']);
    expect(readdirSync(join(home, 'releases')).sort()).toEqual(['1.0.0', '1.1.0']);
  });

  it('rolls back to the previous release when the new one is not healthy in time', async () => {
    const d = deps('never');
    const err = await upgrade(fakeRelease('1.1.0'), d).catch((e: unknown) => e);
    expect(isMfaError(err, ErrorCode.UpgradeRolledBack)).toBe(true);
    expect(current()).toBe('releases/1.0.0');
    expect(running()).toBe('// 1.0.0');
    // restarted into the new release, then back into the old one
    expect(d.restarts).toEqual(['releases/1.1.0', 'releases/1.0.0']);
  });

  it('warms the new release after switching current and before the restart; the old one again on a rollback', async () => {
    const ok = deps(0);
    await upgrade(fakeRelease('1.1.0'), ok);
    expect(ok.steps).toEqual(['warm releases/1.1.0 (current releases/1.1.0)', 'restart releases/1.1.0']);
    const bad = deps('never');
    await upgrade(fakeRelease('1.2.0'), bad).catch(() => undefined);
    expect(bad.steps).toEqual([
      'warm releases/1.2.0 (current releases/1.2.0)',
      'restart releases/1.2.0',
      'warm releases/1.1.0 (current releases/1.1.0)',
      'restart releases/1.1.0',
    ]);
  });

  it('a warm-up that fails is one line and fails nothing', async () => {
    const lines: string[] = [];
    const d = {
      ...deps(0),
      say: (l: string) => lines.push(l),
      warm: () => Promise.reject(new Error('no room')),
    };
    const r = await upgrade(fakeRelease('1.1.0'), d);
    expect(r.to).toBe('1.1.0');
    expect(d.restarts).toEqual(['releases/1.1.0']);
    expect(lines.filter((l) => l.includes('not warmed'))).toEqual([
      'start caches of 1.1.0 not warmed: Error: no room',
    ]);
  });

  it('keeps two releases: a third upgrade removes the oldest', async () => {
    await upgrade(fakeRelease('1.1.0'), deps(0));
    const r = await upgrade(fakeRelease('1.2.0'), deps(0));
    expect(r.removed).toEqual(['1.0.0']);
    expect(readdirSync(join(home, 'releases')).sort()).toEqual(['1.1.0', '1.2.0']);
    expect(current()).toBe('releases/1.2.0');
  });

  it('refuses a tarball whose SHA-256 does not match, changing nothing', async () => {
    const file = fakeRelease('1.1.0');
    writeFileSync(`${file}.sha256`, `${'0'.repeat(64)}  x\n`);
    const d = deps(0);
    const err = await upgrade(file, d).catch((e: unknown) => e);
    expect(isMfaError(err, ErrorCode.ReleaseChecksumMismatch)).toBe(true);
    expect(current()).toBe('releases/1.0.0');
    expect(existsSync(join(home, 'releases/1.1.0'))).toBe(false);
    expect(d.restarts).toEqual([]);
    rmSync(`${file}.sha256`);
    expect(
      isMfaError(await upgrade(file, d).catch((e: unknown) => e), ErrorCode.ReleaseChecksumMismatch),
    ).toBe(true);
  });

  it('refuses a tarball that is not a release, and the running version without --force', async () => {
    const d = deps(0);
    const err = await upgrade(fakeRelease('2.0.0', { manifest: false }), d).catch((e: unknown) => e);
    expect(isMfaError(err, ErrorCode.ReleaseInvalid)).toBe(true);
    const same = await upgrade(fakeRelease('1.0.0'), d).catch((e: unknown) => e);
    expect(isMfaError(same, ErrorCode.ReleaseInvalid)).toBe(true);
    expect(d.restarts).toEqual([]);
    const forced = await upgrade(fakeRelease('1.0.0'), { ...d, force: true });
    expect(forced.to).toBe('1.0.0');
    expect(current()).toBe('releases/1.0.0');
  });
});
