/**
 * `mfabox upgrade FILE.tar.gz`: A/B on two release directories, like RAUC or Mender. Checks the
 * tarball against its .sha256, unpacks it beside the running release, switches the `current`
 * symlink atomically, restarts the service, and waits for the health model to say the box can
 * serve. Not healthy within the wait: `current` goes back to the previous release, which is
 * restarted, and the upgrade fails. Healthy: releases beyond the newest two are removed.
 * Before each restart the release about to start gets its start caches warmed (`warm`,
 * scripts/warm-cache.mjs), so neither the new release nor a rolled-back one starts cold.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, readdir, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ErrorCode, MfaError, describeError } from '../errors.ts';

export interface UpgradeDeps {
  /** /opt/mfabox: holds releases/ and the `current` symlink. */
  home: string;
  /** Restarts the service (default: systemctl restart mfabox). */
  restart(): Promise<void>;
  /**
   * Warms the start caches of the release in this directory (scripts/warm-cache.mjs), before
   * the restart that starts it; resolves to the line to show. A failure fails nothing.
   */
  warm?(releaseDir: string): Promise<string>;
  /** True once the restarted box reports healthy (the health model's verdict). */
  healthy(): Promise<boolean>;
  /** [1000...3600000] ms to wait for healthy before rolling back. */
  waitMs: number;
  /** [100...60000] ms between health checks. */
  pollMs?: number;
  /** Reinstall a version that is already there. */
  force?: boolean;
  say?(line: string): void;
  sleep?(ms: number): Promise<void>;
}

export interface UpgradeResult {
  from: string | undefined;
  to: string;
  removed: string[];
}

export interface ReleaseManifest {
  name: string;
  version: string;
  platform: string;
}

const run = (cmd: string, args: string[]): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args[0] ?? ''}: ${stderr.trim() || err.message}`)) : resolve(stdout),
    );
  });

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Checks FILE against FILE.sha256 (sha256sum format); throws ReleaseChecksumMismatch. */
export async function verifyChecksum(file: string): Promise<string> {
  let line: string;
  try {
    line = await readFile(`${file}.sha256`, 'utf8');
  } catch {
    throw new MfaError(
      `${file}.sha256 is missing: the release cannot be checked`,
      ErrorCode.ReleaseChecksumMismatch,
    );
  }
  const want = /^([0-9a-f]{64})\b/i.exec(line.trim())?.[1]?.toLowerCase();
  const have = await sha256File(file);
  if (want !== have)
    throw new MfaError(
      `${basename(file)} does not match its .sha256 (got ${have})`,
      ErrorCode.ReleaseChecksumMismatch,
    );
  return have;
}

export async function readManifest(tarball: string): Promise<ReleaseManifest> {
  let text: string;
  try {
    text = await run('tar', ['-xzf', tarball, '-O', '--wildcards', '*/manifest.json']);
  } catch (e) {
    throw new MfaError(
      `${basename(tarball)} is not a release tarball: ${describeError(e)}`,
      ErrorCode.ReleaseInvalid,
      {
        cause: e,
      },
    );
  }
  const m = JSON.parse(text) as Partial<ReleaseManifest>;
  if (m.name !== 'mfabox' || typeof m.version !== 'string' || !/^[\w.+-]+$/.test(m.version))
    throw new MfaError(
      `${basename(tarball)}: the manifest names no mfabox version`,
      ErrorCode.ReleaseInvalid,
    );
  if (
    m.platform !== undefined &&
    m.platform !== `linux-${process.arch}` &&
    process.env.MFABOX_UPGRADE_ANY_PLATFORM !== '1'
  )
    throw new MfaError(
      `${basename(tarball)} is for ${m.platform}, this box is linux-${process.arch}`,
      ErrorCode.ReleaseInvalid,
    );
  return { name: m.name, version: m.version, platform: m.platform ?? '' };
}

/** The version `current` points at (releases/<version>), if any. */
export async function currentVersion(home: string): Promise<string | undefined> {
  try {
    return basename(await readlink(join(home, 'current')));
  } catch {
    return undefined;
  }
}

/** Points `current` at releases/<version> atomically (a new link renamed over the old). */
export async function switchCurrent(home: string, version: string): Promise<void> {
  const tmp = join(home, `.current-${process.pid}`);
  await rm(tmp, { force: true });
  await symlink(join('releases', version), tmp);
  await rename(tmp, join(home, 'current'));
}

export async function upgrade(tarball: string, d: UpgradeDeps): Promise<UpgradeResult> {
  const say = (line: string): void => d.say?.(line);
  const warm = async (version: string): Promise<void> => {
    if (!d.warm) return;
    try {
      say(await d.warm(join(d.home, 'releases', version)));
    } catch (e) {
      // Only the first start's speed is lost.
      say(`start caches of ${version} not warmed: ${describeError(e)}`);
    }
  };
  const sleep = (ms: number): Promise<void> =>
    d.sleep ? d.sleep(ms) : new Promise<void>((r) => setTimeout(r, ms));
  const sum = await verifyChecksum(tarball);
  const manifest = await readManifest(tarball);
  const releases = join(d.home, 'releases');
  const from = await currentVersion(d.home);
  if (from === manifest.version && !d.force)
    throw new MfaError(
      `release ${manifest.version} is already running (pass --force to reinstall)`,
      ErrorCode.ReleaseInvalid,
    );
  say(`release ${manifest.version} (sha256 ${sum.slice(0, 16)}…), running ${from ?? 'none'}`);

  // Unpack beside the running release, then move into place: a half-unpacked tree is never `current`.
  const dest = join(releases, manifest.version);
  const staging = join(releases, `.${manifest.version}.unpacking`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', staging, '--strip-components=1', '--no-same-owner']);
  if (from !== manifest.version) await rm(dest, { recursive: true, force: true });
  else await rm(`${dest}.old`, { recursive: true, force: true }).then(() => rename(dest, `${dest}.old`));
  await rename(staging, dest);

  await switchCurrent(d.home, manifest.version);
  say(`switched current → releases/${manifest.version}`);
  await warm(manifest.version);
  say('restarting');
  await d.restart();

  const pollMs = d.pollMs ?? 5000;
  const deadline = Date.now() + d.waitMs;
  let ok: boolean;
  for (;;) {
    ok = await d.healthy().catch(() => false);
    if (ok || Date.now() >= deadline) break;
    await sleep(pollMs);
  }
  if (!ok) {
    if (from && from !== manifest.version) {
      await switchCurrent(d.home, from);
      say(`not healthy within ${Math.round(d.waitMs / 1000)} s: back to ${from}`);
      // The new release's warm-up replaced the old one's caches (one release's caches are kept).
      await warm(from);
      say('restarting');
      await d.restart();
    }
    throw new MfaError(
      `release ${manifest.version} was not healthy within ${Math.round(d.waitMs / 1000)} s; rolled back to ${from ?? 'nothing'}`,
      ErrorCode.UpgradeRolledBack,
    );
  }
  say(`release ${manifest.version} is healthy`);
  await rm(`${dest}.old`, { recursive: true, force: true });
  return { from, to: manifest.version, removed: await prune(d.home, [manifest.version, from]) };
}

/** Keeps the running release and the one before it (by install time); removes the rest. */
export async function prune(home: string, keep: (string | undefined)[]): Promise<string[]> {
  const dir = join(home, 'releases');
  const entries = (await readdir(dir)).filter((n) => !n.startsWith('.'));
  const withTimes = await Promise.all(
    entries.map(async (n) => ({ n, t: (await stat(join(dir, n))).mtimeMs })),
  );
  const kept = new Set(keep.filter((k): k is string => k !== undefined));
  for (const { n } of withTimes.sort((a, b) => b.t - a.t)) if (kept.size < 2) kept.add(n);
  const removed = entries.filter((n) => !kept.has(n));
  for (const n of removed) await rm(join(dir, n), { recursive: true, force: true });
  return removed.sort();
}
