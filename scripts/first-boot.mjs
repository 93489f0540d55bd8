#!/usr/bin/env node
// First boot of a flashed MFA Box (run by mfabox-firstboot.service, as root). Fills in what is
// missing and nothing else, so a second run changes nothing:
//   - the device key, 32 random bytes at /etc/mfabox/device.key (0600, user mfabox): outside
//     the data directory, so a copy of /var/lib/mfabox alone decrypts nothing;
//   - the web page's self-signed TLS certificate (dataDir/web-tls/, where the web server looks);
//   - the first admin password, printed once (console and journal), if this release has the
//     web admin store;
//   - /etc/mfabox and the data directory owned by the service user;
//   - the CAP_NET_BIND_SERVICE drop-in only when the config uses a port under 1024;
//   - the start caches (warm-cache.mjs: V8 code cache, validated config) in /var/cache/mfabox, as
//     the service user, so the service's first start is not a cold one. A warm-up that cannot
//     run prints one line and first boot goes on: the first start then does that work itself.
// Usage: first-boot.mjs [--root DIR]   (DIR: a mounted card or a test tree; default /)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { warmCaches } from './warm-cache.mjs';

const { values } = parseArgs({
  options: { root: { type: 'string', default: '/' }, help: { type: 'boolean' } },
});
if (values.help) {
  console.log('Usage: first-boot.mjs [--root DIR]');
  process.exit(0);
}
const root = values.root;
const R = (p) => join(root, p);
const release = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (s) => console.log(`mfabox first boot: ${s}`);

const configPath = R('/etc/mfabox/config.json');
if (!existsSync(configPath)) {
  console.error(
    `mfabox first boot: ${configPath} is missing; flash the card with scripts/flash --config seed.json`,
  );
  process.exit(1);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const dataDir = R(config.dataDir ?? '/var/lib/mfabox');
const keyPath = R(config.deviceKeyFile ?? '/etc/mfabox/device.key');
const changed = [];

// The service user, when this runs on the box itself (sysusers created it before this unit).
let owner;
if (root === '/' && process.getuid?.() === 0) {
  try {
    owner = {
      uid: Number(execFileSync('id', ['-u', 'mfabox'], { encoding: 'utf8' })),
      gid: Number(execFileSync('id', ['-g', 'mfabox'], { encoding: 'utf8' })),
    };
  } catch {
    say('user mfabox does not exist yet (systemd-sysusers); files stay owned by root');
  }
}
const own = (p) => owner && chownSync(p, owner.uid, owner.gid);

/** Writes a new file atomically and never over an existing one (link fails if it exists). */
function createExclusive(path, data, mode) {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } finally {
    unlinkSync(tmp);
  }
  own(path);
}

// 1. Device key.
if (!existsSync(keyPath)) {
  createExclusive(keyPath, randomBytes(32), 0o600);
  changed.push(`device key ${config.deviceKeyFile ?? '/etc/mfabox/device.key'}`);
}

// 2. TLS certificate for the web page, for the box's hostname.
mkdirSync(dataDir, { recursive: true, mode: 0o700 });
const tlsDir = join(dataDir, 'web-tls');
const certFile = join(tlsDir, 'cert.pem');
const keyFile = join(tlsDir, 'key.pem');
if (!existsSync(certFile) && !existsSync(keyFile)) {
  const host = existsSync(R('/etc/hostname'))
    ? readFileSync(R('/etc/hostname'), 'utf8').trim() || 'mfabox'
    : 'mfabox';
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const tmpKey = `${keyFile}.tmp`;
  const tmpCert = `${certFile}.tmp`;
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '3650',
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=DNS:${host},DNS:${host}.local`,
      '-keyout',
      tmpKey,
      '-out',
      tmpCert,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  chmodSync(tmpKey, 0o600);
  writeFileSync(keyFile, readFileSync(tmpKey), { mode: 0o600, flag: 'wx' });
  writeFileSync(certFile, readFileSync(tmpCert), { mode: 0o644, flag: 'wx' });
  rmSync(tmpKey);
  rmSync(tmpCert);
  changed.push(`TLS certificate for ${host}`);
}

// 3. The first admin password, if this release has the web admin store and no admin exists yet.
const adminsModule = join(release, 'dist/firmware/src/web-api/admins.js');
if (existsSync(adminsModule)) {
  const admins = await import(pathToFileURL(adminsModule).href);
  const file = admins.adminsFile(dataDir);
  if (!existsSync(file)) {
    const { username, password } = await admins.resetAdminPassword({ dataDir });
    changed.push(`admin ${username}`);
    // Printed once, to the console and the journal (the unit sends stdout to both).
    console.log(
      `\n  MFA Box web admin: user "${username}", password: ${password}\n  (shown once; change it after the first login)\n`,
    );
  }
} else {
  say('this release has no web admin store yet: no admin password to create');
}

// 4. Ownership: the service reads its config and key and owns its data.
if (owner) {
  for (const p of [R('/etc/mfabox'), configPath, keyPath]) if (existsSync(p)) own(p);
  const walk = (d) => {
    own(d);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else own(join(d, e.name));
    }
  };
  walk(dataDir);
}

// 5. CAP_NET_BIND_SERVICE only for a configured port under 1024 (the unit grants none).
const ports = [
  config.web?.port,
  config.radius?.accountingPort,
  ...(config.radius?.listen ?? []).map((l) => l.port),
];
const low = ports.filter((p) => typeof p === 'number' && p > 0 && p < 1024);
const dropIn = R('/etc/systemd/system/mfabox.service.d/50-low-port.conf');
const want = low.length
  ? `# Written by first-boot.mjs: the config uses port(s) ${low.join(', ')}, under 1024.\n[Service]\nAmbientCapabilities=CAP_NET_BIND_SERVICE\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n`
  : undefined;
const have = existsSync(dropIn) ? readFileSync(dropIn, 'utf8') : undefined;
if (want !== have) {
  if (want) {
    mkdirSync(dirname(dropIn), { recursive: true });
    writeFileSync(dropIn, want);
  } else rmSync(dropIn);
  changed.push(want ? `CAP_NET_BIND_SERVICE for port ${low.join(', ')}` : 'CAP_NET_BIND_SERVICE removed');
  if (root === '/') execFileSync('systemctl', ['daemon-reload']);
}

// 6. The start caches, last: the trial start reads what the steps above made (the certificate).
const warm = warmCaches({ root, release, config: configPath });
say(warm.line.replace(/^mfabox:? ?/, ''));
if (warm.ok && / written /.test(warm.line)) changed.push('start caches');

const done = join(dataDir, '.first-boot-done');
if (!existsSync(done)) {
  writeFileSync(done, `${new Date().toISOString()}\n`);
  own(done);
}
say(changed.length ? `done: ${changed.join('; ')}` : 'nothing to do (already set up)');
