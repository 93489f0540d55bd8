/**
 * The appliance path as README gives it, on this machine: scripts/build-release makes the Pi
 * tarball (every native module an aarch64 ELF, checked with file(1)); scripts/flash --rootfs
 * installs it into a temp directory as if it were a card; systemd-analyze verify passes on the
 * installed units; first boot (in the temp root) makes a key, a certificate and, with the web
 * admin store in the release, a password, and the service's start caches (code cache, validated
 * config); a second first boot changes nothing. `mfabox upgrade` warms the caches of the release
 * it switches to before restarting it, and those of the old one again when it rolls back.
 *
 * The warm-ups are real trial starts of the release's bundle (a few seconds each, 4 in this file,
 * which is why it runs longer than most). This x64 machine cannot load the release's aarch64
 * addons (LevelDB, serialport), so each release warmed here gets this checkout's node_modules
 * (same lockfile) first; the JavaScript that runs and is cached is the release's.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warmRelease } from '../../firmware/src/commands/upgrade.ts';
import { ErrorCode, isMfaError } from '../../firmware/src/errors.ts';
import { upgrade } from '../../firmware/src/release/upgrade.ts';
import { prepareVerifyRoot, systemdAnalyzeAvailable, verifyUnits } from '../helpers/systemd.ts';

const repo = resolve(import.meta.dirname, '../..');
const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const cross = existsSync('/usr/bin/aarch64-linux-gnu-g++');
const haveFile = existsSync('/usr/bin/file');
const aarch64Elf = '/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1';

let dir: string;
let tarball: string;
let nodeTarball: string;
let seed: string;

function flash(root: string, extra: string[] = []): { status: number | null; out: string } {
  const r = spawnSync(
    join(repo, 'scripts/flash'),
    ['--rootfs', root, '--node', nodeTarball, '--config', seed, '--release', tarball, ...extra],
    { encoding: 'utf8' },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Whether this host can loop-mount an image (root, loop devices, mount allowed). */
function canLoopMount(): boolean {
  if (process.getuid?.() !== 0 || !existsSync('/dev/loop-control')) return false;
  const probe = mkdtempSync(join(tmpdir(), 'mfabox-loop-probe-'));
  try {
    const img = join(probe, 'p.img');
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, 4 * 1024 * 1024);
    execFileSync('mkfs.ext4', ['-q', '-F', img], { stdio: 'pipe' });
    mkdirSync(join(probe, 'm'));
    execFileSync('mount', ['-o', 'loop,ro', img, join(probe, 'm')], { stdio: 'pipe' });
    execFileSync('umount', [join(probe, 'm')], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/** This machine's addons for a release's trial start (see the header); the aarch64 ones kept aside. */
function hostModules(release: string): void {
  const nm = join(release, 'node_modules');
  if (lstatSync(nm).isSymbolicLink()) return;
  renameSync(nm, `${nm}.aarch64`);
  symlinkSync(join(repo, 'node_modules'), nm);
}

/** The start caches in a card's /var/cache/mfabox: the code cache file and the validated config file. */
function startCaches(root: string): { code: string[]; config: string[] } {
  const d = join(root, 'var/cache/mfabox');
  const files = existsSync(d) ? readdirSync(d) : [];
  return {
    // The warm-up writes a trial one; the service's first start replaces it (scripts/code-cache.mjs).
    code: files.filter((f) => /^mfabox-code-[0-9a-f]{20}(\.trial)?\.v8$/.test(f)),
    config: files.filter((f) => /^mfabox-config-[0-9a-f]{32}\.json$/.test(f)),
  };
}

function listFiles(d: string): string[] {
  return readdirSync(d, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe.skipIf(!haveFile || !existsSync(aarch64Elf))('release, flash and first boot', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-release-'));
    execFileSync(
      join(repo, 'scripts/build-release'),
      ['--out', join(dir, 'dist'), ...(cross ? [] : ['--no-epoll'])],
      {
        stdio: 'pipe',
      },
    );
    tarball = join(dir, 'dist', `mfabox-${version}-linux-arm64.tar.gz`);
    // A stand-in for nodejs.org's node-vXX-linux-arm64.tar.xz: an aarch64 ELF as bin/node.
    const n = join(dir, 'node-src', 'node-v24.11.1-linux-arm64');
    mkdirSync(join(n, 'bin'), { recursive: true });
    mkdirSync(join(n, 'include/node'), { recursive: true });
    writeFileSync(join(n, 'bin/node'), readFileSync(aarch64Elf));
    chmodSync(join(n, 'bin/node'), 0o755);
    writeFileSync(join(n, 'include/node/node_version.h'), '#define NODE_MODULE_VERSION 137\n');
    nodeTarball = join(dir, 'node-v24.11.1-linux-arm64.tar.xz');
    execFileSync('tar', ['-cJf', nodeTarball, '-C', join(dir, 'node-src'), 'node-v24.11.1-linux-arm64']);
    seed = join(dir, 'seed.json');
    writeFileSync(
      seed,
      JSON.stringify({
        hostname: 'mfabox-test',
        network: { interface: 'eth0', address: '192.0.2.10/24', gateway: '192.0.2.1', dns: ['192.0.2.2'] },
        config: {
          radius: {
            clients: [{ name: 'netscaler', address: '192.0.2.20', secret: 'flash-test-shared-secret' }],
          },
          directory: {
            kind: 'ldap',
            urls: ['ldaps://dc1.corp.example:636'],
            baseDn: 'DC=corp,DC=example',
            bindDn: 'CN=svc-mfabox,OU=Service,DC=corp,DC=example',
            bindPassword: 'bind-password-for-test',
          },
          modems: [{ name: 'usb0', path: '/dev/mfabox-modem0' }],
          web: { port: 443 },
        },
      }),
    );
  }, 600_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('build-release writes the tarball, its SHA-256 and a manifest; every .node is an ARM aarch64 ELF', async () => {
    const sum = readFileSync(`${tarball}.sha256`, 'utf8').split(' ')[0];
    expect(sum).toBe(createHash('sha256').update(readFileSync(tarball)).digest('hex'));
    const manifest = JSON.parse(
      readFileSync(join(dir, 'dist', `mfabox-${version}-linux-arm64.manifest.json`), 'utf8'),
    ) as {
      version: string;
      native: { path: string }[];
      epoll: string;
    };
    expect(manifest.version).toBe(version);
    const unpacked = await mkdtemp(join(dir, 'unpacked-'));
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
    const natives = listFiles(unpacked).filter((f) => f.endsWith('.node'));
    const names = natives.map((f) => f.split('/').pop());
    expect(names).toContain('classic-level.armv8.node');
    expect(names.some((n) => n?.startsWith('@serialport+bindings-cpp'))).toBe(true);
    if (cross) expect(names).toContain('epoll.node');
    expect(natives.length).toBe(manifest.native.length);
    for (const f of natives)
      expect(execFileSync('file', ['-b', f], { encoding: 'utf8' }), f).toMatch(/ELF 64-bit.*ARM aarch64/);
    // The compiled firmware and the web page are in it; the TypeScript sources are not.
    const top = join(unpacked, `mfabox-${version}-linux-arm64`);
    expect(existsSync(join(top, 'dist/firmware/src/cli.js'))).toBe(true);
    expect(readdirSync(join(top, 'dist/web')).length).toBeGreaterThan(0);
    expect(existsSync(join(top, 'firmware'))).toBe(false);
  });

  it('flash --rootfs installs the release, Node, units, udev rules and the seeded config; SSH only if asked', async () => {
    const root = await mkdtemp(join(dir, 'card-'));
    const r = flash(root);
    expect(r.status, r.out).toBe(0);
    expect(readlinkSync(join(root, 'opt/mfabox/current'))).toBe(`releases/${version}`);
    expect(existsSync(join(root, 'opt/mfabox/current/dist/firmware/src/cli.js'))).toBe(true);
    expect(readlinkSync(join(root, 'usr/local/bin/node'))).toBe('/opt/mfabox/node/bin/node');
    expect(readlinkSync(join(root, 'usr/local/bin/mfabox'))).toBe('/opt/mfabox/current/scripts/mfabox.mjs');
    for (const u of ['mfabox.service', 'mfabox-firstboot.service']) {
      expect(existsSync(join(root, 'etc/systemd/system', u))).toBe(true);
      expect(lstatSync(join(root, 'etc/systemd/system/multi-user.target.wants', u)).isSymbolicLink()).toBe(
        true,
      );
    }
    expect(readdirSync(join(root, 'etc/udev/rules.d')).sort()).toEqual([
      '80-mfabox-modems.rules',
      '90-mfabox-leds.rules',
    ]);
    expect(readFileSync(join(root, 'usr/lib/sysusers.d/mfabox.conf'), 'utf8')).toMatch(/^u mfabox /m);
    const cfg = JSON.parse(readFileSync(join(root, 'etc/mfabox/config.json'), 'utf8')) as {
      dataDir: string;
      radius: { clients: { name: string }[] };
    };
    expect(cfg.dataDir).toBe('/var/lib/mfabox');
    expect(cfg.radius.clients[0]?.name).toBe('netscaler');
    expect(statSync(join(root, 'etc/mfabox/config.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(root, 'etc/hostname'), 'utf8')).toBe('mfabox-test\n');
    expect(
      readFileSync(join(root, 'etc/NetworkManager/system-connections/mfabox-eth0.nmconnection'), 'utf8'),
    ).toContain('address1=192.0.2.10/24,192.0.2.1');
    expect(readFileSync(join(root, 'etc/systemd/timesyncd.conf.d/50-mfabox.conf'), 'utf8')).toContain(
      'NTP=dc1.corp.example',
    );
    const configTxt = readFileSync(join(root, 'boot/config.txt'), 'utf8');
    expect(configTxt).toContain('dtoverlay=gpio-led,gpio=17,label=mfabox-app,trigger=none');
    expect(configTxt).toContain('label=mfabox-button');
    expect(existsSync(join(root, 'boot/ssh'))).toBe(false);
    // Flashing again (with --ssh) replaces the LED block instead of adding a second one.
    expect(flash(root, ['--ssh']).status).toBe(0);
    expect(existsSync(join(root, 'boot/ssh'))).toBe(true);
    expect(readFileSync(join(root, 'boot/config.txt'), 'utf8').match(/>>> mfabox/g)).toHaveLength(1);

    if (systemdAnalyzeAvailable) {
      prepareVerifyRoot(root, [], false);
      const v = verifyUnits(root, ['mfabox.service', 'mfabox-firstboot.service']);
      expect(v.problems, v.problems.join('\n')).toEqual([]);
      expect(v.status).toBe(0);
    }

    // First boot, in the card's tree.
    hostModules(join(root, 'opt/mfabox/releases', version));
    const firstBoot = (): string =>
      execFileSync(
        process.execPath,
        [join(root, 'opt/mfabox/current/scripts/first-boot.mjs'), '--root', root],
        {
          encoding: 'utf8',
        },
      );
    const out1 = firstBoot();
    const key = join(root, 'etc/mfabox/device.key');
    expect(readFileSync(key)).toHaveLength(32);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(existsSync(join(root, 'var/lib/mfabox/device.key'))).toBe(false);
    const cert = new X509Certificate(readFileSync(join(root, 'var/lib/mfabox/web-tls/cert.pem')));
    expect(cert.subject).toContain('CN=mfabox-test');
    expect(statSync(join(root, 'var/lib/mfabox/web-tls/key.pem')).mode & 0o777).toBe(0o600);
    const hasAdmins = existsSync(join(root, 'opt/mfabox/current/dist/firmware/src/web-api/admins.js'));
    if (hasAdmins) expect(out1).toMatch(/password: \S{10,}/);
    // web.port 443 in the seed: the service gets CAP_NET_BIND_SERVICE through a drop-in, and only then.
    expect(
      readFileSync(join(root, 'etc/systemd/system/mfabox.service.d/50-low-port.conf'), 'utf8'),
    ).toContain('AmbientCapabilities=CAP_NET_BIND_SERVICE');

    // The start caches, written by a trial start that never touched the card's data directory.
    expect(out1).toMatch(/warm: config validated and cached; code cache written/);
    const caches = startCaches(root);
    expect(caches.code).toHaveLength(1);
    expect(caches.code[0]).toMatch(/\.trial\.v8$/);
    expect(caches.config).toHaveLength(1);
    expect(statSync(join(root, 'var/cache/mfabox', caches.code[0] ?? '')).size).toBeGreaterThan(500_000);
    expect(readdirSync(join(root, 'var/lib/mfabox')).filter((f) => /^(CURRENT|LOCK|LOG)$/.test(f))).toEqual(
      [],
    );

    const snapshot = (): string =>
      listFiles(join(root, 'etc'))
        .concat(listFiles(join(root, 'var/lib/mfabox')))
        .concat(listFiles(join(root, 'var/cache/mfabox')))
        .sort()
        .map(
          (f) => `${f} ${statSync(f).mtimeMs} ${createHash('sha256').update(readFileSync(f)).digest('hex')}`,
        )
        .join('\n');
    const before = snapshot();
    const out2 = firstBoot();
    expect(out2).toContain('nothing to do');
    // V8 accepted the cache under the unit's flags, and the config came from its cache.
    expect(out2).toContain('warm: already warm');
    expect(out2).not.toMatch(/password:/);
    expect(snapshot()).toBe(before);
  }, 240_000);

  it('mfabox upgrade warms the new release before restarting it, and the old one again on a rollback', async () => {
    const root = await mkdtemp(join(dir, 'card-upgrade-'));
    expect(flash(root).status).toBe(0);
    const home = join(root, 'opt/mfabox');
    hostModules(join(home, 'releases', version));
    execFileSync(process.execPath, [join(home, 'current/scripts/first-boot.mjs'), '--root', root]);
    const atFirstBoot = startCaches(root).code;
    expect(atFirstBoot).toHaveLength(1);

    // The next release: the same build under another version (unpacked anew: another code cache key).
    const next = `${version}-next`;
    const stage = await mkdtemp(join(dir, 'next-'));
    execFileSync('tar', ['-xzf', tarball, '-C', stage]);
    const top = join(stage, `mfabox-${next}-linux-arm64`);
    renameSync(join(stage, `mfabox-${version}-linux-arm64`), top);
    const manifest = JSON.parse(readFileSync(join(top, 'manifest.json'), 'utf8')) as { version: string };
    writeFileSync(join(top, 'manifest.json'), JSON.stringify({ ...manifest, version: next }));
    const nextTarball = join(dir, `mfabox-${next}-linux-arm64.tar.gz`);
    execFileSync('tar', ['-czf', nextTarball, '-C', stage, `mfabox-${next}-linux-arm64`]);
    writeFileSync(
      `${nextTarball}.sha256`,
      `${createHash('sha256').update(readFileSync(nextTarball)).digest('hex')}  x\n`,
    );

    const config = join(root, 'etc/mfabox/config.json');
    /** What `current` and the cache directory held at each restart. */
    const restarts: { current: string; code: string[]; config: string[] }[] = [];
    const warmLines: string[] = [];
    const deps = (healthy: boolean): Parameters<typeof upgrade>[1] => ({
      home,
      waitMs: 1000,
      pollMs: 100,
      restart: () => {
        restarts.push({ current: readlinkSync(join(home, 'current')), ...startCaches(root) });
        return Promise.resolve();
      },
      healthy: () => Promise.resolve(healthy),
      warm: (releaseDir) => {
        hostModules(releaseDir);
        return warmRelease(releaseDir, config, ['--root', root]).then((l) => {
          warmLines.push(l);
          return l;
        });
      },
    });
    /** `mfabox warm` of the release `current` points at, as first boot runs it: "already warm" or not. */
    const warmAgain = (): string =>
      execFileSync(process.execPath, [join(home, 'current/scripts/warm-cache.mjs'), '--root', root], {
        encoding: 'utf8',
      }).trim();

    process.env.MFABOX_UPGRADE_ANY_PLATFORM = '1';
    try {
      // Not healthy: back to the first release, whose caches are warmed again before its restart.
      const err = await upgrade(nextTarball, deps(false)).catch((e: unknown) => e);
      expect(isMfaError(err, ErrorCode.UpgradeRolledBack)).toBe(true);
      expect(restarts.map((r) => r.current)).toEqual([`releases/${next}`, `releases/${version}`]);
      expect(warmLines).toHaveLength(2);
      for (const l of warmLines) expect(l).toMatch(/code cache written/);
      // One code cache at a time: the new release's replaced the old one's, then the reverse.
      expect(restarts[0]?.code).toHaveLength(1);
      expect(restarts[0]?.code).not.toEqual(atFirstBoot);
      expect(restarts[1]?.code).toEqual(atFirstBoot);
      for (const r of restarts) expect(r.config).toHaveLength(1);
      expect(warmAgain()).toBe('mfabox warm: already warm: nothing to do');

      // Healthy: the new release (unpacked again) runs, with its own caches made before its restart.
      restarts.length = 0;
      const r = await upgrade(nextTarball, deps(true));
      expect(r.to).toBe(next);
      expect(restarts.map((x) => x.current)).toEqual([`releases/${next}`]);
      expect(restarts[0]?.code).toHaveLength(1);
      expect(restarts[0]?.code).not.toEqual(atFirstBoot);
      expect(warmAgain()).toBe('mfabox warm: already warm: nothing to do');
    } finally {
      delete process.env.MFABOX_UPGRADE_ANY_PLATFORM;
    }
  }, 300_000);

  // Root with loop devices (this CI machine; a container without them skips, saying why).
  it.skipIf(!canLoopMount())(
    'flash --image writes into both partitions of an image file, found by its partition table',
    async () => {
      // A card image like Raspberry Pi OS Lite's: an MBR with a boot and a root partition. Both are
      // ext4 here (mkfs.vfat is not on every build host); flash mounts whatever the kernel detects.
      const img = join(dir, 'card.img');
      const boot = { start: 2048, sectors: 16_384 };
      const root = { start: 18_432, sectors: 1_048_576 }; // 512 MB, sparse
      writeFileSync(img, Buffer.alloc(0));
      truncateSync(img, (root.start + root.sectors) * 512);
      const mbr = Buffer.alloc(512);
      for (const [i, p, type] of [
        [0, boot, 0x0c],
        [1, root, 0x83],
      ] as const) {
        const e = 446 + 16 * i;
        mbr[e + 4] = type;
        mbr.writeUInt32LE(p.start, e + 8);
        mbr.writeUInt32LE(p.sectors, e + 12);
      }
      mbr[510] = 0x55;
      mbr[511] = 0xaa;
      const fd = openSync(img, 'r+');
      writeSync(fd, mbr, 0, 512, 0);
      closeSync(fd);
      for (const p of [boot, root])
        execFileSync('mkfs.ext4', [
          '-q',
          '-F',
          '-E',
          `offset=${p.start * 512}`,
          img,
          `${(p.sectors * 512) / 1024}k`,
        ]);

      const r = spawnSync(
        join(repo, 'scripts/flash'),
        ['--image', img, '--node', nodeTarball, '--config', seed, '--release', tarball],
        { encoding: 'utf8' },
      );
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      const mnt = await mkdtemp(join(dir, 'mnt-'));
      const look = (p: { start: number; sectors: number }, check: () => void): void => {
        execFileSync('mount', [
          '-o',
          `loop,ro,offset=${p.start * 512},sizelimit=${p.sectors * 512}`,
          img,
          mnt,
        ]);
        try {
          check();
        } finally {
          execFileSync('umount', [mnt]);
        }
      };
      look(root, () => {
        expect(readlinkSync(join(mnt, 'opt/mfabox/current'))).toBe(`releases/${version}`);
        expect(existsSync(join(mnt, 'etc/systemd/system/mfabox.service'))).toBe(true);
        expect(statSync(join(mnt, 'etc/mfabox/config.json')).mode & 0o777).toBe(0o600);
      });
      look(boot, () => {
        expect(readFileSync(join(mnt, 'config.txt'), 'utf8')).toContain('label=mfabox-app');
      });
      // Nothing stays mounted or attached after flash exits.
      expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(dir);
    },
    120_000,
  );

  it('flash refuses a seed config the release would refuse, naming the field, and writes no config', async () => {
    const root = await mkdtemp(join(dir, 'card-bad-'));
    const bad = join(dir, 'bad-seed.json');
    writeFileSync(
      bad,
      JSON.stringify({
        hostname: 'x',
        config: { radius: { clients: [{ name: 'ns', address: '10.0.0.1' }] } },
      }),
    );
    const r = spawnSync(
      join(repo, 'scripts/flash'),
      ['--rootfs', root, '--node', nodeTarball, '--config', bad, '--release', tarball],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('radius.clients.0.secret');
    expect(existsSync(join(root, 'etc/mfabox/config.json'))).toBe(false);
  });

  it('flash refuses a device that is not a block device, a mounted one, and a Node that is not arm64', async () => {
    const notBlock = spawnSync(
      join(repo, 'scripts/flash'),
      ['--device', join(dir, 'seed.json'), '--node', nodeTarball, '--config', seed, '--release', tarball],
      { encoding: 'utf8' },
    );
    expect(notBlock.status).toBe(1);
    expect(notBlock.stderr).toContain('is not a block device');
    const mounted = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .find((d) => d.startsWith('/dev/') && existsSync(d) && statSync(d).isBlockDevice());
    if (mounted) {
      const r = spawnSync(
        join(repo, 'scripts/flash'),
        ['--device', mounted, '--node', nodeTarball, '--config', seed, '--release', tarball, '--yes'],
        { encoding: 'utf8' },
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/refusing/);
    }
    const x64 = join(dir, 'node-x64');
    mkdirSync(join(x64, 'node-v24.11.1-linux-x64/bin'), { recursive: true });
    writeFileSync(join(x64, 'node-v24.11.1-linux-x64/bin/node'), readFileSync(process.execPath));
    chmodSync(join(x64, 'node-v24.11.1-linux-x64/bin/node'), 0o755);
    execFileSync('tar', ['-cf', join(dir, 'node-x64.tar'), '-C', x64, 'node-v24.11.1-linux-x64']);
    const root = await mkdtemp(join(dir, 'card-x64-'));
    const r = spawnSync(
      join(repo, 'scripts/flash'),
      ['--rootfs', root, '--node', join(dir, 'node-x64.tar'), '--config', seed, '--release', tarball],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('is not a linux-arm64 Node');
  });
});
